"""What MobilePoseNet would gain from a sub-pixel LPB upsampling.

Usage::

    python tools/benchmarks/lpb_upsample.py [--rounds 40] [--threads 1]

ONNX Runtime spends a quarter of MobilePoseNet's time in the LPBs'
depthwise 4x4 stride-2 transposed convolutions (``ort_profile.py``), which
it runs one channel at a time. This prototype rewrites the exported graph
(random weights, BatchNorm statistics from a forward pass) into an
equivalent sub-pixel form and times both, float and INT8, interleaved:

- each output phase ``(a, b)`` of the transposed convolution (output rows
  ``2m + a``, columns ``2n + b``) is a depthwise 2x2 convolution of the
  input, with the BatchNorm folded;
- the four phases lie side by side along the width through the pointwise
  layers that follow (1x1 convs, ReLU, SE, whose global average does not
  change, the residual add), and are interleaved once: at the first LPB's
  output, and for the last LPB after the 17-channel final layer.

The outputs must stay equal (relative error printed). This is a measurement
for the LPB's owners, not a deploy path: the same form belongs in the LPB
module as a deploy form.
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import List, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401
from mmpose_light.benchmarking import (SAMPLE_DIR, build_model,  # noqa: E402
                                       compare_latency, export_model,
                                       ort_call, ort_session, print_table)

MODEL = 'MobilePoseNet-256x192'
LPB = '/deconv_layers/deconv_layers.{}'
# kernel taps of output phase 0 and 1 along one axis, for input offsets
# (-1, 0) and (0, +1): y[2m] = x[m-1] w[3] + x[m] w[1],
# y[2m+1] = x[m] w[2] + x[m+1] w[0]
TAPS = {0: (3, 1), 1: (2, 0)}


def _constants(graph) -> dict:
    """Initializers, Constant outputs and Identity aliases, as arrays."""
    from onnx import numpy_helper
    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for node in graph.node:
        if node.op_type == 'Constant':
            values[node.output[0]] = numpy_helper.to_array(
                node.attribute[0].t)
        elif node.op_type == 'Identity' and node.input[0] in values:
            values[node.output[0]] = values[node.input[0]]
    return values


def to_sub_pixel(model, prefix: str, interleave_at: str) -> None:
    """Rewrite one LPB's upsampling in ``model`` (an ONNX ModelProto), in
    place; ``interleave_at`` is the tensor to give back its 2H x 2W
    layout."""
    from onnx import helper, numpy_helper
    graph = model.graph
    values = _constants(graph)
    nodes = {node.name: node for node in graph.node}
    names = [
        f'{prefix}/upsample_conv/conv/ConvTranspose',
        f'{prefix}/upsample_conv/bn/BatchNormalization',
        f'{prefix}/upsample_conv/activate/Relu'
    ]
    missing = [name for name in names if name not in nodes]
    if missing:
        raise ValueError(f'the graph has no {missing}: the LPB layout this '
                         'prototype expects has changed')
    deconv, bn, relu = (nodes[name] for name in names)
    weight = values[deconv.input[1]][:, 0]
    channels = len(weight)
    bias = (values[deconv.input[2]]
            if len(deconv.input) > 2 else np.zeros(channels, np.float32))
    gamma, beta, mean, var = (values[name] for name in bn.input[1:])
    eps = next(a.f for a in bn.attribute if a.name == 'epsilon')
    scale = gamma / np.sqrt(var + eps)
    weight = weight * scale[:, None, None]
    bias = (bias - mean) * scale + beta

    phase_nodes, phases = [], []
    for a in (0, 1):
        for b in (0, 1):
            kernel = weight[:, TAPS[a]][:, :, TAPS[b]][:, None]
            name = f'{prefix}/phase_{a}{b}'
            graph.initializer.extend([
                numpy_helper.from_array(kernel.astype(np.float32),
                                        name + '/w'),
                numpy_helper.from_array(bias.astype(np.float32), name + '/b')
            ])
            phase_nodes += [
                helper.make_node(
                    'Conv', [deconv.input[0], name + '/w', name + '/b'],
                    [name + '/conv'],
                    name=name + '/conv',
                    group=channels,
                    kernel_shape=[2, 2],
                    pads=[1 - a, 1 - b, a, b]),
                helper.make_node(
                    'Relu', [name + '/conv'], [name + '/relu'],
                    name=name + '/relu')
            ]
            phases.append(name + '/relu')
    # the four phases side by side along the width: (N, C, H, 4W)
    phase_nodes.append(
        helper.make_node(
            'Concat', phases, [relu.output[0]], name=prefix + '/phases',
            axis=3))

    # (N, C, H, [a, b, W]) -> (N, C, [H, a], [W, b])
    side = interleave_at + '/side_by_side'
    graph.initializer.extend([
        numpy_helper.from_array(
            np.array([0, 0, 0, 2, 2, -1], np.int64), prefix + '/6d'),
        numpy_helper.from_array(np.array([1, 1, 2, 1], np.int64),
                                prefix + '/hx2'),
        numpy_helper.from_array(np.array([1, 1, 1, 2], np.int64),
                                prefix + '/w/2')
    ])
    interleave = [
        helper.make_node('Reshape', [side, prefix + '/6d'], [side + '/6d'],
                         name=prefix + '/to6d'),
        helper.make_node('Transpose', [side + '/6d'], [side + '/t'],
                         name=prefix + '/interleave',
                         perm=[0, 1, 2, 3, 5, 4]),
        helper.make_node('Shape', [side], [side + '/shape'],
                         name=prefix + '/shape'),
        helper.make_node('Mul', [side + '/shape', prefix + '/hx2'],
                         [side + '/shape2'], name=prefix + '/hx2'),
        helper.make_node('Div', [side + '/shape2', prefix + '/w/2'],
                         [side + '/shape3'], name=prefix + '/w/2'),
        helper.make_node('Reshape', [side + '/t', side + '/shape3'],
                         [interleave_at], name=prefix + '/to4d'),
    ]
    kept: List = []
    for node in graph.node:
        if node.name in names:
            continue
        if interleave_at in node.output:
            node.output[list(node.output).index(interleave_at)] = side
        kept.append(node)
        if deconv.input[0] in node.output:
            kept += phase_nodes
        if side in node.output:
            kept += interleave
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in graph.node for name in node.input}
    unused = [i for i in graph.initializer if i.name not in used]
    for init in unused:
        graph.initializer.remove(init)


def main(argv: Optional[Sequence[str]] = None) -> int:
    import onnx

    from mmpose_light_runtime.quantize import quantize_model
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rounds', type=int, default=40)
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    model, hw = build_model(MODEL, calibrate=True)
    with tempfile.TemporaryDirectory() as folder:
        files = {'transposed conv': osp.join(folder, 'mpn.onnx'),
                 'sub-pixel': osp.join(folder, 'mpn_sub_pixel.onnx')}
        export_model(model, hw, files['transposed conv'])
        graph = onnx.load(files['transposed conv'])
        heatmaps = graph.graph.output[0].name
        to_sub_pixel(graph, LPB.format(1), heatmaps)
        to_sub_pixel(graph, LPB.format(0), LPB.format(0) + '/Add_output_0')
        onnx.checker.check_model(graph)
        onnx.save(graph, files['sub-pixel'])
        for form in list(files):
            files[form + ' INT8'] = files[form][:-5] + '_int8.onnx'
            quantize_model(files[form], files[form + ' INT8'],
                           osp.join(SAMPLE_DIR, 'mpii'))
        x = np.random.default_rng(0).normal(size=(2, 3, *hw))
        x = x.astype(np.float32)
        sessions = {k: ort_session(f, args.threads) for k, f in files.items()}
        outputs = {k: s.run(None, {'input': x})[0]
                   for k, s in sessions.items()}
        times = compare_latency(
            {k: ort_call(s, x[:1]) for k, s in sessions.items()},
            rounds=args.rounds,
            threads=args.threads)
    ref = times['transposed conv']
    print(f'\n{MODEL}, ONNX Runtime, batch 1, {args.threads} thread(s), '
          f'median ms of {args.rounds} interleaved rounds (this run only)')
    base = outputs['transposed conv']
    err = np.abs(outputs['sub-pixel'] - base).max() / np.abs(base).max()
    print_table(('upsampling', 'ms', 'x'),
                [(form, f'{ms:.2f}', f'{ref / ms:.2f}')
                 for form, ms in times.items()])
    print('x: transposed-conv float ms / ms. The sub-pixel form gives the '
          f'same heatmaps: relative error {err:.1e} (max |difference| / '
          'max |heatmap|). INT8 accuracy: tools/quantize.py on a trained '
          'model.')
    return 0


if __name__ == '__main__':
    sys.exit(main())

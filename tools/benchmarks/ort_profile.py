"""Where ONNX Runtime's time goes: op types and layers against their FLOPs.

Usage::

    python tools/benchmarks/ort_profile.py [--models NAME ...] [--runs 30]
        [--threads 1] [--int8] [--top 8] [--batches 1 2 4 5 10 20]

Each model of ``benchlib``'s table is exported to ONNX
(random weights, BatchNorm statistics from a forward pass), optionally
quantized to INT8 as ``tools/quantize.py`` does (calibration: the MPII
sample's whole frames), and run ``--runs`` times at batch 1 with ONNX
Runtime's profiler on. Kernel times are summed per operator type (after
ONNX Runtime's graph optimisations: ``FusedConv``, NCHWc ``Reorder*``,
``QLinearConv``, ...) and per layer, beside the share of the network's
multiply-adds each holds, counted from the ONNX graph's shapes: an op type
with a much larger share of the time than of the multiply-adds is where the
fraction of the matmul peak is lost.

With ``--batches``, each model's network is also timed per crop at those
batch sizes, interleaved (:func:`benchlib.compare_latency`, ``--runs``
rounds): how much a batch saves over one crop at a time.
"""
import argparse
import collections
import json
import os
import os.path as osp
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401
from benchlib import (MODELS_TABLE, SAMPLE_DIR,  # noqa: E402
                      build_model, compare_latency, export_model, fmt,
                      ort_call, ort_session, print_table)
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

WEIGHTED = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')


def node_macs(onnx_file: str) -> Dict[str, int]:
    """Multiply-adds of each weighted node at batch 1, by node name."""
    import onnx
    model = onnx.load(onnx_file)
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    dim.ClearField('dim_param')
    dim.dim_value = 1
    model = onnx.shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(model.graph.value_info) + list(model.graph.output) +
        list(model.graph.input)
    }
    shapes.update({i.name: list(i.dims) for i in model.graph.initializer})
    macs = {}
    for node in model.graph.node:
        if node.op_type not in WEIGHTED:
            continue
        weight = shapes.get(node.input[1])
        out = shapes.get(node.output[0])
        if not weight or not out:
            continue
        if node.op_type == 'Conv':
            count = np.prod(out) * np.prod(weight[1:])
        elif node.op_type == 'ConvTranspose':
            # every input element meets the whole kernel of its group
            count = np.prod(shapes[node.input[0]]) * np.prod(weight[1:])
        elif node.op_type == 'Gemm':
            trans_b = any(a.name == 'transB' and a.i for a in node.attribute)
            count = np.prod(out) * weight[1 if trans_b else 0]
        else:
            count = np.prod(out) * weight[-2]
        macs[node.name] = int(count)
    # NCHWc nodes are named after the original node's output
    macs.update({
        node.output[0] + '_nchwc': macs[node.name]
        for node in model.graph.node if node.name in macs
    })
    return macs


def profile(onnx_file: str, runs: int, threads: int) -> dict:
    """Kernel microseconds per node over ``runs`` batch-1 runs (the
    profiler's trace file is removed)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    options.profile_file_prefix = osp.splitext(onnx_file)[0] + '_profile'
    session = ort.InferenceSession(
        onnx_file, options, providers=['CPUExecutionProvider'])
    shape = [1] + list(session.get_inputs()[0].shape[1:])
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    feed = {session.get_inputs()[0].name: x}
    for _ in range(runs):
        session.run(None, feed)
    trace = session.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    nodes: Dict[str, float] = collections.defaultdict(float)
    op_type, model_runs = {}, []
    for event in events:
        if event.get('cat') == 'Session' and event['name'] == 'model_run':
            model_runs.append(event['dur'])
        if event.get('cat') != 'Node' or \
                not event['name'].endswith('_kernel_time'):
            continue
        name = event['name'][:-len('_kernel_time')]
        nodes[name] += event['dur'] / runs
        op_type[name] = event['args']['op_name']
    return dict(nodes=nodes, op_type=op_type,
                run_ms=float(np.median(model_runs)) / 1e3)


def time_batches(onnx_file: str, batches: Sequence[int], rounds: int,
                 threads: int) -> Dict[int, float]:
    """Median milliseconds per crop of the network at each batch size,
    timed interleaved."""
    session = ort_session(onnx_file, threads)
    shape = list(session.get_inputs()[0].shape[1:])
    rng = np.random.default_rng(0)
    times = compare_latency(
        {
            batch: ort_call(session,
                            rng.normal(size=[batch] + shape).astype(
                                np.float32))
            for batch in batches
        },
        rounds=rounds,
        threads=threads)
    return {batch: ms / batch for batch, ms in times.items()}


def macs_of(name: str, macs: Dict[str, int]) -> int:
    """The multiply-adds of a profiled node (QLinear nodes carry the
    original name before a ``_token`` suffix)."""
    return macs.get(name, macs.get(name.split('_token')[0], 0))


def layer_of(name: str, depth: int) -> str:
    """The module path of a node, ``depth`` levels deep; ``'(layout)'`` for
    the layout conversions ONNX Runtime inserts."""
    parts = name.strip('/').split('/')
    if len(parts) == 1:
        return '(layout)' if name.startswith('Reorder') else name
    return '/'.join(parts[:min(depth, len(parts) - 1)])


def report(name: str, result: dict, macs: Dict[str, int], top: int) -> None:
    nodes, op_type = result['nodes'], result['op_type']
    total_us = sum(nodes.values())
    total_macs = sum(v for k, v in macs.items() if not k.endswith('_nchwc'))
    print(f'\n{name}: {result["run_ms"]:.2f} ms per run (median); kernels '
          f'{total_us / 1e3:.2f} ms; {total_macs / 1e6:.0f} M multiply-adds')
    by_type: Dict[str, List[float]] = collections.defaultdict(
        lambda: [0., 0])
    by_layer: Dict[str, List[float]] = collections.defaultdict(
        lambda: [0., 0])
    for node, us in nodes.items():
        count = macs_of(node, macs)
        for table, key in ((by_type, op_type[node]),
                           (by_layer, layer_of(node, 2))):
            table[key][0] += us
            table[key][1] += count
    for title, table, limit in (('op type', by_type, None),
                                ('layer', by_layer, top)):
        rows = sorted(table.items(), key=lambda kv: -kv[1][0])[:limit]
        print_table((title, 'time', 'multiply-adds', 'ms', 'GMAC/s'), [
            (key, f'{us / total_us:.1%}', f'{count / total_macs:.1%}',
             f'{us / 1e3:.2f}',
             fmt(count / us / 1e3 if count else None, '.1f'))
            for key, (us, count) in rows
        ])


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS_TABLE),
        default=['MobilePoseNet-256x192-deploy', 'RTMPose-t'],
        metavar='NAME',
        help='models (default: MobilePoseNet-256x192-deploy RTMPose-t)')
    parser.add_argument('--runs', type=int, default=30)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--top', type=int, default=8,
                        help='layers listed per model (default: 8)')
    parser.add_argument('--int8', action='store_true',
                        help='profile the INT8 models instead')
    parser.add_argument('--batches', type=int, nargs='+', default=[],
                        help='also time the network per crop at these '
                        'batch sizes (default: none)')
    args = parser.parse_args(argv)
    if any(batch < 1 for batch in args.batches):
        parser.error(f'--batches should be positive, not {args.batches}')
    print(format_cpu_info(threads=args.threads))
    print(f'ONNX Runtime profiler, batch 1, {args.threads} thread(s), '
          f'{args.runs} runs; GMAC/s: the layer\'s multiply-adds per second '
          'of its kernels')
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            model, hw = build_model(name, calibrate=True)
            path = osp.join(folder, f'{name}.onnx')
            export_model(model, hw, path)
            macs = node_macs(path)
            if args.int8:
                from mmpose_light_runtime.quantize import quantize_model
                int8 = osp.join(folder, f'{name}_int8.onnx')
                quantize_model(path, int8, osp.join(SAMPLE_DIR, 'mpii'))
                path = int8
            report(name + (' INT8' if args.int8 else ''),
                   profile(path, args.runs, args.threads), macs, args.top)
            if args.batches:
                per_crop = time_batches(path, args.batches, args.runs,
                                        args.threads)
                print()
                print_table(('batch', 'ms per crop', 'vs batch 1'), [
                    (str(batch), f'{ms:.2f}',
                     fmt(ms / per_crop[1] if 1 in per_crop else None,
                         '.2f')) for batch, ms in per_crop.items()
                ])
    return 0


if __name__ == '__main__':
    sys.exit(main())

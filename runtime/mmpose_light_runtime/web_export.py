"""Rewrite the runtime's ONNX files for ONNX Runtime Web (WASM).

``python -m mmpose_light_runtime.web_export IN.onnx --out OUT.onnx`` takes
an ONNX file written by ``tools/export_onnx.py`` (a pose model) or
``tools/export_detector.py`` (a person detector) and writes the same model
in the form that runs fastest in onnxruntime-web's WebAssembly backend, with
the same metadata, once ONNX Runtime (native) has shown that its outputs are
those of the original (:func:`check_rewrite`); otherwise it fails and writes
nothing.

What the rewrite changes (:func:`rewrite_for_web`): in WebAssembly, ONNX
Runtime computes depthwise convolutions one channel at a time (a scalar 3x3
kernel, or an image-to-column copy and a one-row matrix product), so their
time grows with the number of kernel taps, about ten times native ONNX
Runtime's per tap where matrix products are about four times. MobilePoseNet's
deployed LPB computes each of the four output phases of its 4x4 transposed
convolution with a 3x3 depthwise convolution of which only 2x2 taps are
non-zero (:mod:`mmpose_light.models.layers.lpb`: one padding serves every
phase). :func:`crop_zero_taps` cuts such kernels down to their non-zero taps
and moves the padding accordingly: the same sums without the products by
zero, so the outputs do not change (native ONNX Runtime gives the same
values bit for bit on our exports), while WASM runs the model 7-8% faster
in Node and 1-4% faster in the page (docs/web.md). In practice, the
convolutions of trained or re-parameterized networks have no kernel row or
column that is zero in every channel, so other models (RTMPose, RepNet)
come out unchanged.

Other rewrites were measured on MobilePoseNet and left out, as they gain
nothing in WASM or lose: the rank-4 ``DepthToSpace`` form of the LPB's
phase interleave
(:func:`~mmpose_light_runtime.ncnn_export.rewrite_for_ncnn`: the same), the
plain depthwise ``ConvTranspose`` (slower), one depthwise convolution with
four filters per channel for the four phases (slower), taps as ``Slice``/
``Mul``/``Add`` (slower), ``MatMul`` in NHWC for the 1x1 convolutions (the
same), ONNX Runtime Web's memory arena and graph optimization levels (the
same).
"""
import argparse
import copy
import os
import os.path as osp
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .fileio import AtomicFile
from .meta import (_import_onnx, parse_detector_meta, parse_meta,
                   read_onnx_meta)
from .ncnn_export import _constant

__all__ = [
    'RewriteError', 'TOLERANCE', 'KEYPOINT_TOLERANCE_PX', 'crop_zero_taps',
    'rewrite_for_web', 'check_rewrite', 'export_web', 'main'
]

#: The check's bound on every output: ``max|rewritten - original|`` at most
#: this times ``max(1, max|original|)``.
TOLERANCE = 1e-5
#: The check's bound on the decoded keypoints of pose models, in pixels of
#: the network input.
KEYPOINT_TOLERANCE_PX = 1e-3


class RewriteError(RuntimeError):
    """The rewritten model's outputs differ from the original's."""


def _attribute(node, name: str):
    for attr in node.attribute:
        if attr.name == name:
            return attr
    return None


def _set_ints(node, name: str, values: Sequence[int]) -> None:
    from onnx import helper
    old = _attribute(node, name)
    if old is not None:
        node.attribute.remove(old)
    node.attribute.append(
        helper.make_attribute(name, [int(v) for v in values]))


def crop_zero_taps(model) -> int:
    """Cut the kernels of ``Conv`` nodes down to their non-zero taps, in
    place.

    A leading (trailing) kernel row or column that is zero in every filter
    adds nothing but reads the padding: it is dropped and the leading
    (trailing) padding of that axis lowered by one, as long as there is
    padding left. The output shape and values stay the same for any stride;
    convolutions with dilation, ``auto_pad`` or a weight that is not a
    constant are left alone.

    Args:
        model (onnx.ModelProto): The model.

    Returns:
        int: The number of convolutions cut.
    """
    from onnx import numpy_helper

    graph = model.graph
    cut = 0
    orphans = set()
    for node in graph.node:
        if node.op_type != 'Conv' or len(node.input) < 2:
            continue
        weight = _constant(model, node.input[1])
        if weight is None or weight.ndim < 3:
            continue
        auto_pad = _attribute(node, 'auto_pad')
        if auto_pad is not None and auto_pad.s not in (b'', b'NOTSET'):
            continue
        dilations = _attribute(node, 'dilations')
        if dilations is not None and any(d != 1 for d in dilations.ints):
            continue
        spatial = weight.ndim - 2
        pads_attr = _attribute(node, 'pads')
        pads = list(pads_attr.ints) if pads_attr is not None \
            else [0] * (2 * spatial)
        nonzero = weight != 0
        if not nonzero.any():
            continue
        slices = [slice(None), slice(None)]
        new_pads = list(pads)
        for axis in range(spatial):
            others = tuple(a for a in range(weight.ndim) if a != axis + 2)
            used = nonzero.any(axis=others)
            size = len(used)
            begin = 0
            while not used[begin] and begin < pads[axis]:
                begin += 1
            end = 0
            while not used[size - 1 - end] and end < pads[axis + spatial]:
                end += 1
            slices.append(slice(begin, size - end))
            new_pads[axis] -= begin
            new_pads[axis + spatial] -= end
        if new_pads == pads:
            continue
        kernel = np.ascontiguousarray(weight[tuple(slices)])
        name = f'{node.input[1]}_web_cut{cut}'
        graph.initializer.append(numpy_helper.from_array(kernel, name))
        orphans.add(node.input[1])
        node.input[1] = name
        _set_ints(node, 'pads', new_pads)
        _set_ints(node, 'kernel_shape', kernel.shape[2:])
        cut += 1
    if orphans:
        _drop_unused(model, orphans)
    return cut


def _drop_unused(model, names) -> None:
    """Remove the initializers and ``Constant`` nodes of ``names`` that no
    node or graph output reads any more."""
    graph = model.graph
    read = {name for node in graph.node for name in node.input}
    read.update(out.name for out in graph.output)
    unused = set(names) - read
    inputs = {value.name for value in graph.input}
    kept = [
        init for init in graph.initializer
        if init.name not in unused or init.name in inputs
    ]
    if len(kept) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)
    for node in list(graph.node):
        if node.op_type == 'Constant' and node.output[0] in unused:
            graph.node.remove(node)


def _rewrite(model) -> int:
    """Every rewrite for the web, in place; the number of nodes changed."""
    return crop_zero_taps(model)


def rewrite_for_web(model):
    """The form of ``model`` that runs fastest in onnxruntime-web (WASM),
    with the same outputs and metadata.

    Today that is :func:`crop_zero_taps` (MobilePoseNet's LPB phase
    convolutions: 3x3 kernels with 2x2 non-zero taps become 2x2 kernels);
    a model without such kernels comes back unchanged (a copy).

    Args:
        model (onnx.ModelProto): The model; not modified.

    Returns:
        onnx.ModelProto: The rewritten copy.
    """
    model = copy.deepcopy(model)
    _rewrite(model)
    return model


def _check_inputs(model, meta: Dict[str, Any], batch: int,
                  seed: int) -> Dict[str, np.ndarray]:
    """Random normal float32 inputs: a dynamic first axis of ``batch``,
    other dynamic axes from the metadata's input size (W, H)."""
    from onnx import TensorProto

    initializers = {init.name for init in model.graph.initializer}
    size = meta.get('input_size') or []
    rng = np.random.default_rng(seed)
    inputs = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        if tensor.elem_type != TensorProto.FLOAT:
            raise ValueError(f'input {value.name!r} is not float32; the '
                             'check feeds random float32 inputs')
        shape = []
        for axis, dim in enumerate(tensor.shape.dim):
            if dim.HasField('dim_value') and dim.dim_value > 0:
                shape.append(dim.dim_value)
            elif axis == 0:
                shape.append(batch)
            elif axis in (2, 3) and len(size) == 2:
                shape.append(int(size[3 - axis]))  # (W, H)
            else:
                raise ValueError(f'input {value.name!r} has a dynamic axis '
                                 f'{axis} that the metadata does not size')
        inputs[value.name] = rng.standard_normal(shape).astype(np.float32)
    return inputs


def check_rewrite(original: bytes,
                  rewritten: bytes,
                  meta: Dict[str, Any],
                  kind: str = 'pose',
                  batch: int = 2,
                  seed: int = 0) -> Dict[str, Any]:
    """Run both models on ONNX Runtime (native, CPU) on the same random
    inputs and compare.

    Args:
        original (bytes): The serialized original model.
        rewritten (bytes): The serialized rewritten model.
        meta (dict): The model's metadata (its ``input_size`` sizes dynamic
            axes; a pose model's codec decodes the keypoints).
        kind (str): ``'pose'`` or ``'detector'``. Defaults to ``'pose'``.
        batch (int): Batch of the check. Defaults to 2.
        seed (int): Seed of the inputs. Defaults to 0.

    Returns:
        dict: ``max_abs`` (largest output difference), ``max_rel`` (that
        over ``max(1, max|original|)``), and for pose models
        ``max_keypoint_px`` (largest keypoint difference).

    Raises:
        RewriteError: If an output misses :data:`TOLERANCE` or a keypoint
            :data:`KEYPOINT_TOLERANCE_PX`.
    """
    import onnxruntime as ort
    onnx = _import_onnx()

    sessions = []
    for data in (original, rewritten):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.log_severity_level = 3
        sessions.append(
            ort.InferenceSession(
                data, options, providers=['CPUExecutionProvider']))
    feeds = _check_inputs(
        onnx.load_from_string(original), meta, batch, seed)
    reference, candidate = (s.run(None, feeds) for s in sessions)
    max_abs = max_rel = 0.
    for name, ref, out in zip([o.name for o in sessions[0].get_outputs()],
                              reference, candidate):
        if ref.shape != out.shape:
            raise RewriteError(f'output {name!r} has shape {out.shape} '
                               f'after the rewrite, {ref.shape} before')
        diff = float(np.max(np.abs(ref.astype(np.float64) - out))) \
            if ref.size else 0.
        rel = diff / max(1., float(np.max(np.abs(ref))) if ref.size else 1.)
        if not rel <= TOLERANCE:  # also catches NaN
            raise RewriteError(
                f'output {name!r} differs from the original by {diff:.3g} '
                f'({rel:.3g} relative to max(1, max|output|) > '
                f'{TOLERANCE:g})')
        max_abs, max_rel = max(max_abs, diff), max(max_rel, rel)
    result = dict(max_abs=max_abs, max_rel=max_rel)
    if kind == 'pose':
        from .codecs import decode_outputs
        ref_kpts, _ = decode_outputs(reference, meta)
        kpts, _ = decode_outputs(candidate, meta)
        px = float(np.max(np.abs(ref_kpts - kpts))) if kpts.size else 0.
        if not px <= KEYPOINT_TOLERANCE_PX:
            raise RewriteError(
                f'decoded keypoints differ from the original by {px:.3g} px '
                f'(> {KEYPOINT_TOLERANCE_PX:g})')
        result['max_keypoint_px'] = px
    return result


def export_web(onnx_file: str, out: Optional[str] = None) -> Dict[str, Any]:
    """Write :func:`rewrite_for_web` of ``onnx_file``, checked
    (:func:`check_rewrite`).

    Args:
        onnx_file (str): An ONNX file with our metadata (a pose model or a
            person detector).
        out (str, optional): The file to write (it may be ``onnx_file``).
            Defaults to None: ``X.web.onnx`` beside ``X.onnx``.

    Returns:
        dict: ``file`` (written), ``kind``, ``rewrites`` (nodes rewritten)
        and ``check`` (:func:`check_rewrite`'s differences).

    Raises:
        FileNotFoundError: If ``onnx_file`` or the output folder does not
            exist.
        ValueError: If the file is not ONNX or lacks our metadata.
        RewriteError: If the check fails. Nothing is written then.
    """
    onnx = _import_onnx()
    onnx_file = os.fspath(onnx_file)
    model, props, kind = read_onnx_meta(onnx_file)
    parse = parse_meta if kind == 'pose' else parse_detector_meta
    meta = parse(props, onnx_file)
    if out is None:
        out = osp.splitext(onnx_file)[0] + '.web.onnx'
    out = os.fspath(out)
    output = AtomicFile(out)  # FileNotFoundError for a missing folder
    try:
        rewritten = copy.deepcopy(model)
        rewrites = _rewrite(rewritten)
        if {e.key: e.value for e in rewritten.metadata_props} != props:
            raise RewriteError('the rewrite lost the metadata')
        onnx.checker.check_model(rewritten)
        data = rewritten.SerializeToString()
        check = check_rewrite(model.SerializeToString(), data, meta, kind)
        with open(output.tmp, 'wb') as f:
            f.write(data)
        output.commit()
    finally:
        output.discard()
    return dict(file=out, kind=kind, rewrites=rewrites, check=check)


def build_parser() -> argparse.ArgumentParser:
    """The command line of this module."""
    parser = argparse.ArgumentParser(
        prog='python -m mmpose_light_runtime.web_export',
        description='Rewrite an ONNX pose model (tools/export_onnx.py) or '
        'person detector (tools/export_detector.py) into the form that runs '
        'fastest in onnxruntime-web (WASM), keeping its metadata; checked '
        'against the original on ONNX Runtime before anything is written')
    parser.add_argument('onnx', help='the ONNX file')
    parser.add_argument(
        '--out', help='the file to write (default: X.web.onnx beside X.onnx)')
    return parser


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Run the command; returns :func:`export_web`'s result."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = export_web(args.onnx, args.out)
    except (FileNotFoundError, ImportError, ValueError,
            RewriteError) as error:
        parser.exit(2, f'{parser.prog}: error: {error}\n')
    check = result['check']
    line = (f'wrote {result["file"]} ({result["rewrites"]} convolution(s) '
            f'cut to their non-zero taps); outputs within '
            f'{check["max_abs"]:.3g} of the original on ONNX Runtime')
    if 'max_keypoint_px' in check:
        line += f', keypoints within {check["max_keypoint_px"]:.3g} px'
    print(line)
    return result


if __name__ == '__main__':
    main()
    sys.exit(0)

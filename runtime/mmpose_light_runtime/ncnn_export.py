"""Convert the runtime's ONNX files to ncnn, checked against ONNX Runtime.

``tools/export_ncnn.py`` (and ``python -m mmpose_light_runtime.ncnn_export``)
takes an ONNX file written by ``tools/export_onnx.py`` (a pose model) or
``tools/export_detector.py`` (a person detector) and writes the three files
of an ncnn model: ``X.ncnn.param``, ``X.ncnn.bin`` (fp32 or fp16 weights)
and ``X.ncnn.json``, the metadata the runtime's ``backend='ncnn'`` reads
(:func:`~mmpose_light_runtime.meta.read_ncnn_meta`): the ONNX file's own
metadata and the names and shapes ncnn does not keep.

The conversion is pnnx's (``pip install --no-deps pnnx``: its binary needs
no PyTorch, though its metadata asks for it). ncnn holds tensors of rank 4
at most, one image at a time: the one pattern of our exports beyond that,
the 6-D reshape that interleaves the four output phases of MobilePoseNet's
deployed LPB (:func:`mmpose_light.models.layers.lpb.interleave_phases`), is
rewritten first into rank-4 operators ending in a pixel shuffle
(:func:`rewrite_for_ncnn`), the same function of the input; so is YOLOX's
Focus stem, whose step-2 slices ncnn cannot take, into the equivalent
one-hot convolution (:func:`rewrite_space_to_depth`).

Before anything is written, ncnn and ONNX Runtime run the same crops of the
given images (pose models: the whole image and its left and right halves
as person boxes; detectors: the letterboxed image) and are compared
(:data:`TOLERANCES`):

- pose models: the raw outputs (relative error), the decoded keypoints in
  pixels of the network input, and the keypoint scores. Where the two
  engines put a keypoint at different maxima of a heatmap or a SimCC
  vector, and the reference's values at the two maxima differ by no more
  than twice the largest difference of the two outputs on that map, the
  maxima are tied within rounding: such keypoints are counted (``ties``),
  not failed. Any other difference fails.
- detectors: every prior's box (relative error) and person score, before
  any threshold or NMS, so that no flip of a near-tied score or overlap can
  fail the check; the boxes kept after the threshold and NMS on the
  reference's outputs are then those kept on ncnn's, compared one to one,
  and the priors that NMS keeps on one engine's outputs only are counted
  (``nms_flips``).

On failure (an operator pnnx cannot convert, a layer ncnn does not know,
outputs beyond the bounds) it raises :class:`ConversionError` naming the
operator or the difference, and writes nothing.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .checks import check_int, check_number
from .codecs import decode_outputs
from .fileio import _default_mode, list_images, read_image, sha256_file
from .meta import (DETECTOR_META_KEY, META_KEY, NCNN_META_FORMAT,
                   NCNN_META_VERSION, _import_onnx, ncnn_files,
                   read_onnx_meta)

__all__ = [
    'ConversionError', 'TOLERANCES', 'export_ncnn', 'rewrite_for_ncnn',
    'rewrite_space_to_depth', 'pnnx_executable', 'main'
]

#: The check's bounds by weight precision: ``keypoint_px``, the largest
#: keypoint difference in pixels of the network input; ``keypoint_score``,
#: of keypoint scores (relative to the largest score where that exceeds 1,
#: as a random network's heatmap maxima may); ``output_rel``, of a pose
#: model's raw outputs relative to the largest reference value;
#: ``box_rel``, of a detector's boxes relative to the largest coordinate;
#: ``box_score``, of its scores.
TOLERANCES = {
    'fp32':
    dict(
        keypoint_px=0.5,
        keypoint_score=1e-3,
        output_rel=1e-3,
        box_rel=1e-3,
        box_score=1e-3),
    'fp16':
    dict(
        keypoint_px=2.,
        keypoint_score=2e-2,
        output_rel=1e-1,
        box_rel=1e-2,
        box_score=1e-2),
}


class ConversionError(RuntimeError):
    """pnnx or ncnn cannot take the model, or ncnn misses the bounds."""


def pnnx_executable() -> str:
    """The pnnx binary of the installed ``pnnx`` package.

    Found without importing the package, whose ``__init__`` imports torch.

    Raises:
        ImportError: If pnnx is not installed.
    """
    spec = importlib.util.find_spec('pnnx')
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            path = osp.join(folder, 'pnnx')
            if osp.isfile(path) and os.access(path, os.X_OK):
                return path
    raise ImportError(
        'converting to ncnn needs pnnx, which is not installed: pip install '
        '--no-deps pnnx (its binary needs no PyTorch, but its metadata asks '
        'for it, and a plain install pulls the newest torch)')


def _constant(model, name: str) -> Optional[np.ndarray]:
    from onnx import numpy_helper
    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    for node in model.graph.node:
        if node.op_type == 'Constant' and node.output[0] == name:
            return numpy_helper.to_array(node.attribute[0].t)
    return None


def rewrite_for_ncnn(model) -> int:
    """Rewrite the phase interleave of MobilePoseNet's deployed LPB into
    operators of rank 4 at most, in place.

    The pattern ``Reshape (N, C, H, 2, 2, W) -> Transpose (.., 5, 4) ->
    Reshape (N, C, 2H, 2W)`` of an (N, C, H, 4W) map (four phases side by
    side) becomes ``Split`` into the four phases, ``Concat`` along the
    channels, ``Reshape (N, 4, C, HW) -> Transpose (0, 2, 1, 3) -> Reshape
    (N, 4C, H, W)`` and ``DepthToSpace`` (CRD, block 2), which ncnn runs as
    a pixel shuffle.

    Args:
        model (onnx.ModelProto): The model.

    Returns:
        int: The number of patterns rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    rewritten = 0
    new_nodes = []
    dropped = set()
    for node in graph.node:
        if id(node) in dropped:
            continue
        shape = _constant(model, node.input[1]) \
            if node.op_type == 'Reshape' else None
        users = consumers.get(node.output[0], [])
        if shape is None or len(shape) != 6 or list(shape[3:5]) != [2, 2] \
                or len(users) != 1 or users[0].op_type != 'Transpose':
            new_nodes.append(node)
            continue
        transpose = users[0]
        perm = [a.ints for a in transpose.attribute if a.name == 'perm']
        after = consumers.get(transpose.output[0], [])
        if not perm or list(perm[0]) != [0, 1, 2, 3, 5, 4] \
                or len(after) != 1 or after[0].op_type != 'Reshape':
            new_nodes.append(node)
            continue
        _, channels, height, _, _, width = (int(v) for v in shape)
        tag = f'ncnn_interleave_{rewritten}'
        phases = [f'{tag}_phase{i}' for i in range(4)]
        shapes = {
            f'{tag}_shape4': [-1, 4, channels, height * width],
            f'{tag}_shape_crd': [-1, 4 * channels, height, width]
        }
        for name, value in shapes.items():
            graph.initializer.append(
                numpy_helper.from_array(np.array(value, np.int64), name))
        # the sizes of the split as an input (opset 13 on): without them
        # pnnx loses the axis
        graph.initializer.append(
            numpy_helper.from_array(
                np.array([width] * 4, np.int64), f'{tag}_split'))
        new_nodes += [
            helper.make_node(
                'Split', [node.input[0], f'{tag}_split'], phases, axis=3),
            helper.make_node('Concat', phases, [f'{tag}_dcr'], axis=1),
            helper.make_node('Reshape', [f'{tag}_dcr', f'{tag}_shape4'],
                             [f'{tag}_grouped']),
            helper.make_node(
                'Transpose', [f'{tag}_grouped'], [f'{tag}_swapped'],
                perm=[0, 2, 1, 3]),
            helper.make_node('Reshape', [f'{tag}_swapped', f'{tag}_shape_crd'],
                             [f'{tag}_crd']),
            helper.make_node(
                'DepthToSpace', [f'{tag}_crd'], [after[0].output[0]],
                blocksize=2,
                mode='CRD'),
        ]
        dropped.update((id(transpose), id(after[0])))
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(n for n in new_nodes if id(n) not in dropped)
        # the old shape annotations of the removed tensors would mislead
        del graph.value_info[:]
    return rewritten


def _slice_chain(producers: dict, name: str, constant):
    """(source, {axis: start}) of a chain of single-axis, step-2 ``Slice``
    nodes ending in ``name``, or None."""
    starts = {}
    nodes = []
    while name in producers and producers[name].op_type == 'Slice':
        node = producers[name]
        values = [constant(i) for i in node.input[1:5]]
        if len(values) != 4 or any(v is None or v.size != 1
                                   for v in values):
            return None
        start, end, axis, step = (int(v.ravel()[0]) for v in values)
        if step != 2 or start not in (0, 1) or end < 2**30 \
                or axis not in (2, 3) or axis in starts:
            return None
        starts[axis] = start
        nodes.append(node)
        name = node.input[0]
    if set(starts) != {2, 3}:
        return None
    return name, starts, nodes


def rewrite_space_to_depth(model) -> int:
    """Rewrite YOLOX's Focus stem (strided slices of the input, each pixel
    phase a slice, concatenated along the channels), which ncnn cannot
    slice, into the equivalent 2x2 stride-2 convolution with one-hot
    weights (exact: each output is one input value times 1), in place.

    Args:
        model (onnx.ModelProto): The model, with a static input shape.

    Returns:
        int: The number of patterns rewritten.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    producers = {out: node for node in graph.node for out in node.output}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    dims = {
        value.name: [d.dim_value for d in value.type.tensor_type.shape.dim]
        for value in graph.input
    }

    def constant(name):
        return _constant(model, name)

    rewritten = 0
    for concat in list(graph.node):
        axis = [a.i for a in concat.attribute if a.name == 'axis']
        if concat.op_type != 'Concat' or axis != [1]:
            continue
        chains = [
            _slice_chain(producers, name, constant)
            for name in concat.input
        ]
        if not chains or any(chain is None for chain in chains):
            continue
        sources = {chain[0] for chain in chains}
        shape = dims.get(next(iter(sources)), [])
        if len(sources) != 1 or len(shape) != 4 or shape[1] < 1 \
                or shape[2] % 2 or shape[3] % 2:
            continue
        chain_nodes = list({
            id(node): node
            for chain in chains for node in chain[2]
        }.values())
        private = all(
            all(user in chain_nodes or user is concat
                for user in consumers.get(node.output[0], []))
            for node in chain_nodes)
        if not private:
            continue
        channels = shape[1]
        weight = np.zeros((len(chains) * channels, channels, 2, 2),
                          np.float32)
        for k, (_, starts, _) in enumerate(chains):
            for c in range(channels):
                weight[k * channels + c, c, starts[2], starts[3]] = 1
        tag = f'ncnn_space_to_depth_{rewritten}'
        graph.initializer.append(numpy_helper.from_array(weight, tag))
        conv = helper.make_node(
            'Conv', [next(iter(sources)), tag], [concat.output[0]],
            kernel_shape=[2, 2], strides=[2, 2])
        index = list(graph.node).index(concat)
        graph.node.insert(index, conv)
        for node in chain_nodes + [concat]:
            graph.node.remove(node)
        rewritten += 1
    return rewritten


def _ncnn_layers(param_file: str) -> List[Tuple[str, List[str]]]:
    """(type, output blobs) of each layer of an ncnn ``.param`` file: after
    the magic and count lines, ``type name inputs outputs blobs...``."""
    with open(param_file) as f:
        lines = f.read().split('\n')[2:]
    layers = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 4:
            num_in, num_out = int(fields[2]), int(fields[3])
            layers.append(
                (fields[0], fields[4 + num_in:4 + num_in + num_out]))
    return layers


def _run_pnnx(onnx_path: str, input_shape: Sequence[int], fp16: bool,
              folder: str) -> Tuple[str, str, str]:
    """Run pnnx in ``folder``; the ``.param`` and ``.bin`` files and its
    log."""
    shape = ','.join(str(int(v)) for v in input_shape)
    param = osp.join(folder, 'model.ncnn.param')
    weights = osp.join(folder, 'model.ncnn.bin')
    command = [
        pnnx_executable(), onnx_path, f'inputshape=[{shape}]',
        f'fp16={int(fp16)}', f'ncnnparam={param}', f'ncnnbin={weights}',
        f'ncnnpy={osp.join(folder, "model_ncnn.py")}',
        f'pnnxparam={osp.join(folder, "model.pnnx.param")}',
        f'pnnxbin={osp.join(folder, "model.pnnx.bin")}',
        f'pnnxpy={osp.join(folder, "model_pnnx.py")}',
        f'pnnxonnx={osp.join(folder, "model.pnnx.onnx")}'
    ]
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True)
    log = result.stdout + result.stderr
    if result.returncode != 0 or not osp.isfile(param):
        tail = '\n'.join(log.strip().split('\n')[-15:])
        raise ConversionError(
            f'pnnx failed (exit status {result.returncode}):\n{tail}')
    return param, weights, log


def _check_layers(layers: List[Tuple[str, List[str]]], log: str,
                  source: str) -> None:
    """Fail naming the operators that pnnx left unconverted."""
    import ncnn

    unknown = sorted({
        layer_type
        for layer_type, _ in layers
        if ncnn.layer_to_index(layer_type) < 0
    })
    if unknown:
        notes = sorted({
            line.strip()
            for line in log.split('\n')
            if re.search(r'not supported|exceeds', line)
        })
        hint = ('; pnnx said: ' + '; '.join(notes)) if notes else ''
        raise ConversionError(
            f'pnnx could not convert every operator of {source!r}: ncnn has '
            f'no layer {", ".join(unknown)} (operators ncnn cannot run, '
            f'such as tensors of rank above 4); a file from an older '
            f'export tool may convert once exported again{hint}')


def _output_blobs(layers: List[Tuple[str, List[str]]],
                  count: int) -> List[str]:
    """pnnx's names of the ONNX file's ``count`` outputs, ``out0``...,
    checked to be produced by a layer."""
    blobs = {blob for _, outputs in layers for blob in outputs}
    names = [f'out{i}' for i in range(count)]
    missing = [name for name in names if name not in blobs]
    if missing:
        raise ConversionError(
            f'the ncnn model lacks the output blobs {missing}: pnnx did not '
            f'keep the ONNX file\'s {count} outputs')
    return names


def _peak_maps(outputs: List[np.ndarray],
               meta: Dict[str, Any]) -> List[np.ndarray]:
    """The maps whose maxima place keypoints, each (N, K, M)."""
    codec = meta['codec']
    if codec['type'] in ('MSRAHeatmap', 'UDPHeatmap'):
        heatmaps = outputs[0]
        if codec.get('heatmap_type') == 'combined':
            heatmaps = heatmaps[:, ::3]
        return [heatmaps.reshape(heatmaps.shape[:2] + (-1, ))]
    if codec['type'] == 'SimCCLabel':
        return list(outputs[:2])
    return []


def _tied(reference: List[np.ndarray], other: List[np.ndarray],
          meta: Dict[str, Any]) -> np.ndarray:
    """(N, K): keypoints whose maxima the engines place apart, on maps
    where the reference's values at both maxima are tied within twice the
    largest difference of the two maps."""
    maps = _peak_maps(reference, meta)
    if not maps:
        return np.zeros(reference[0].shape[:2], bool)
    others = _peak_maps(other, meta)
    tied = np.zeros(maps[0].shape[:2], bool)
    for ref, out in zip(maps, others):
        ref = ref.astype(np.float64)
        out = out.astype(np.float64)
        delta = np.abs(ref - out).max(-1)
        mine = ref.argmax(-1)
        theirs = out.argmax(-1)
        at_theirs = np.take_along_axis(ref, theirs[..., None], -1)[..., 0]
        gap = ref.max(-1) - at_theirs
        tied |= (mine != theirs) & (gap <= 2 * delta)
    return tied


def _sensitivity(backend, inputs: np.ndarray) -> List[float]:
    """How far ONNX Runtime's own outputs move, per output, when the
    input changes by about one part in a million (a few float32 units in
    the last place): what float32 rounding alone can do to this network
    on this input."""
    noise = np.random.default_rng(0).standard_normal(inputs.shape)
    moved = (inputs * (1 + 1e-6 * noise)).astype(np.float32)
    return [
        float(np.abs(a.astype(np.float64) - b).max())
        for a, b in zip(backend.run(inputs), backend.run(moved))
    ]


def _rounding_note(moves: Dict[str, float], bounds: Dict[str, float]) -> str:
    """A note for a failed check where float32 rounding alone moves the
    network's outputs by a tenth of the violated bound or more."""
    shown = [f'{what} by {value:.3g}' for what, value in moves.items()
             if value >= bounds[what] / 10]
    if not shown:
        return ''
    return ('. This network amplifies float32 rounding: a change of the '
            'input by one part in a million moves ONNX Runtime\'s own '
            f'{", ".join(shown)}, so engines with other kernels differ too '
            '(random weights do this; a trained network should not). To '
            'accept it, loosen the bound: --tol NAME=VALUE')


def _check_pose(onnx_file: str, prefix: str, images: Sequence[str],
                tol: Dict[str, float], num_threads: Optional[int]) -> dict:
    from .estimator import TopdownEstimator

    reference = TopdownEstimator(
        onnx_file, backend='onnxruntime', num_threads=num_threads)
    engine = TopdownEstimator(prefix, backend='ncnn', num_threads=num_threads)
    meta = reference.meta
    report = dict(
        crops=0, max_output_rel=0., max_keypoint_px=0., max_score=0.,
        ties=0)
    for path in images:
        image = read_image(path)
        height, width = image.shape[:2]
        boxes = np.array([[0, 0, width, height], [0, 0, width / 2, height],
                          [width / 2, 0, width, height]])
        inputs = reference.preprocess(image, boxes)[0]
        ref_out = reference.infer(inputs)
        out = engine.infer(inputs)
        for name, a, b in zip(meta['output_names'], ref_out, out):
            if a.shape != b.shape:
                raise ConversionError(
                    f'{path!r}: ncnn\'s output {name!r} has shape {b.shape}, '
                    f'ONNX Runtime\'s {a.shape}')
            scale = max(float(np.abs(a).max()), 1e-12)
            rel = float(np.abs(a.astype(np.float64) - b).max()) / scale
            report['max_output_rel'] = max(report['max_output_rel'], rel)
        ref_kpts, ref_scores = decode_outputs(ref_out, meta)
        kpts, scores = decode_outputs(out, meta)
        tied = _tied(ref_out, out, meta)
        distance = np.linalg.norm(kpts - ref_kpts, axis=-1)
        report['crops'] += len(inputs)
        report['ties'] += int((tied & (distance > tol['keypoint_px'])).sum())
        untied = distance[~tied]
        if untied.size:
            report['max_keypoint_px'] = max(report['max_keypoint_px'],
                                            float(untied.max()))
        # scores of trained models lie in [0, 1]; a random network's
        # heatmap maxima may not, and are compared relative to their scale
        report['max_score'] = max(
            report['max_score'],
            float(np.abs(scores - ref_scores).max()) /
            max(1., float(np.abs(ref_scores).max())))
    failures = [
        f'{what} {report[key]:.3g} > {tol[bound]:g}'
        for what, key, bound in (
            ('outputs relative error', 'max_output_rel', 'output_rel'),
            ('keypoints (px at the input size)', 'max_keypoint_px',
             'keypoint_px'),
            ('keypoint scores', 'max_score', 'keypoint_score'))
        if not report[key] <= tol[bound]
    ]
    if failures:
        raise ConversionError(
            'ncnn and ONNX Runtime differ on ' + f'{report["crops"]} crops of '
            f'{len(images)} image(s): ' + '; '.join(failures))
    return report


def _check_detector(onnx_file: str, prefix: str, images: Sequence[str],
                    tol: Dict[str, float],
                    num_threads: Optional[int]) -> dict:
    from .detectors import OnnxDetector

    reference = OnnxDetector(
        onnx_file, backend='onnxruntime', num_threads=num_threads)
    engine = OnnxDetector(prefix, backend='ncnn', num_threads=num_threads)
    boxes_name, scores_name = reference.output_names
    report = dict(
        priors=0, boxes=0, max_box_rel=0., max_score=0., nms_flips=0)
    worst = {}  # rounding's own effect, on the images that fail
    for path in images:
        image = read_image(path)
        inputs, scale = reference.preprocess(image)
        ref_out = dict(
            zip(reference.backend.output_names,
                reference.backend.run(inputs)))
        out = dict(
            zip(engine.backend.output_names, engine.backend.run(inputs)))
        ref_boxes, boxes = ref_out[boxes_name], out[boxes_name]
        if ref_boxes.shape != boxes.shape:
            raise ConversionError(
                f'{path!r}: ncnn returned boxes {boxes.shape}, ONNX Runtime '
                f'{ref_boxes.shape}')
        box_rel = float(np.abs(boxes - ref_boxes.astype(np.float64)).max()
                        ) / max(float(np.abs(ref_boxes).max()), 1.)
        score = float(
            np.abs(out[scores_name] -
                   ref_out[scores_name].astype(np.float64)).max())
        report['priors'] += ref_boxes.shape[1]
        report['max_box_rel'] = max(report['max_box_rel'], box_rel)
        report['max_score'] = max(report['max_score'], score)
        if box_rel > tol['box_rel'] or score > tol['box_score']:
            moves = dict(
                zip(reference.backend.output_names,
                    _sensitivity(reference.backend, inputs)))
            worst['boxes'] = max(
                worst.get('boxes', 0.), moves[boxes_name] / max(
                    float(np.abs(ref_boxes).max()), 1.))
            worst['scores'] = max(worst.get('scores', 0.),
                                  moves[scores_name])
        # the kept boxes: NMS decided on the reference's candidates, the
        # same priors read from both engines
        cand, cand_scores, priors = reference.candidates(ref_out, scale)
        kept = priors[reference.nms(cand, cand_scores)]
        report['boxes'] += len(kept)
        own, own_scores, own_priors = engine.candidates(out, scale)
        own_kept = own_priors[engine.nms(own, own_scores)]
        report['nms_flips'] += len(set(kept.tolist()) ^ set(own_kept.tolist()))
    failures = [
        f'{what} {report[key]:.3g} > {tol[bound]:g}'
        for what, key, bound in (('boxes relative error', 'max_box_rel',
                                  'box_rel'), ('scores', 'max_score',
                                               'box_score'))
        if not report[key] <= tol[bound]
    ]
    if failures:
        raise ConversionError(
            f'ncnn and ONNX Runtime differ on the {report["priors"]} priors '
            f'of {len(images)} image(s): ' + '; '.join(failures) +
            _rounding_note(
                {'boxes (relative)': worst.get('boxes', 0.),
                 'scores': worst.get('scores', 0.)},
                {'boxes (relative)': tol['box_rel'],
                 'scores': tol['box_score']}))
    return report


def export_ncnn(onnx_file: str,
                out: Optional[str] = None,
                images: Optional[Sequence[str]] = None,
                fp16: bool = False,
                meta_file: Optional[str] = None,
                num_threads: Optional[int] = None,
                tolerances: Optional[Dict[str, float]] = None
                ) -> Dict[str, Any]:
    """Convert an ONNX file of ours to ncnn, check it, then write it.

    Args:
        onnx_file (str): A pose model from ``tools/export_onnx.py`` or a
            detector from ``tools/export_detector.py``.
        out (str, optional): Where to write: ``X`` or any of
            ``X.ncnn.param``, ``X.ncnn.bin``, ``X.ncnn.json``. Defaults to
            None: beside the ONNX file, by its name.
        images (Sequence[str]): Images or folders of them to check on; at
            least one image.
        fp16 (bool): Write fp16 weights (half the size; ncnn then computes
            in fp16 where the CPU can, as on ARM phones). Defaults to False:
            fp32.
        meta_file (str, optional): Metadata JSON to use instead of the
            file's (:func:`~mmpose_light_runtime.meta.read_onnx_meta`).
            Defaults to None.
        num_threads (int, optional): Threads of both engines in the check.
            Defaults to None.
        tolerances (dict, optional): Bounds to use instead of
            :data:`TOLERANCES` of the precision. Defaults to None.

    Returns:
        dict: ``kind`` (``'pose'`` or ``'detector'``), ``precision``,
        ``files`` (the three paths written), ``rewrites`` (patterns
        rewritten for ncnn) and ``check`` (the measured differences).

    Raises:
        ImportError: If onnx, pnnx or ncnn is not installed.
        FileNotFoundError: If an input does not exist.
        ValueError: If the file lacks our metadata or no image is given.
        ConversionError: If pnnx or ncnn cannot take the model, or the
            check fails. Nothing is written then.
    """
    onnx = _import_onnx()
    onnx_file = os.fspath(onnx_file)
    precision = 'fp16' if fp16 else 'fp32'
    tol = dict(TOLERANCES[precision])
    if tolerances:
        unknown = set(tolerances) - set(tol)
        if unknown:
            raise ValueError(f'unknown tolerances {sorted(unknown)}; the '
                             f'check has {sorted(tol)}')
        for key, value in tolerances.items():
            tol[key] = check_number(f'tolerance `{key}`', value, 0)
    if num_threads is not None:
        check_int('`num_threads`', num_threads, 1)
    image_files = list_images(images)
    if not image_files:
        raise ValueError('give at least one image to check the conversion '
                         'on (--images)')
    model, props, kind = read_onnx_meta(onnx_file, meta_file)
    key = META_KEY if kind == 'pose' else DETECTOR_META_KEY
    meta = json.loads(props[key])
    width, height = (int(v) for v in meta['input_size'])
    param_out, bin_out, json_out = ncnn_files(
        out if out is not None else osp.splitext(onnx_file)[0])
    out_dir = osp.dirname(osp.abspath(param_out))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir!r} does not exist')
    pnnx_executable()  # fail early when pnnx is missing
    try:
        import ncnn  # noqa: F401
    except ImportError:
        raise ImportError('checking the conversion needs ncnn: pip install '
                          '"mmpose-light-runtime[ncnn]"') from None

    folder = tempfile.mkdtemp(prefix='.ncnn-export-', dir=out_dir)
    try:
        # ONNX Runtime's reference: the file as given, with the metadata
        # in force (--meta's, where given)
        reference = onnx_file
        if meta_file is not None:
            reference = osp.join(folder, 'reference.onnx')
            del model.metadata_props[:]
            for key_name, value in props.items():
                entry = model.metadata_props.add()
                entry.key, entry.value = key_name, value
            onnx.save(model, reference)
        rewrites = rewrite_for_ncnn(model) + rewrite_space_to_depth(model)
        del model.metadata_props[:]
        source = osp.join(folder, 'source.onnx')
        onnx.save(model, source)
        param, weights, log = _run_pnnx(source, [1, 3, height, width], fp16,
                                        folder)
        layers = _ncnn_layers(param)
        _check_layers(layers, log, onnx_file)
        outputs = _output_blobs(layers, len(model.graph.output))
        # output shapes at batch 1, from ONNX Runtime
        import onnxruntime as ort
        session = ort.InferenceSession(
            reference, providers=['CPUExecutionProvider'])
        shapes = [
            list(value.shape) for value in session.run(
                None, {
                    session.get_inputs()[0].name:
                    np.zeros((1, 3, height, width), np.float32)
                })
        ]
        sidecar = dict(
            format=NCNN_META_FORMAT,
            version=NCNN_META_VERSION,
            precision=precision,
            input=dict(
                name=session.get_inputs()[0].name,
                blob='in0',
                shape=[1, 3, height, width]),
            outputs=[
                dict(name=o.name, blob=blob, shape=shape)
                for o, blob, shape in zip(session.get_outputs(), outputs,
                                          shapes)
            ],
            metadata_props=props,
            source=dict(
                file=osp.basename(onnx_file), sha256=sha256_file(onnx_file)),
            converter=dict(pnnx=_pnnx_version(), rewrites=rewrites))
        staged = osp.join(folder, 'model.ncnn.json')
        with open(staged, 'w') as f:
            json.dump(sidecar, f, indent=1)
        check_fn = _check_pose if kind == 'pose' else _check_detector
        check = check_fn(reference, staged, image_files, tol, num_threads)
        check.update(images=len(image_files), tolerances=tol)
        sidecar['check'] = check
        with open(staged, 'w') as f:
            json.dump(sidecar, f, indent=1)
        mode = _default_mode()
        for src, dst in ((weights, bin_out), (param, param_out),
                         (staged, json_out)):
            os.chmod(src, mode)
            os.replace(src, dst)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return dict(
        kind=kind,
        precision=precision,
        files=[param_out, bin_out, json_out],
        rewrites=rewrites,
        check=check)


def _pnnx_version() -> Optional[str]:
    try:
        from importlib.metadata import version
        return version('pnnx')
    except Exception:  # not installed as a distribution
        return None


def build_parser(default_images: Optional[List[str]] = None
                 ) -> argparse.ArgumentParser:
    """The command line of ``tools/export_ncnn.py`` and of this module."""
    parser = argparse.ArgumentParser(
        description='Convert an ONNX pose model (tools/export_onnx.py) or '
        'person detector (tools/export_detector.py) to ncnn, checked '
        'against ONNX Runtime before anything is written')
    parser.add_argument('onnx', help='the ONNX file')
    parser.add_argument(
        '--out',
        help='output X (writes X.ncnn.param, X.ncnn.bin, X.ncnn.json); '
        'default: beside the ONNX file, by its name')
    parser.add_argument(
        '--images',
        nargs='+',
        default=default_images,
        required=default_images is None,
        help='images or folders to check the conversion on' +
        (' (default: the bundled sample images)' if default_images else ''))
    parser.add_argument(
        '--fp16',
        action='store_true',
        help='fp16 weights (default: fp32); checked with looser bounds')
    parser.add_argument(
        '--meta',
        help='metadata JSON for an ONNX file without ours: {"mmpose_light": '
        '{...}} or {"mmpose_light_detector": {...}}')
    parser.add_argument(
        '--num-threads', type=int, help='threads of both engines in the check')
    parser.add_argument(
        '--tol',
        nargs='+',
        default=[],
        metavar='NAME=VALUE',
        help='loosen or tighten a bound of the check: ' +
        ', '.join(TOLERANCES['fp32']) + ' (defaults by precision: ' +
        '; '.join(f'{p} ' + ', '.join(f'{k}={v:g}' for k, v in t.items())
                  for p, t in TOLERANCES.items()) + ')')
    return parser


def main(argv: Optional[List[str]] = None,
         default_images: Optional[List[str]] = None,
         prog: Optional[str] = None) -> Dict[str, Any]:
    """Run the command; returns :func:`export_ncnn`'s result."""
    parser = build_parser(default_images)
    if prog:
        parser.prog = prog
    args = parser.parse_args(argv)
    try:
        tolerances = {}
        for item in args.tol:
            name, sep, value = item.partition('=')
            try:
                tolerances[name] = float(value)
            except ValueError:
                raise ValueError(f'--tol takes NAME=VALUE with a number, '
                                 f'but got {item!r}') from None
        result = export_ncnn(
            args.onnx,
            args.out,
            images=args.images,
            fp16=args.fp16,
            meta_file=args.meta,
            num_threads=args.num_threads,
            tolerances=tolerances)
    except (FileNotFoundError, ImportError, ValueError, TypeError,
            ConversionError) as error:
        parser.exit(2, f'{parser.prog}: error: {error}\n')
    check = result['check']
    print(f'wrote {", ".join(result["files"])} ({result["precision"]} '
          'weights)')
    if result['kind'] == 'pose':
        print(f'ncnn vs ONNX Runtime on {check["crops"]} crops of '
              f'{check["images"]} image(s): keypoints within '
              f'{check["max_keypoint_px"]:.3g} px at the input size, scores '
              f'within {check["max_score"]:.3g}, outputs within '
              f'{check["max_output_rel"]:.3g} relative; {check["ties"]} '
              'keypoint(s) at maxima tied within rounding')
    else:
        print(f'ncnn vs ONNX Runtime on {check["priors"]} priors of '
              f'{check["images"]} image(s): boxes within '
              f'{check["max_box_rel"]:.3g} relative, scores within '
              f'{check["max_score"]:.3g}; {check["boxes"]} boxes kept after '
              f'NMS, {check["nms_flips"]} flip(s) of NMS on near-ties')
    return result


if __name__ == '__main__':
    main(prog='python -m mmpose_light_runtime.ncnn_export')
    sys.exit(0)

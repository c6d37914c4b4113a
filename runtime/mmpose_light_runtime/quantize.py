"""INT8 quantization of exported pose models, and what it costs.

:func:`quantize_model` quantizes a float model file written by
``tools/export_onnx.py`` with ONNX Runtime's static post-training
quantization: QDQ format, weights INT8 per output channel (symmetric),
activations UINT8 per tensor, ranges calibrated (min-max) on person crops
made exactly as :class:`~mmpose_light_runtime.TopdownEstimator` makes them
(the same boxes, affine warp and normalisation), never on noise. The output
carries the input's metadata, so every part of the runtime, and both
backends, run it unchanged.

Weights use their full 8 bits or 7 of them (``reduce_range``). x86 CPUs
without VNNI (AVX2 only) multiply UINT8 activations by INT8 weights with an
instruction (``vpmaddubsw``) whose 16-bit sums of pairs saturate with
full-range weights; 7-bit weights cannot saturate, but are half as fine.
Which loses less depends on the model (the measurements, with the CPUs
they came from, are in the project's docs/int8.md).
``weight_bits='auto'`` quantizes both ways and keeps the one whose
keypoints on the calibration crops are closer to the float model's, on
the CPU that quantizes: the choice is made per CPU by measuring, not
fixed, and the file records that CPU's model and
vector extensions (:func:`~mmpose_light_runtime.timing.cpu_info`; with
``avx512_vnni``, ``avx_vnni`` or ``amx_int8`` nothing saturates). Quantize
on the kind of CPU you deploy to, or give ``weight_bits=7`` for a file that
cannot saturate anywhere.

:func:`compare_poses` measures what INT8 costs on images the calibration
did not see: keypoint distances in pixels and the OKS between the INT8 and
the float poses of the same boxes, and the relative error of the network
outputs; :func:`coco_keypoint_ap` scores poses against COCO annotations.

This module needs the ``onnx`` package on top of the runtime
(``pip install "mmpose-light-runtime[quantize]"``): ONNX Runtime's
quantization tools import it. Nothing here imports PyTorch.
"""
import json
import math
import os
import os.path as osp
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from .checks import check_int
from .detectors import as_detector
from .estimator import TopdownEstimator
from .fileio import atomic_write_bytes
from .meta import parse_meta
from .nms import pairwise_oks
from .sources import open_source
from .structures import PoseResult
from .timing import cpu_info

__all__ = [
    'QUANT_KEY', 'QUANTIZED_OP_TYPES', 'quantize_model', 'quantized_nodes',
    'default_float_nodes', 'calibration_crops', 'compare_poses', 'coco_api',
    'coco_keypoint_ap'
]

#: The metadata key that says how a file was quantized (JSON).
QUANT_KEY = 'mmpose_light_quantization'

#: Operators found only in a quantized graph.
QUANTIZED_OP_TYPES = ('QuantizeLinear', 'DequantizeLinear',
                      'DynamicQuantizeLinear', 'ConvInteger',
                      'MatMulInteger', 'QLinearConv', 'QLinearMatMul',
                      'QLinearAdd', 'QLinearMul', 'QLinearConcat',
                      'QLinearGlobalAveragePool', 'QLinearSigmoid',
                      'QGemm')

# The operators with weights (and MatMul, whose second input may be one).
_WEIGHTED = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')

# Crops per calibration run: the calibration keeps only each tensor's min
# and max, so this bounds the memory of one run of the network.
_CALIB_BATCH = 8

_INSTALL_HINT = ('pip install "mmpose-light-runtime[quantize]" (or pip '
                 'install onnx)')


def _onnx():
    """The ``onnx`` package, with a clear error where it is missing."""
    try:
        import onnx
    except ImportError:
        raise ImportError('INT8 quantization needs the onnx package, which '
                          f'is not installed: {_INSTALL_HINT}') from None
    return onnx


def quantized_nodes(model) -> List[str]:
    """Names (or op types, for unnamed nodes) of the quantized operators of
    an ONNX ``ModelProto``."""
    return [
        node.name or node.op_type for node in model.graph.node
        if node.op_type in QUANTIZED_OP_TYPES
    ]


def _load_float_model(path: str):
    """Load ``path`` with onnx; refuse a quantized file or one without the
    runtime's metadata."""
    onnx = _onnx()
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f'the model should be a path, but got {path!r}')
    path = os.fspath(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'model file {path!r} does not exist')
    try:
        model = onnx.load(path)
    except Exception as error:  # protobuf raises its own types
        raise ValueError(f'{path!r} is not an ONNX file: {error}') from None
    parse_meta({p.key: p.value for p in model.metadata_props}, path)
    done = quantized_nodes(model)
    if done:
        raise ValueError(
            f'{path!r} is already quantized ({len(done)} quantized '
            f'operators, e.g. {done[0]!r}); quantize the float model '
            'exported by tools/export_onnx.py')
    return model


def default_float_nodes(model) -> List[str]:
    """The nodes :func:`quantize_model` keeps in float by default.

    The last weighted layer before each network output (the final 1x1
    convolution of a heatmap head, the fully connected layer of a
    regression head that gives both the coordinates and the RLE sigmas, the
    SimCC classifiers): its output is what is decoded, so its rounding
    error reaches the keypoints undamped, and it holds a small share of
    the network's multiply-adds.

    Args:
        model: An ONNX ``ModelProto``.

    Returns:
        list[str]: Node names.
    """
    producer = {out: node for node in model.graph.node for out in node.output}
    keep = []
    for output in model.graph.output:
        # walk back through shape and activation ops to a weighted layer
        pending, seen = [output.name], set()
        while pending:
            node = producer.get(pending.pop())
            if node is None or node.name in seen:
                continue
            seen.add(node.name)
            if node.op_type in _WEIGHTED:
                if node.name not in keep:
                    keep.append(node.name)
                continue
            pending.extend(node.input)
    return keep


def calibration_crops(estimator: TopdownEstimator,
                      images: Union[str, Sequence[str]],
                      detector=None,
                      max_crops: int = 256) -> np.ndarray:
    """Network inputs of the person crops of ``images``.

    The crops are made by ``estimator.preprocess``: the runtime's own box
    padding, affine warp and normalisation. Each image gives at most
    ``ceil(max_crops / num_images)`` crops, its best-scored boxes, so that
    every image takes part.

    Args:
        estimator (TopdownEstimator): The float model's estimator.
        images (str | Sequence[str]): Image files and folders of images.
        detector (optional): Person boxes, as in
            :class:`~mmpose_light_runtime.PosePipeline`: a detector, a
            callable or None for the whole frame. Defaults to None.
        max_crops (int): The most crops to return. Defaults to 256.

    Returns:
        np.ndarray: float32 inputs. Shape (N, 3, h, w).

    Raises:
        ValueError: If there is no image, or no image has a person box.
    """
    check_int('`max_crops`', max_crops, 1)
    sources = _open_images(images)
    detector = as_detector(detector)
    num_images = sum(source.num_frames for source in sources)
    per_image = math.ceil(max_crops / num_images)
    crops = []
    for source in sources:
        for frame in source:
            bboxes, scores = detector(frame.image, frame.image_id)
            if len(bboxes) == 0:
                continue
            order = np.argsort(-scores, kind='stable')[:per_image]
            crops.append(estimator.preprocess(frame.image, bboxes[order])[0])
    if not crops:
        names = ', '.join(repr(source.spec) for source in sources)
        raise ValueError(
            f'no person box in the {num_images} calibration image(s) of '
            f'{names} (boxes from {detector!r}); give a detection file '
            'that lists them, or none for the whole frame')
    return np.concatenate(crops)[:max_crops]


def _open_images(images: Union[str, Sequence[str]]) -> list:
    if isinstance(images, (str, os.PathLike)):
        images = [images]
    if not images:
        raise ValueError('no calibration images given')
    sources = []
    for spec in images:
        source = open_source(os.fspath(spec))
        if source.kind not in ('image', 'folder'):
            raise ValueError(f'{spec!r} is a {source.kind}; give image '
                             'files or folders of images')
        sources.append(source)
    return sources


class _CropReader:
    """ONNX Runtime's ``CalibrationDataReader`` over crops, in batches."""

    def __init__(self, input_name: str, crops: np.ndarray,
                 batch_size: int) -> None:
        self.batches = iter([{
            input_name: crops[i:i + batch_size]
        } for i in range(0, len(crops), batch_size)])

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return next(self.batches, None)


def quantize_model(model: str,
                   out_file: str,
                   calib_images: Union[str, Sequence[str]],
                   detector=None,
                   float_nodes: Union[str, Sequence[str]] = 'auto',
                   weight_bits: Union[int, str] = 'auto',
                   max_crops: int = 256) -> Dict[str, Any]:
    """Quantize an exported pose model to INT8, calibrated on person crops.

    ONNX Runtime's ``quant_pre_process`` (shape inference, graph
    optimisation) runs first, then ``quantize_static`` in QDQ format:
    weights INT8 per output channel, in 8 or 7 bits (see the module
    docstring), activations UINT8 per tensor with min-max ranges over the
    calibration crops. The output gets the input's metadata, and under
    :data:`QUANT_KEY` how it was quantized; it is written atomically (an
    existing ``out_file`` is replaced only by a complete file).

    Example:
        >>> from mmpose_light_runtime import DetectionFile
        >>> from mmpose_light_runtime.quantize import quantize_model
        >>> info = quantize_model('pose.onnx', 'pose_int8.onnx',
        ...                       'calib_images/',
        ...                       DetectionFile('calib_dets.json'))
        >>> info['float_nodes']
        ['/final_layer/Conv']

    Args:
        model (str): A float ONNX file written by ``tools/export_onnx.py``.
        out_file (str): The INT8 ONNX file to write.
        calib_images (str | Sequence[str]): Calibration image files and
            folders; not the images the result is evaluated on.
        detector (optional): Their person boxes: a
            :class:`~mmpose_light_runtime.detectors.PersonDetector` (such as
            a :class:`~mmpose_light_runtime.DetectionFile`), a callable, or
            None for the whole frame. Defaults to None.
        float_nodes (str | Sequence[str]): Nodes left in float: ``'auto'``
            for :func:`default_float_nodes`, or node names (``[]`` for
            none). Defaults to ``'auto'``.
        weight_bits (int | str): 8, 7, or ``'auto'``: both, keeping the
            one whose keypoints on the calibration crops lie closer to the
            float model's. Defaults to ``'auto'``.
        max_crops (int): The most calibration crops. Defaults to 256.

    Returns:
        dict: ``float_nodes``, ``weight_bits``, ``num_crops``,
        ``num_quantized`` (weighted layers quantized), ``calib_distance``
        (weight bits to the mean keypoint distance, in input pixels, from
        the float model on the calibration crops) and ``meta``, what was
        stored under :data:`QUANT_KEY`.

    Raises:
        ValueError: If the model is already quantized, has no runtime
            metadata, or the calibration images give no crop.
        ImportError: If the ``onnx`` package is missing.
    """
    float_model = _load_float_model(model)
    model = os.fspath(model)
    folder = osp.dirname(osp.abspath(os.fspath(out_file)))
    if not osp.isdir(folder):
        raise FileNotFoundError(f'cannot write {out_file!r}: folder '
                                f'{folder!r} does not exist')
    if float_nodes == 'auto':
        float_nodes = default_float_nodes(float_model)
    elif isinstance(float_nodes, str):
        raise ValueError("`float_nodes` should be 'auto' or a list of node "
                         f'names, but got {float_nodes!r}')
    if weight_bits not in (7, 8, 'auto'):
        raise ValueError("`weight_bits` should be 8, 7 or 'auto', but got "
                         f'{weight_bits!r}')
    float_nodes = list(float_nodes)
    names = {node.name for node in float_model.graph.node}
    unknown = [name for name in float_nodes if name not in names]
    if unknown:
        raise ValueError(f'`float_nodes` {unknown} are not nodes of '
                         f'{model!r}')

    estimator = TopdownEstimator(model)
    crops = calibration_crops(estimator, calib_images, detector, max_crops)
    onnx = _onnx()
    from onnxruntime import __version__ as ort_version
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat,
                                          QuantType, quant_pre_process,
                                          quantize_static)
    distance = {}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = osp.join(tmp, 'prepared.onnx')
        # ONNX's shape inference suffices with only the batch axis
        # dynamic; the symbolic one would need sympy
        quant_pre_process(model, prepared, skip_symbolic_shape=True)
        for bits in ((8, 7) if weight_bits == 'auto' else (weight_bits, )):
            quantized = osp.join(tmp, f'quantized_{bits}.onnx')
            quantize_static(
                prepared,
                quantized,
                _CropReader(estimator.backend.input_name, crops,
                            _CALIB_BATCH),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=bits == 7,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                nodes_to_exclude=float_nodes,
                calibrate_method=CalibrationMethod.MinMax)
            distance[bits] = _crop_distance(estimator,
                                            TopdownEstimator(quantized),
                                            crops)
        bits = min(distance, key=distance.get)
        # which range saturates less depends on this CPU's INT8 kernels
        cpu = cpu_info()
        result = onnx.load(osp.join(tmp, f'quantized_{bits}.onnx'))
    # weights are initializers that a DequantizeLinear dequantizes
    initializers = {init.name for init in result.graph.initializer}
    dequantized = {
        node.output[0]
        for node in result.graph.node if node.op_type == 'DequantizeLinear'
        and node.input[0] in initializers
    }
    num_quantized = sum(
        1 for node in result.graph.node
        if node.op_type in _WEIGHTED and len(node.input) > 1
        and node.input[1] in dequantized)
    meta = dict(
        tool=f'onnxruntime {ort_version} quantize_static',
        format='QDQ',
        weights=f'int8, symmetric, per output channel, {bits}-bit range',
        activations='uint8, per tensor',
        calibration=dict(method='minmax', crops=len(crops)),
        float_nodes=float_nodes,
        weight_bits=dict(
            chosen=bits,
            asked=weight_bits,
            calib_distance={str(k): v
                            for k, v in distance.items()},
            cpu={key: cpu[key]
                 for key in ('model', 'flags')}))
    del result.metadata_props[:]
    for prop in float_model.metadata_props:
        if prop.key != QUANT_KEY:
            result.metadata_props.add(key=prop.key, value=prop.value)
    result.metadata_props.add(key=QUANT_KEY, value=json.dumps(meta))
    atomic_write_bytes(out_file, result.SerializeToString())
    return dict(
        float_nodes=float_nodes,
        weight_bits=bits,
        num_crops=len(crops),
        num_quantized=num_quantized,
        calib_distance=distance,
        meta=meta)


def _crop_distance(reference: TopdownEstimator, candidate: TopdownEstimator,
                   crops: np.ndarray) -> float:
    """Mean keypoint distance between two models on network inputs, in
    input pixels."""
    return float(
        np.linalg.norm(
            _input_keypoints(candidate, crops) -
            _input_keypoints(reference, crops),
            axis=-1).mean())


def _input_keypoints(estimator: TopdownEstimator,
                     crops: np.ndarray) -> np.ndarray:
    """Keypoints of network inputs, in input pixels."""
    batches = [
        estimator.infer(crops[i:i + _CALIB_BATCH])
        for i in range(0, len(crops), _CALIB_BATCH)
    ]
    outputs = [np.concatenate(part) for part in zip(*batches)]
    # a box of the input's own size at its centre maps input to input
    size = np.array(estimator.input_size, dtype=np.float64)
    centers = np.tile(size / 2, (len(crops), 1))
    scales = np.tile(size, (len(crops), 1))
    return estimator.decode(outputs, centers, scales)[0]


def compare_poses(reference: TopdownEstimator,
                  candidate: TopdownEstimator,
                  images: Union[str, Sequence[str]],
                  detector=None) -> Dict[str, Any]:
    """How far ``candidate``'s poses are from ``reference``'s.

    Both estimators get the same crops (the reference's preprocessing) of
    the same boxes; poses are compared box by box, before any NMS.

    Args:
        reference (TopdownEstimator): The float model.
        candidate (TopdownEstimator): The model under test (INT8, another
            backend).
        images (str | Sequence[str]): Image files and folders.
        detector (optional): Person boxes (see :func:`calibration_crops`).
            Defaults to None: the whole frame.

    Returns:
        dict: ``distances`` (pixels, every keypoint of every box), ``oks``
        (per box: the COCO OKS of the candidate pose against the reference
        pose, with the box area and the model's sigmas),
        ``output_rel_err`` (per output: ``max|cand - ref| / max|ref|``),
        ``num_images``, ``num_poses``, and the summaries
        ``mean_distance``, ``p95_distance``, ``max_distance``, ``mean_oks``
        and ``min_oks``.
    """
    if reference.input_size != candidate.input_size:
        raise ValueError(
            f'the models have different input sizes: '
            f'{reference.input_size} and {candidate.input_size}')
    detector = as_detector(detector)
    sigmas = reference.dataset_meta.get('sigmas')
    distances, oks, num_images = [], [], 0
    abs_err = np.zeros(len(reference.meta['output_names']))
    scale = np.zeros_like(abs_err)
    for source in _open_images(images):
        for frame in source:
            num_images += 1
            bboxes, _ = detector(frame.image, frame.image_id)
            if len(bboxes) == 0:
                continue
            inputs, centers, scales = reference.preprocess(
                frame.image, bboxes)
            outputs = [reference.infer(inputs), candidate.infer(inputs)]
            for i, (ref, cand) in enumerate(zip(*outputs)):
                abs_err[i] = max(abs_err[i], np.abs(cand - ref).max())
                scale[i] = max(scale[i], np.abs(ref).max())
            ref_kpts, _ = reference.decode(outputs[0], centers, scales)
            cand_kpts, _ = candidate.decode(outputs[1], centers, scales)
            distances.append(
                np.linalg.norm(cand_kpts - ref_kpts, axis=-1).ravel())
            areas = np.prod(bboxes[:, 2:] - bboxes[:, :2], axis=1)
            oks.append(_paired_oks(ref_kpts, cand_kpts, areas, sigmas))
    if not distances:
        raise ValueError(f'no person box in the {num_images} image(s) of '
                         f'{images!r} (boxes from {detector!r})')
    distances, oks = np.concatenate(distances), np.concatenate(oks)
    return dict(
        num_images=num_images,
        num_poses=len(oks),
        distances=distances,
        oks=oks,
        output_rel_err=(abs_err / np.where(scale > 0, scale, 1)).tolist(),
        mean_distance=float(distances.mean()),
        p95_distance=float(np.percentile(distances, 95)),
        max_distance=float(distances.max()),
        mean_oks=float(oks.mean()),
        min_oks=float(oks.min()))


def _paired_oks(reference: np.ndarray, candidate: np.ndarray,
                areas: np.ndarray, sigmas) -> np.ndarray:
    """OKS of ``candidate[i]`` against ``reference[i]``, for every i."""
    num = len(reference)
    matrix = pairwise_oks(
        np.concatenate([reference, candidate]).astype(np.float64),
        np.concatenate([areas, areas]).astype(np.float64),
        None if sigmas is None else np.asarray(sigmas, np.float64))
    return matrix[np.arange(num), np.arange(num) + num]


def coco_api() -> tuple:
    """``(COCO, COCOeval)`` of ``xtcocotools`` (as MMPose's ``CocoMetric``),
    else of ``pycocotools``.

    Raises:
        ImportError: If neither is installed.
    """
    try:
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    except ImportError:
        try:
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval
        except ImportError:
            raise ImportError('COCO AP needs xtcocotools or pycocotools, '
                              'neither of which is installed: pip install '
                              'pycocotools') from None
    return COCO, COCOeval


def coco_keypoint_ap(results: Dict[int, PoseResult],
                     ann_file: str) -> Dict[str, float]:
    """COCO keypoint AP of poses (see :func:`coco_api`).

    Args:
        results (dict[int, PoseResult]): Image id to its poses (after NMS).
        ann_file (str): COCO keypoint annotations of those images.

    Returns:
        dict: ``AP``, ``AP .5``, ``AP .75``, ``AR`` (in [0, 1]).
    """
    COCO, COCOeval = coco_api()
    import contextlib
    import io
    detections = [
        entry for image_id, result in sorted(results.items())
        for entry in result.to_coco(image_id)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(ann_file)
        if not detections:
            return {'AP': 0., 'AP .5': 0., 'AP .75': 0., 'AR': 0.}
        evaluator = COCOeval(coco, coco.loadRes(detections), 'keypoints')
        evaluator.params.imgIds = sorted(results)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    stats = evaluator.stats
    return {
        'AP': float(stats[0]),
        'AP .5': float(stats[1]),
        'AP .75': float(stats[2]),
        'AR': float(stats[5])
    }

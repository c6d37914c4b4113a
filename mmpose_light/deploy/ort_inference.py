"""Top-down pose estimation with ONNX Runtime, without PyTorch ops.

The pipeline of :class:`OrtTopdownEstimator` reproduces MMPose's test-time
top-down pipeline (``inference_topdown`` with ``flip_test=False``) in numpy
and OpenCV, reading every setting from the metadata that
:func:`~mmpose_light.deploy.export_onnx` embeds in the ONNX file:

1. boxes to center and scale, as ``GetBBoxCenterScale`` (``bbox_xyxy2cs``
   with the padding, 1.25 by default);
2. the scale widened to the input's aspect ratio and the crop warped with
   ``get_warp_matrix`` (or ``get_udp_warp_matrix``) and bilinear
   ``cv2.warpAffine``, as ``TopdownAffine``;
3. channel swap and ``(x - mean) / std`` in float32, as the data
   preprocessor;
4. the network, all crops in one batch;
5. decoding as the head's codec: ``MSRAHeatmap`` (argmax and the quarter
   pixel shift, or DARK with ``unbiased=True``), ``UDPHeatmap`` (DARK-UDP
   or the combined offsets) or ``RegressionLabel`` (with the sigmoid of the
   RLE sigmas);
6. back to image coordinates, as ``TopdownPoseEstimator``'s
   ``add_pred_to_datasample``;
7. pose scores as ``CocoMetric`` rescores them, and
   :func:`~mmpose_light.evaluation.matrix_oks_nms`.

Steps 1 to 6 use numpy, OpenCV and ONNX Runtime only. ``matrix_oks_nms``
takes and returns numpy arrays but computes with torch tensors internally.
"""
import json
import os
import os.path as osp
from types import MappingProxyType
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'META_KEY', 'META_VERSION', 'SUPPORTED_CODECS', 'OrtTopdownEstimator',
    'read_image', 'bbox_xyxy_to_center_scale', 'fix_aspect_ratio',
    'get_warp_matrix', 'crop_instances', 'normalize_crops',
    'decode_msra_heatmaps', 'decode_udp_heatmaps', 'decode_regression',
    'rescore_poses'
]

# The key of the JSON metadata in the ONNX model's ``metadata_props``.
META_KEY = 'mmpose_light'
META_VERSION = 1
SUPPORTED_CODECS = ('MSRAHeatmap', 'UDPHeatmap', 'RegressionLabel')

# The arguments of ``matrix_oks_nms`` that ``nms`` may set.
_NMS_KEYS = ('kernel', 'sigma', 'score_thr', 'pre_topk', 'max_num', 'vis_thr')
# read-only, as it is a default argument
DEFAULT_NMS = MappingProxyType(
    dict(kernel='gaussian', sigma=2.0, score_thr=0.0))


def read_image(path: str) -> np.ndarray:
    """Read an image as BGR ``uint8``, as MMCV's ``imread`` does.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: The image. Shape (H, W, 3).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file cannot be decoded as an image.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image {path!r} does not exist')
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f'cannot read {path!r} as an image')
    return image


def bbox_xyxy_to_center_scale(
        bboxes: np.ndarray,
        padding: float = 1.25) -> Tuple[np.ndarray, np.ndarray]:
    """Box centers and padded sizes, as MMPose's ``bbox_xyxy2cs``.

    Args:
        bboxes (np.ndarray): Boxes (x1, y1, x2, y2). Shape (N, 4).
        padding (float): Factor on the box size. Defaults to 1.25.

    Returns:
        tuple: centers (N, 2) and scales (w, h) (N, 2).
    """
    scales = (bboxes[:, 2:] - bboxes[:, :2]) * padding
    centers = (bboxes[:, 2:] + bboxes[:, :2]) * 0.5
    return centers, scales


def fix_aspect_ratio(scales: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Widen each (w, h) to ``w / h == aspect_ratio``, as ``TopdownAffine``.

    Args:
        scales (np.ndarray): Box sizes (w, h). Shape (N, 2).
        aspect_ratio (float): Target ``w / h``.

    Returns:
        np.ndarray: The widened sizes. Shape (N, 2).
    """
    w, h = scales[:, :1], scales[:, 1:]
    return np.where(w > h * aspect_ratio, np.hstack([w, w / aspect_ratio]),
                    np.hstack([h * aspect_ratio, h]))


def get_warp_matrix(center: np.ndarray,
                    scale: np.ndarray,
                    output_size: Tuple[int, int],
                    use_udp: bool = False) -> np.ndarray:
    """The affine matrix from a box to the network input, without rotation.

    The same float32 point pairs and ``cv2.getAffineTransform`` as MMPose's
    ``get_warp_matrix`` (or the closed form of ``get_udp_warp_matrix``), so
    that the crops are bit-identical.

    Args:
        center (np.ndarray): Box center (x, y). Shape (2, ).
        scale (np.ndarray): Box size (w, h). Shape (2, ).
        output_size (tuple): Input size (w, h).
        use_udp (bool): Unbiased data processing. Defaults to False.

    Returns:
        np.ndarray: The 2x3 matrix.
    """
    dst_w, dst_h = output_size
    if use_udp:
        scale_x = (dst_w - 1) / scale[0]
        scale_y = (dst_h - 1) / scale[1]
        warp = np.zeros((2, 3), dtype=np.float32)
        warp[0, 0] = scale_x
        warp[0, 2] = scale_x * (-center[0] + 0.5 * scale[0])
        warp[1, 1] = scale_y
        warp[1, 2] = scale_y * (-center[1] + 0.5 * scale[1])
        return warp
    src = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + np.array([scale[0] * -0.5, 0.])
    dst = np.zeros((3, 2), dtype=np.float32)
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = dst[0] + np.array([dst_w * -0.5, 0.])
    # the third point: (a - b) turned by 90 degrees around b
    for points in (src, dst):
        direction = points[0] - points[1]
        points[2] = points[1] + np.r_[-direction[1], direction[0]]
    return cv2.getAffineTransform(src, dst)


def crop_instances(image: np.ndarray,
                   centers: np.ndarray,
                   scales: np.ndarray,
                   input_size: Tuple[int, int],
                   use_udp: bool = False) -> np.ndarray:
    """Warp each box to the input size with bilinear interpolation.

    Args:
        image (np.ndarray): The image. Shape (H, W, 3).
        centers (np.ndarray): Box centers. Shape (N, 2).
        scales (np.ndarray): Box sizes, already at the input's aspect
            ratio. Shape (N, 2).
        input_size (tuple): Input size (w, h).
        use_udp (bool): Unbiased data processing. Defaults to False.

    Returns:
        np.ndarray: The crops. Shape (N, h, w, 3).
    """
    w, h = input_size
    return np.stack([
        cv2.warpAffine(image,
                       get_warp_matrix(center, scale, input_size, use_udp),
                       (w, h),
                       flags=cv2.INTER_LINEAR)
        for center, scale in zip(centers, scales)
    ])


def normalize_crops(crops: np.ndarray,
                    mean: Optional[Sequence[float]],
                    std: Optional[Sequence[float]],
                    swap_channels: bool = False) -> np.ndarray:
    """Crops to network inputs, as MMPose's data preprocessor.

    Args:
        crops (np.ndarray): Crops. Shape (N, h, w, 3).
        mean (Sequence[float], optional): Per-channel mean, after the swap;
            None for no normalisation.
        std (Sequence[float], optional): Per-channel std.
        swap_channels (bool): Reverse the channels (BGR to RGB) first.
            Defaults to False.

    Returns:
        np.ndarray: float32 inputs. Shape (N, 3, h, w).
    """
    inputs = crops.transpose(0, 3, 1, 2)
    if swap_channels:
        inputs = inputs[:, ::-1]
    inputs = inputs.astype(np.float32)
    if mean is not None:
        mean = np.asarray(mean, dtype=np.float32).reshape(1, -1, 1, 1)
        std = np.asarray(std, dtype=np.float32).reshape(1, -1, 1, 1)
        inputs = (inputs - mean) / std
    return np.ascontiguousarray(inputs)


def _heatmap_maximum(heatmaps: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Argmax locations (x, y) and values; -1 where the maximum is <= 0."""
    num, num_kpts, height, width = heatmaps.shape
    flat = heatmaps.reshape(num, num_kpts, -1)
    index = flat.argmax(axis=-1)
    vals = np.take_along_axis(flat, index[..., None], axis=-1)[..., 0]
    locs = np.stack([index % width, index // width],
                    axis=-1).astype(np.float32)
    locs[vals <= 0.] = -1
    return locs, vals


def _at(heatmaps: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """``heatmaps[n, k, ys[n, k], xs[n, k]]`` with indices clipped in range.
    """
    num, num_kpts, height, width = heatmaps.shape
    n = np.arange(num)[:, None]
    k = np.arange(num_kpts)[None]
    return heatmaps[n, k,
                    np.clip(ys, 0, height - 1),
                    np.clip(xs, 0, width - 1)]


def _refine_quarter(locs: np.ndarray, heatmaps: np.ndarray) -> np.ndarray:
    """MMPose's ``refine_keypoints``: a quarter pixel towards the higher
    neighbour, with its exact border conditions."""
    height, width = heatmaps.shape[2:]
    x, y = locs[..., 0].astype(int), locs[..., 1].astype(int)
    dx = _at(heatmaps, y, x + 1) - _at(heatmaps, y, x - 1)
    dx = np.where((1 < x) & (x < width - 1) & (0 < y) & (y < height), dx, 0)
    dy = _at(heatmaps, y + 1, x) - _at(heatmaps, y - 1, x)
    dy = np.where((1 < y) & (y < height - 1) & (0 < x) & (x < width), dy, 0)
    shift = np.sign(np.stack([dx, dy], axis=-1)).astype(np.float32)
    return locs + shift * 0.25


def _gaussian_blur(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """MMPose's ``gaussian_blur`` of (N, K, H, W) heatmaps: zero-padded
    blur, rescaled to keep each map's maximum."""
    border = (kernel - 1) // 2
    blurred = np.empty_like(heatmaps, dtype=np.float32)
    for index in np.ndindex(heatmaps.shape[:2]):
        heatmap = heatmaps[index]
        padded = np.pad(heatmap.astype(np.float32), border)
        out = cv2.GaussianBlur(padded, (kernel, kernel), 0)
        out = out[border:-border, border:-border]
        blurred[index] = out * (heatmap.max() / out.max())
    return blurred


def _refine_dark(locs: np.ndarray, heatmaps: np.ndarray,
                 kernel: int) -> np.ndarray:
    """MMPose's ``refine_keypoints_dark``: a Newton step on the log of the
    blurred heatmap, away from the border."""
    height, width = heatmaps.shape[2:]
    logs = np.log(np.maximum(_gaussian_blur(heatmaps, kernel), 1e-10))
    x, y = locs[..., 0].astype(int), locs[..., 1].astype(int)

    def at(dy: int, dx: int) -> np.ndarray:
        return _at(logs, y + dy, x + dx)

    dx = 0.5 * (at(0, 1) - at(0, -1))
    dy = 0.5 * (at(1, 0) - at(-1, 0))
    dxx = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    dxy = 0.25 * (at(1, 1) - at(-1, 1) - at(1, -1) + at(-1, -1))
    dyy = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    det = dxx * dyy - dxy**2
    valid = ((1 < x) & (x < width - 2) & (1 < y) & (y < height - 2)
             & (det != 0))
    safe_det = np.where(valid, det, 1)
    # -H^-1 g for the 2x2 Hessian H
    offset_x = -(dyy * dx - dxy * dy) / safe_det
    offset_y = -(-dxy * dx + dxx * dy) / safe_det
    offset = np.stack([offset_x, offset_y], axis=-1) * valid[..., None]
    return (locs + offset).astype(np.float32)


def _refine_dark_udp(locs: np.ndarray, heatmaps: np.ndarray,
                     kernel: int) -> np.ndarray:
    """MMPose's ``refine_keypoints_dark_udp``: a Newton step on the log of
    the blurred, clipped heatmap, edge-padded."""
    height, width = heatmaps.shape[2:]
    logs = np.log(np.clip(_gaussian_blur(heatmaps, kernel), 1e-3, 50.))
    padded = np.pad(logs, ((0, 0), (0, 0), (1, 1), (1, 1)), mode='edge')
    # MMPose indexes the K padded maps of an instance flattened together,
    # so the neighbours of a -1 location (maximum <= 0) spill into the
    # previous map, or wrap around to the end
    num_kpts = locs.shape[1]
    size = (height + 2) * (width + 2)
    index = locs[..., 0] + 1 + (locs[..., 1] + 1) * (width + 2)
    index = index.astype(int) + size * np.arange(num_kpts)
    flat = padded.reshape(padded.shape[0], -1)

    def at(offset: int) -> np.ndarray:
        return np.take_along_axis(flat, (index + offset) % flat.shape[1],
                                  axis=1)

    i_, ix1, ix1_ = at(0), at(1), at(-1)
    iy1, iy1_ = at(width + 2), at(-2 - width)
    ix1y1, ix1_y1_ = at(width + 3), at(-width - 3)
    dx = 0.5 * (ix1 - ix1_)
    dy = 0.5 * (iy1 - iy1_)
    dxx = ix1 - 2 * i_ + ix1_
    dyy = iy1 - 2 * i_ + iy1_
    dxy = 0.5 * (ix1y1 - ix1 - iy1 + i_ + i_ - ix1_ - iy1_ + ix1_y1_)
    hessian = np.stack([np.stack([dxx, dxy], -1),
                        np.stack([dxy, dyy], -1)], -2)
    hessian = np.linalg.inv(hessian + np.finfo(np.float32).eps * np.eye(2))
    derivative = np.stack([dx, dy], axis=-1)[..., None]
    return locs - (hessian @ derivative)[..., 0]


def decode_msra_heatmaps(
        heatmaps: np.ndarray,
        codec: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Decode as ``MSRAHeatmap.decode``, for a batch.

    Args:
        heatmaps (np.ndarray): Heatmaps. Shape (N, K, H, W).
        codec (dict): The codec's ``input_size``, ``heatmap_size``,
            ``unbiased`` and ``blur_kernel_size``.

    Returns:
        tuple: keypoints in input coordinates (N, K, 2) and scores (N, K).
    """
    heatmaps = heatmaps.astype(np.float32, copy=False)
    locs, scores = _heatmap_maximum(heatmaps)
    if codec.get('unbiased', False):
        locs = _refine_dark(locs, heatmaps, codec.get('blur_kernel_size', 11))
    else:
        locs = _refine_quarter(locs, heatmaps)
    scale_factor = (np.array(codec['input_size']) /
                    codec['heatmap_size']).astype(np.float32)
    return locs * scale_factor, scores


def decode_udp_heatmaps(
        heatmaps: np.ndarray,
        codec: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Decode as ``UDPHeatmap.decode``, for a batch.

    Args:
        heatmaps (np.ndarray): Heatmaps, (N, K, H, W) for the ``'gaussian'``
            type or (N, 3K, H, W) for ``'combined'``.
        codec (dict): The codec's ``input_size``, ``heatmap_size``,
            ``heatmap_type``, ``radius_factor`` and ``blur_kernel_size``.

    Returns:
        tuple: keypoints in input coordinates (N, K, 2) and scores (N, K).
    """
    heatmaps = heatmaps.astype(np.float32, copy=False)
    kernel = codec.get('blur_kernel_size', 11)
    heatmap_type = codec.get('heatmap_type', 'gaussian')
    if heatmap_type == 'gaussian':
        locs, scores = _heatmap_maximum(heatmaps)
        locs = _refine_dark_udp(locs, heatmaps, kernel)
    elif heatmap_type == 'combined':
        height, width = heatmaps.shape[2:]
        cls_maps = heatmaps[:, ::3].copy()
        for index in np.ndindex(cls_maps.shape[:2]):
            cv2.GaussianBlur(cls_maps[index], (2 * kernel + 1, ) * 2, 0,
                             cls_maps[index])
        radius = codec['radius_factor'] * max(width, height)
        locs, scores = _heatmap_maximum(cls_maps)
        num, num_kpts = locs.shape[:2]
        # MMPose indexes the flattened offsets of all K maps together, so a
        # -1 location (maximum <= 0) reads from the previous map
        index = (locs[..., 0] + locs[..., 1] * width).astype(int)
        index = (index + height * width * np.arange(num_kpts)) % (
            num_kpts * height * width)
        offset_maps = [heatmaps[:, c::3].reshape(num, -1) for c in (1, 2)]
        offsets = np.stack(
            [np.take_along_axis(m, index, axis=1) for m in offset_maps], -1)
        offsets *= radius
        locs = (locs + offsets).astype(np.float32)
    else:
        raise ValueError('unsupported UDPHeatmap heatmap_type '
                         f'{heatmap_type!r}')
    width, height = codec['heatmap_size']
    return locs / [width - 1, height - 1] * codec['input_size'], scores


def decode_regression(
        coords: np.ndarray,
        codec: Dict[str, Any],
        sigmoid_sigma: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Decode as ``RegressionLabel.decode``, for a batch.

    Args:
        coords (np.ndarray): Normalised coordinates, optionally followed by
            two sigmas. Shape (N, K, 2) or (N, K, 4).
        codec (dict): The codec's ``input_size``.
        sigmoid_sigma (bool): Whether the sigmas are logits to pass through
            a sigmoid first, as ``RLEHead.predict`` does. Defaults to False.

    Returns:
        tuple: keypoints in input coordinates (N, K, 2) and scores (N, K):
        ``1 - mean(sigma)``, or ones without sigmas.
    """
    if coords.ndim != 3 or coords.shape[-1] not in (2, 4):
        raise ValueError('regression output should have shape (N, K, 2) or '
                         f'(N, K, 4), but got {coords.shape}')
    if coords.shape[-1] == 4:
        sigma = coords[..., 2:4]
        if sigmoid_sigma:
            # log-domain sigmoid: no overflow for large negative logits
            sigma = np.exp(-np.logaddexp(0., -sigma))
        scores = (1 - sigma).mean(axis=-1)
    else:
        scores = np.ones(coords.shape[:2], dtype=np.float32)
    width, height = codec['input_size']
    return coords[..., :2] * np.array([width, height]), scores


def rescore_poses(keypoint_scores: np.ndarray,
                  bbox_scores: np.ndarray,
                  score_mode: str = 'bbox_keypoint',
                  keypoint_score_thr: float = 0.2) -> np.ndarray:
    """Pose scores as ``CocoMetric`` computes them before its NMS.

    Args:
        keypoint_scores (np.ndarray): Shape (N, K).
        bbox_scores (np.ndarray): Shape (N, ).
        score_mode (str): ``'bbox'``, ``'keypoint'``, ``'bbox_rle'`` or
            ``'bbox_keypoint'``. Defaults to ``'bbox_keypoint'``.
        keypoint_score_thr (float): Keypoints counted by
            ``'bbox_keypoint'`` score above it. Defaults to 0.2.

    Returns:
        np.ndarray: Pose scores. Shape (N, ).
    """
    if score_mode == 'bbox':
        return bbox_scores.astype(np.float64)
    if score_mode == 'keypoint':
        return keypoint_scores.mean(axis=1)
    if score_mode == 'bbox_rle':
        return (bbox_scores + keypoint_scores.mean(axis=1) +
                keypoint_scores.max(axis=1))
    if score_mode != 'bbox_keypoint':
        raise ValueError(f'unsupported score_mode {score_mode!r}')
    valid = keypoint_scores > keypoint_score_thr
    count = valid.sum(axis=1)
    total = (keypoint_scores * valid).sum(axis=1)
    return bbox_scores * np.where(count > 0, total / np.maximum(count, 1), 0)


class OrtTopdownEstimator:
    """Top-down pose estimation with an ONNX file from ``export_onnx``.

    Args:
        onnx_file (str): An ONNX file written by
            :func:`~mmpose_light.deploy.export_onnx` (or
            ``tools/export_onnx.py``), which embeds the pipeline settings.
        num_threads (int, optional): ONNX Runtime intra-op threads. Defaults
            to None (ONNX Runtime's choice).
        providers (Sequence[str], optional): Execution providers. Defaults
            to None: ``['CPUExecutionProvider']``.

    Attributes:
        session (onnxruntime.InferenceSession): The ONNX Runtime session.
        meta (dict): The embedded pipeline settings.
    """

    def __init__(self,
                 onnx_file: str,
                 num_threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None) -> None:
        import onnxruntime as ort

        if not isinstance(onnx_file, (str, os.PathLike)):
            raise TypeError(
                f'`onnx_file` should be a path, but got {onnx_file!r}')
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file {onnx_file!r} does not exist')
        if num_threads is not None and (not isinstance(num_threads, int)
                                        or num_threads < 1):
            raise ValueError('`num_threads` should be a positive int, '
                             f'but got {num_threads!r}')
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        self.session = ort.InferenceSession(
            os.fspath(onnx_file),
            sess_options=options,
            providers=list(providers or ['CPUExecutionProvider']))
        custom = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in custom:
            raise ValueError(
                f'{onnx_file!r} has no {META_KEY!r} metadata; export it with '
                'mmpose_light.deploy.export_onnx or tools/export_onnx.py')
        self.meta = json.loads(custom[META_KEY])
        if self.meta.get('version') != META_VERSION:
            raise ValueError(
                f'{onnx_file!r} has pipeline metadata version '
                f'{self.meta.get("version")!r}; this pipeline reads version '
                f'{META_VERSION}: export it again')
        codec = self.meta.get('codec') or {}
        if codec.get('type') not in SUPPORTED_CODECS:
            raise ValueError(
                f'{onnx_file!r} was exported with codec {codec.get("type")!r}'
                f'; the ONNX Runtime pipeline decodes {SUPPORTED_CODECS}')
        self.input_name = self.meta['input_name']
        self.output_names = self.meta['output_names']
        graph_input = {
            i.name: i
            for i in self.session.get_inputs()
        }.get(self.input_name)
        width, height = self.input_size
        if graph_input is None or list(
                graph_input.shape[1:]) != [3, height, width]:
            shape = None if graph_input is None else graph_input.shape
            raise ValueError(
                f'{onnx_file!r}: the graph input {self.input_name!r} has '
                f'shape {shape}, but its metadata expects (N, 3, {height}, '
                f'{width})')

    @property
    def input_size(self) -> Tuple[int, int]:
        """The network input size (w, h)."""
        width, height = self.meta['input_size']
        return width, height

    @property
    def dataset_meta(self) -> Dict[str, Any]:
        """Keypoint names, sigmas, skeleton and colours of the dataset."""
        return self.meta.get('dataset_meta', {})

    def preprocess(
            self, image: np.ndarray,
            bboxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crop and normalise the boxes of ``image``.

        Args:
            image (np.ndarray): BGR image. Shape (H, W, 3).
            bboxes (np.ndarray): Boxes (x1, y1, x2, y2). Shape (N, 4).

        Returns:
            tuple: network inputs (N, 3, h, w), centers (N, 2) and the
            aspect-fixed scales (N, 2).
        """
        pre = self.meta['preprocess']
        width, height = self.input_size
        centers, scales = bbox_xyxy_to_center_scale(bboxes,
                                                    pre['bbox_padding'])
        scales = fix_aspect_ratio(scales, width / height)
        crops = crop_instances(image, centers, scales, (width, height),
                               pre['use_udp'])
        inputs = normalize_crops(crops, pre['mean'], pre['std'],
                                 pre['swap_channels'])
        return inputs, centers, scales

    def decode(self,
               outputs: Sequence[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
        """Decode network outputs to keypoints in input coordinates.

        Args:
            outputs (Sequence[np.ndarray]): The session's outputs.

        Returns:
            tuple: keypoints (N, K, 2) and keypoint scores (N, K).
        """
        codec = self.meta['codec']
        if codec['type'] == 'MSRAHeatmap':
            return decode_msra_heatmaps(outputs[0], codec)
        if codec['type'] == 'UDPHeatmap':
            return decode_udp_heatmaps(outputs[0], codec)
        return decode_regression(outputs[0], codec,
                                 self.meta.get('sigmoid_sigma', False))

    def predict(self,
                image: np.ndarray,
                bboxes: np.ndarray,
                bbox_scores: Optional[np.ndarray] = None,
                nms: Optional[Mapping] = DEFAULT_NMS) -> Dict[str, np.ndarray]:
        """Estimate the pose in each box of ``image``.

        Note:
            - number of boxes: N
            - number of poses kept by the NMS: N'
            - number of keypoints: K

        Args:
            image (np.ndarray): BGR image (as ``cv2.imread`` reads it),
                ``uint8`` or ``float32``. Shape (H, W, 3).
            bboxes (np.ndarray): Person boxes (x1, y1, x2, y2). Shape (N, 4).
            bbox_scores (np.ndarray, optional): Box scores. Shape (N, ).
                Defaults to None: ones.
            nms (dict, optional): Arguments of
                :func:`~mmpose_light.evaluation.matrix_oks_nms` (``kernel``,
                ``sigma``, ``score_thr``, ``pre_topk``, ``max_num``,
                ``vis_thr``), or None to keep every pose in input order.
                Defaults to ``dict(kernel='gaussian', sigma=2.0,
                score_thr=0.0)``.

        Returns:
            dict: With the kept poses, by descending score:

            - keypoints (np.ndarray): Image coordinates. Shape (N', K, 2).
            - keypoint_scores (np.ndarray): Shape (N', K).
            - bboxes (np.ndarray): Their boxes. Shape (N', 4).
            - bbox_scores (np.ndarray): Their box scores. Shape (N', ).
            - scores (np.ndarray): Pose scores (rescored as ``CocoMetric``,
              then decayed by the NMS). Shape (N', ).
            - keep (np.ndarray): Their indices into ``bboxes``. Shape (N', ).
        """
        image = self._check_image(image)
        bboxes = self._check_bboxes(bboxes)
        self._check_nms(nms)
        if bbox_scores is None:
            bbox_scores = np.ones(len(bboxes), dtype=np.float32)
        bbox_scores = np.asarray(bbox_scores, dtype=np.float32)
        if bbox_scores.shape != (len(bboxes), ):
            raise ValueError(f'`bbox_scores` should have shape '
                             f'({len(bboxes)},), but got {bbox_scores.shape}')

        inputs, centers, scales = self.preprocess(image, bboxes)
        outputs = self.session.run(self.output_names,
                                   {self.input_name: inputs})
        keypoints, keypoint_scores = self.decode(outputs)
        # input to image coordinates, as add_pred_to_datasample
        keypoints = (keypoints / np.array(self.input_size) * scales[:, None] +
                     centers[:, None] - 0.5 * scales[:, None])
        indices = self.meta.get('output_keypoint_indices')
        if indices is not None:
            keypoints = keypoints[:, indices]
            keypoint_scores = keypoint_scores[:, indices]

        scores = rescore_poses(keypoint_scores, bbox_scores,
                               **self.meta['rescore'])
        if nms is None:
            keep = np.arange(len(bboxes))
        else:
            keep, scores = self._nms(keypoints, keypoint_scores, scores,
                                     np.prod(scales, axis=1), nms)
        return dict(keypoints=keypoints[keep],
                    keypoint_scores=keypoint_scores[keep],
                    bboxes=bboxes[keep],
                    bbox_scores=bbox_scores[keep],
                    scores=scores[keep],
                    keep=keep)

    def _nms(self, keypoints: np.ndarray, keypoint_scores: np.ndarray,
             scores: np.ndarray, areas: np.ndarray,
             nms: Mapping) -> Tuple[np.ndarray, np.ndarray]:
        from mmpose_light.evaluation import matrix_oks_nms

        sigmas = self.dataset_meta.get('sigmas')
        return matrix_oks_nms(
            keypoints.astype(np.float64),
            keypoint_scores.astype(np.float64),
            scores.astype(np.float64),
            areas.astype(np.float64),
            sigmas=None if sigmas is None else np.asarray(sigmas),
            **nms)

    def _check_nms(self, nms: Optional[Mapping]) -> None:
        if nms is None:
            return
        if not isinstance(nms, Mapping):
            raise TypeError(f'`nms` should be a dict or None, but got {nms!r}')
        unknown = set(nms) - set(_NMS_KEYS)
        if unknown:
            raise ValueError(f'unknown `nms` arguments {sorted(unknown)}; '
                             f'expected some of {_NMS_KEYS}')

    def _check_image(self, image: np.ndarray) -> np.ndarray:
        if not isinstance(image, np.ndarray):
            raise TypeError('`image` should be a BGR numpy array, but got '
                            f'{type(image)}')
        if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
            raise ValueError('`image` should have shape (H, W, 3), but got '
                             f'{image.shape}')
        if image.dtype not in (np.uint8, np.float32):
            raise TypeError('`image` should be uint8 or float32, but got '
                            f'{image.dtype}')
        return image

    def _check_bboxes(self, bboxes: Any) -> np.ndarray:
        bboxes = np.asarray(bboxes)
        # float32 boxes stay float32: MMPose computes the crop from the
        # box's own dtype, and its rounding decides edge pixels of the crop
        if not np.issubdtype(bboxes.dtype, np.floating):
            bboxes = bboxes.astype(np.float64)
        if bboxes.size == 0:
            raise ValueError('`bboxes` is empty: the top-down pipeline needs '
                             'at least one person box')
        if bboxes.ndim != 2 or bboxes.shape[1] != 4:
            raise ValueError('`bboxes` should have shape (N, 4) as (x1, y1, '
                             f'x2, y2), but got {bboxes.shape}')
        bad = ~np.isfinite(bboxes).all(axis=1) | (
            bboxes[:, 2] <= bboxes[:, 0]) | (bboxes[:, 3] <= bboxes[:, 1])
        if bad.any():
            raise ValueError('`bboxes` should be finite (x1, y1, x2, y2) '
                             'with x2 > x1 and y2 > y1, but got '
                             f'{bboxes[bad].tolist()} at rows '
                             f'{np.flatnonzero(bad).tolist()}')
        return bboxes

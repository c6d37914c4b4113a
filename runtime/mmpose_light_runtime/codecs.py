"""Network outputs to keypoints, as MMPose's codecs and heads decode them.

Batched numpy versions of the ``decode`` of ``MSRAHeatmap`` (argmax and the
quarter-pixel shift, or DARK), ``UDPHeatmap`` (DARK-UDP or the combined
offsets), ``RegressionLabel`` (with the RLE sigmas) and ``SimCCLabel``, of
the heads' flip-test merging (``flip_heatmaps``, ``flip_coordinates``,
``flip_vectors``) and of ``CocoMetric``'s pose rescoring. Each matches
MMPose's own code, border cases included.
"""
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'SUPPORTED_CODECS', 'decode_msra_heatmaps', 'decode_udp_heatmaps',
    'decode_regression', 'decode_simcc', 'decode_outputs',
    'merge_flipped_outputs', 'rescore_poses'
]

#: The codecs the runtime decodes.
SUPPORTED_CODECS = ('MSRAHeatmap', 'UDPHeatmap', 'RegressionLabel',
                    'SimCCLabel')


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


def decode_regression(coords: np.ndarray,
                      codec: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Decode as ``RegressionLabel.decode``, for a batch.

    Args:
        coords (np.ndarray): Normalised coordinates, optionally followed by
            two sigmas in [0, 1] (an RLE head's sigmoid already applied).
            Shape (N, K, 2) or (N, K, 4).
        codec (dict): The codec's ``input_size``.

    Returns:
        tuple: keypoints in input coordinates (N, K, 2) and scores (N, K):
        ``1 - mean(sigma)``, or ones without sigmas.
    """
    if coords.ndim != 3 or coords.shape[-1] not in (2, 4):
        raise ValueError('regression output should have shape (N, K, 2) or '
                         f'(N, K, 4), but got {coords.shape}')
    if coords.shape[-1] == 4:
        scores = (1 - coords[..., 2:4]).mean(axis=-1)
    else:
        scores = np.ones(coords.shape[:2], dtype=np.float32)
    width, height = codec['input_size']
    return coords[..., :2] * np.array([width, height]), scores


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray,
                 codec: Dict[str, Any]) -> Tuple[np.ndarray, np.ndarray]:
    """Decode as ``SimCCLabel.decode`` (without DARK), for a batch.

    Args:
        simcc_x (np.ndarray): x-axis SimCC. Shape (N, K, Wx).
        simcc_y (np.ndarray): y-axis SimCC. Shape (N, K, Wy).
        codec (dict): The codec's ``simcc_split_ratio`` and ``use_dark``.

    Returns:
        tuple: keypoints in input coordinates (N, K, 2) and scores (N, K),
        the smaller of the two maxima.
    """
    if codec.get('use_dark', False):
        raise ValueError('SimCCLabel with use_dark=True is not supported by '
                         'the runtime; export a model with use_dark=False')
    locs = np.stack([simcc_x.argmax(axis=-1),
                     simcc_y.argmax(axis=-1)], axis=-1).astype(np.float32)
    scores = np.minimum(simcc_x.max(axis=-1), simcc_y.max(axis=-1))
    locs[scores <= 0.] = -1
    return locs / codec.get('simcc_split_ratio', 2.0), scores


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # log-domain: no overflow for large negative logits
    return np.exp(-np.logaddexp(0., -x)).astype(x.dtype, copy=False)


def _flip_back(outputs: List[np.ndarray], meta: Dict[str, Any],
               flip_indices: Sequence[int]) -> List[np.ndarray]:
    """The outputs of horizontally flipped inputs, flipped back as MMPose's
    heads do before averaging (``flip_heatmaps``, ``flip_coordinates``,
    ``flip_vectors``)."""
    codec = meta['codec']
    test_cfg = meta.get('test_cfg') or {}
    if codec['type'] in ('MSRAHeatmap', 'UDPHeatmap'):
        heatmaps = outputs[0]
        mode = test_cfg.get('flip_mode', 'heatmap')
        num, channels, height, width = heatmaps.shape
        if mode == 'heatmap':
            heatmaps = heatmaps[:, flip_indices, :, ::-1]
        elif mode in ('udp_combined', 'offset'):
            group = 3 if mode == 'udp_combined' else 2
            maps = heatmaps.reshape(num, channels // group, group, height,
                                    width)[:, flip_indices, :, :, ::-1].copy()
            # the x offsets change sign
            maps[:, :, 1 if mode == 'udp_combined' else 0] *= -1
            heatmaps = maps.reshape(num, channels, height, width)
        else:
            raise ValueError(f'unsupported flip_mode {mode!r}')
        heatmaps = np.ascontiguousarray(heatmaps)
        if test_cfg.get('shift_heatmap', False):
            heatmaps[..., 1:] = heatmaps[..., :-1].copy()
        return [heatmaps]
    if codec['type'] == 'RegressionLabel':
        coords = outputs[0].copy()
        coords[..., 0] = 1.0 - coords[..., 0]
        if test_cfg.get('shift_coords', True):
            coords[..., 0] -= 1.0 / codec['input_size'][0]
        return [coords[:, flip_indices]]
    simcc_x, simcc_y = outputs
    return [simcc_x[:, flip_indices, ::-1], simcc_y[:, flip_indices]]


def merge_flipped_outputs(outputs: List[np.ndarray],
                          flipped: List[np.ndarray],
                          meta: Dict[str, Any]) -> List[np.ndarray]:
    """Average the outputs of the crops and of their mirror images.

    Args:
        outputs (list[np.ndarray]): Network outputs of the crops.
        flipped (list[np.ndarray]): Network outputs of the horizontally
            flipped crops.
        meta (dict): The model's runtime metadata (codec, ``test_cfg``,
            ``dataset_meta['flip_indices']``, ``sigmoid_sigma``).

    Returns:
        list[np.ndarray]: Merged outputs, ready for :func:`decode_outputs`
        (with the RLE sigmoid applied, as ``RLEHead.predict`` averages
        probabilities).
    """
    flip_indices = (meta.get('dataset_meta') or {}).get('flip_indices')
    if flip_indices is None:
        raise ValueError('flip test needs the keypoint flip_indices, which '
                         'the model metadata does not have')
    outputs = _activate(outputs, meta)
    flipped = _activate(_flip_back(flipped, meta, flip_indices), meta)
    return [(a + b) * 0.5 for a, b in zip(outputs, flipped)]


def _activate(outputs: List[np.ndarray],
              meta: Dict[str, Any]) -> List[np.ndarray]:
    """The RLE sigmoid on the sigma channels, where the head applies it."""
    if not meta.get('sigmoid_sigma', False):
        return outputs
    coords = outputs[0].copy()
    coords[..., 2:] = _sigmoid(coords[..., 2:])
    return [coords] + list(outputs[1:])


def decode_outputs(outputs: List[np.ndarray],
                   meta: Dict[str, Any],
                   merged: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Decode network outputs with the model's codec.

    Args:
        outputs (list[np.ndarray]): Network outputs, in the order of the
            metadata's ``output_names``.
        meta (dict): The model's runtime metadata.
        merged (bool): Whether ``outputs`` come from
            :func:`merge_flipped_outputs` (RLE sigmoid already applied).
            Defaults to False.

    Returns:
        tuple: keypoints in input coordinates (N, K, 2) and scores (N, K).
    """
    codec = meta['codec']
    if codec['type'] == 'MSRAHeatmap':
        return decode_msra_heatmaps(outputs[0], codec)
    if codec['type'] == 'UDPHeatmap':
        return decode_udp_heatmaps(outputs[0], codec)
    if codec['type'] == 'RegressionLabel':
        if not merged:
            outputs = _activate(outputs, meta)
        return decode_regression(outputs[0], codec)
    if codec['type'] == 'SimCCLabel':
        return decode_simcc(outputs[0], outputs[1], codec)
    raise ValueError(f'unsupported codec {codec["type"]!r}; the runtime '
                     f'decodes {SUPPORTED_CODECS}')


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

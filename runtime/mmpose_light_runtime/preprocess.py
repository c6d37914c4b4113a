"""Person boxes to network inputs, as MMPose's top-down test pipeline.

``GetBBoxCenterScale`` (box to center and padded size), ``TopdownAffine``
(size widened to the input's aspect ratio, bilinear affine warp) and the
data preprocessor (channel swap, ``(x - mean) / std``), in numpy and OpenCV.
The crops are bit-identical to MMPose's.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = [
    'check_bboxes', 'bbox_xyxy_to_center_scale', 'fix_aspect_ratio',
    'pose_areas', 'get_warp_matrix', 'crop_instances', 'normalize_crops'
]


def check_bboxes(bboxes, name: str = 'bboxes') -> np.ndarray:
    """Validate person boxes (x1, y1, x2, y2); zero boxes are fine.

    Args:
        bboxes (array-like): Boxes. Shape (N, 4).
        name (str): How the error messages call them.
            Defaults to ``'bboxes'``.

    Returns:
        np.ndarray: The boxes, float32 or float64 (float32 input stays
        float32: MMPose computes the crop in the box's own dtype, and its
        rounding decides edge pixels of the crop). Shape (N, 4).

    Raises:
        ValueError: If the shape is not (N, 4), or a box is not finite or
            has ``x2 <= x1`` or ``y2 <= y1``.
    """
    bboxes = np.asarray(bboxes)
    if bboxes.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if not np.issubdtype(bboxes.dtype, np.floating):
        bboxes = bboxes.astype(np.float64)
    if bboxes.ndim != 2 or bboxes.shape[1] != 4:
        raise ValueError(f'`{name}` should have shape (N, 4) as (x1, y1, x2, '
                         f'y2), but got {bboxes.shape}')
    bad = ~np.isfinite(bboxes).all(axis=1) | (bboxes[:, 2] <= bboxes[:, 0]) \
        | (bboxes[:, 3] <= bboxes[:, 1])
    if bad.any():
        raise ValueError(f'`{name}` should be finite (x1, y1, x2, y2) with '
                         f'x2 > x1 and y2 > y1, but got '
                         f'{bboxes[bad].tolist()} at rows '
                         f'{np.flatnonzero(bad).tolist()}')
    return bboxes


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


def pose_areas(bboxes: np.ndarray,
               input_size: Tuple[int, int],
               padding: float = 1.25) -> np.ndarray:
    """Pose areas as ``CocoMetric`` takes them for its NMS and OKS.

    ``CocoMetric`` uses ``prod(bbox_scales)``, the box size after
    ``GetBBoxCenterScale``'s padding and ``TopdownAffine``'s aspect-ratio
    fix: the area of the crop the network saw, in image pixels.

    Args:
        bboxes (np.ndarray): Person boxes (x1, y1, x2, y2). Shape (N, 4).
        input_size (tuple[int, int]): Network input size (w, h).
        padding (float): Box padding of the test pipeline.
            Defaults to 1.25.

    Returns:
        np.ndarray: Areas. Shape (N, ).
    """
    _, scales = bbox_xyxy_to_center_scale(np.asarray(bboxes), padding)
    width, height = input_size
    return np.prod(fix_aspect_ratio(scales, width / height), axis=1)


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
        np.ndarray: The crops, of the image's dtype. Shape (N, h, w, 3).
    """
    w, h = input_size
    crops = np.empty((len(centers), h, w, 3), dtype=image.dtype)
    for crop, center, scale in zip(crops, centers, scales):
        cv2.warpAffine(image,
                       get_warp_matrix(center, scale, input_size, use_udp),
                       (w, h),
                       dst=crop,
                       flags=cv2.INTER_LINEAR)
    return crops


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
    num, height, width, channels = crops.shape
    inputs = np.empty((num, channels, height, width), dtype=np.float32)
    if mean is not None:
        mean = np.asarray(mean, dtype=np.float32)
        std = np.asarray(std, dtype=np.float32)
    # One channel plane of one crop at a time, written in place: a plane
    # stays in cache between the cast-and-subtract and the divide, where
    # arithmetic on the whole transposed batch walks it with (h, w, 3)
    # strides and copies it four times (9x slower for 20 crops). The same
    # float32 operations in the same order: the values are identical.
    for crop, out in zip(crops, inputs):
        for dst in range(channels):
            src = channels - 1 - dst if swap_channels else dst
            if mean is None:
                out[dst] = crop[..., src]
                continue
            np.subtract(crop[..., src], mean[dst], out=out[dst],
                        dtype=np.float32)
            np.divide(out[dst], std[dst], out=out[dst])
    return inputs

"""Draw poses with OpenCV, in the dataset's skeleton and colours."""
from typing import Any, Dict, Optional

import cv2
import numpy as np

from .structures import PoseResult

__all__ = ['draw_poses']

# Colours of the track ids (BGR), cycled.
_TRACK_COLORS = np.array([[75, 25, 230], [75, 180, 60], [25, 225, 255],
                          [200, 130, 0], [48, 130, 245], [180, 30, 145],
                          [240, 240, 70], [230, 50, 240], [60, 245, 210],
                          [212, 190, 250]])


def _bgr(colors: Optional[list], num: int, default) -> np.ndarray:
    """Per-item BGR colours from the dataset's RGB ones (MMPose stores
    them as RGB), or ``default`` for all."""
    if colors is None or len(colors) != num:
        return np.tile(np.asarray(default), (num, 1))
    return np.asarray(colors, dtype=np.int64).reshape(num, 3)[:, ::-1]


def draw_poses(image: np.ndarray,
               result: PoseResult,
               dataset_meta: Optional[Dict[str, Any]] = None,
               kpt_thr: float = 0.3,
               radius: Optional[int] = None,
               thickness: Optional[int] = None,
               draw_bboxes: bool = True) -> np.ndarray:
    """Draw keypoints, skeleton links and boxes on a copy of ``image``.

    Links and keypoints scored below ``kpt_thr`` are left out. Boxes are
    drawn in their track's colour, with the track id, where tracked.

    Args:
        image (np.ndarray): BGR image. Shape (H, W, 3).
        result (PoseResult): The poses.
        dataset_meta (dict, optional): ``skeleton_links``,
            ``skeleton_link_colors`` and ``keypoint_colors`` (RGB), as the
            model metadata carries them. Defaults to None: keypoints only.
        kpt_thr (float): Keypoint score threshold. Defaults to 0.3.
        radius (int, optional): Keypoint radius. Defaults to None: scaled to
            the image size.
        thickness (int, optional): Line width. Defaults to None: scaled to
            the image size.
        draw_bboxes (bool): Draw the boxes. Defaults to True.

    Returns:
        np.ndarray: The drawn image (uint8 BGR).
    """
    canvas = np.ascontiguousarray(image, dtype=np.uint8).copy()
    scale = max(canvas.shape[:2]) / 640
    radius = radius or max(2, round(3 * scale))
    thickness = thickness or max(1, round(2 * scale))
    meta = dataset_meta or {}
    num_keypoints = result.keypoints.shape[1]
    links = meta.get('skeleton_links') or []
    link_colors = _bgr(meta.get('skeleton_link_colors'), len(links),
                       (0, 255, 0))
    kpt_colors = _bgr(meta.get('keypoint_colors'), num_keypoints,
                      (0, 165, 255))
    for i in range(len(result)):
        kpts = result.keypoints[i]
        visible = result.keypoint_scores[i] > kpt_thr
        if draw_bboxes:
            track = int(result.track_ids[i])
            color = (255, 200, 0) if track < 0 else tuple(
                int(c) for c in _TRACK_COLORS[track % len(_TRACK_COLORS)])
            x1, y1, x2, y2 = (int(round(v)) for v in result.bboxes[i])
            cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
            if track >= 0:
                cv2.putText(canvas, f'id {track}', (x1, max(0, y1 - 4)),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, color,
                            thickness)
        for (a, b), color in zip(links, link_colors):
            if a < num_keypoints and b < num_keypoints and visible[a] \
                    and visible[b]:
                cv2.line(canvas, tuple(int(round(v)) for v in kpts[a]),
                         tuple(int(round(v)) for v in kpts[b]),
                         tuple(int(c) for c in color), thickness,
                         cv2.LINE_AA)
        for k in np.flatnonzero(visible):
            cv2.circle(canvas, tuple(int(round(v)) for v in kpts[k]), radius,
                       tuple(int(c) for c in kpt_colors[k]), -1, cv2.LINE_AA)
    return canvas

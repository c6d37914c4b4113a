"""Pose tracking across video frames.

:class:`PoseTracker` gives each pose of a frame a track id by matching it to
the poses of the frames before by Object Keypoint Similarity, greedily,
best pair first; :func:`bboxes_from_poses` turns a frame's poses into the
person boxes of the next frame, so that a detector needs to run only every
few frames.
"""
from typing import Optional

import numpy as np

from .checks import check_int, check_number
from .nms import pairwise_oks
from .structures import PoseResult

__all__ = ['PoseTracker', 'bboxes_from_poses', 'box_iou', 'oks_between']


def oks_between(a: PoseResult, b: PoseResult,
                sigmas: Optional[np.ndarray] = None) -> np.ndarray:
    """OKS of every pose of ``a`` with every pose of ``b``.

    Args:
        a (PoseResult): N poses.
        b (PoseResult): M poses.
        sigmas (np.ndarray, optional): Per-keypoint sigmas. Defaults to
            None: COCO's.

    Returns:
        np.ndarray: Shape (N, M).
    """
    keypoints = np.concatenate([a.keypoints, b.keypoints]).astype(np.float64)
    areas = np.concatenate([a.areas, b.areas]).astype(np.float64)
    return pairwise_oks(keypoints, areas, sigmas)[:len(a), len(a):]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4),
    both (x1, y1, x2, y2); (N, M)."""
    low = np.maximum(a[:, None, :2], b[None, :, :2])
    high = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=-1)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=-1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=-1)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.)


def bboxes_from_poses(result: PoseResult,
                      kpt_thr: float = 0.3,
                      padding: float = 1.25,
                      max_resize: float = 1.25) -> np.ndarray:
    """Person boxes around each pose's confident keypoints.

    The box of a pose's keypoints scored above ``kpt_thr`` (all of them if
    fewer than two are), grown by ``padding`` around its center. Its width
    and height stay within ``max_resize`` times those of the pose's own box:
    a person moves between two frames but hardly changes size, while the
    keypoints of a poorly seen person (small, occluded) may collapse or
    spread, and a box that followed them would lose the person. A pose
    without extent keeps its own box.

    Args:
        result (PoseResult): The poses.
        kpt_thr (float): Keypoint score threshold. Defaults to 0.3.
        padding (float): Growth factor of the keypoints' box, for the body
            outline beyond the keypoints. Defaults to 1.25.
        max_resize (float): Largest change of a box side, as a factor.
            Defaults to 1.25.

    Returns:
        np.ndarray: Boxes (x1, y1, x2, y2). Shape (N, 4).
    """
    boxes = result.bboxes.astype(np.float64)
    for i, (kpts, scores) in enumerate(
            zip(result.keypoints, result.keypoint_scores)):
        confident = kpts[scores > kpt_thr]
        if len(confident) < 2:
            confident = kpts
        low, high = confident.min(axis=0), confident.max(axis=0)
        if not np.all(high > low):
            continue
        size = boxes[i, 2:] - boxes[i, :2]
        half = np.clip((high - low) * padding, size / max_resize,
                       size * max_resize) / 2
        center = (low + high) / 2
        boxes[i] = np.concatenate([center - half, center + half])
    return boxes


class PoseTracker:
    """Assign track ids by matching poses to earlier frames' poses.

    Each pose of a frame is matched to an active track (one seen in the
    last ``max_age`` frames) by OKS with the track's last pose, greedily:
    the best-matching pair first, no pair below ``oks_thr``. Poses and
    tracks left over are then matched the same way by the IoU of their
    boxes, no pair below ``iou_thr``: the keypoints of a small or occluded
    person can change more between frames than their box. Unmatched poses
    start new tracks with fresh ids.

    Args:
        oks_thr (float): Least OKS of a match. Defaults to 0.3.
        iou_thr (float): Least box IoU of a match among the poses and
            tracks that OKS left unmatched. Defaults to 0.5.
        max_age (int): Frames a track stays matchable after it was last
            seen. Defaults to 10.
        sigmas (np.ndarray, optional): Per-keypoint sigmas. Defaults to
            None: COCO's.
    """

    def __init__(self,
                 oks_thr: float = 0.3,
                 iou_thr: float = 0.5,
                 max_age: int = 10,
                 sigmas: Optional[np.ndarray] = None) -> None:
        check_number('`oks_thr`', oks_thr, 0, 1)
        check_number('`iou_thr`', iou_thr, 0, 1)
        check_int('`max_age`', max_age, 1)
        self.oks_thr = oks_thr
        self.iou_thr = iou_thr
        self.max_age = max_age
        self.sigmas = sigmas
        self.reset()

    def reset(self) -> None:
        """Forget every track."""
        self.tracks = None  # PoseResult of the tracks' last poses
        self.last_seen = np.zeros(0, dtype=np.int64)
        self.next_id = 0
        self.frame = -1

    def update(self, result: PoseResult) -> PoseResult:
        """Give the poses of the next frame their track ids, in place.

        Args:
            result (PoseResult): The frame's poses.

        Returns:
            PoseResult: ``result``, with ``track_ids`` set.
        """
        self.frame += 1
        ids = np.full(len(result), -1, dtype=np.int64)
        if self.tracks is not None and len(self.tracks) and len(result):
            inactive = self.frame - self.last_seen > self.max_age
            track_ids = self.tracks.track_ids
            oks = oks_between(result, self.tracks, self.sigmas)
            self._match(oks, self.oks_thr, inactive, track_ids, ids)
            iou = box_iou(result.bboxes, self.tracks.bboxes)
            self._match(iou, self.iou_thr, inactive, track_ids, ids)
        new = ids < 0
        ids[new] = np.arange(self.next_id, self.next_id + new.sum())
        self.next_id += int(new.sum())
        result.track_ids = ids
        self._remember(result)
        return result

    @staticmethod
    def _match(similarity: np.ndarray, thr: float, inactive: np.ndarray,
               track_ids: np.ndarray, ids: np.ndarray) -> None:
        """Greedily give the unmatched poses (``ids`` -1) the ids of the
        still free active tracks, best pair first, none below ``thr``."""
        similarity = similarity.copy()
        similarity[:, inactive | np.isin(track_ids, ids)] = -1
        similarity[ids >= 0] = -1
        for flat in np.argsort(-similarity, axis=None, kind='stable'):
            pose, track = np.unravel_index(flat, similarity.shape)
            if similarity[pose, track] < thr:
                break
            if ids[pose] >= 0 or track_ids[track] in ids:
                continue
            ids[pose] = track_ids[track]

    def _remember(self, result: PoseResult) -> None:
        """Keep the frame's poses and the still active unmatched tracks."""
        if self.tracks is None or not len(self.tracks):
            self.tracks = result.select(slice(None))
            self.last_seen = np.full(len(result), self.frame)
            return
        lost = ~np.isin(self.tracks.track_ids, result.track_ids) & (
            self.frame - self.last_seen < self.max_age)
        self.tracks = PoseResult.concatenate(
            [result, self.tracks.select(lost)])
        self.last_seen = np.concatenate(
            [np.full(len(result), self.frame), self.last_seen[lost]])

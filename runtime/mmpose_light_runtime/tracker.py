"""Pose tracking across video frames.

:class:`PoseTracker` gives each pose of a frame a track id by matching it to
the poses of the frames before by Object Keypoint Similarity, greedily,
best pair first; :func:`bboxes_from_poses` turns a frame's poses into the
person boxes of the next frame, so that a detector needs to run only every
few frames.
"""
from typing import Optional

import numpy as np

from .nms import pairwise_oks
from .structures import PoseResult

__all__ = ['PoseTracker', 'bboxes_from_poses', 'oks_between']


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


def bboxes_from_poses(result: PoseResult,
                      kpt_thr: float = 0.3,
                      padding: float = 1.25) -> np.ndarray:
    """Person boxes around each pose's confident keypoints.

    The box of a pose's keypoints scored above ``kpt_thr`` (all of them if
    fewer than two are), grown by ``padding`` around its center; a pose
    without extent keeps its own box.

    Args:
        result (PoseResult): The poses.
        kpt_thr (float): Keypoint score threshold. Defaults to 0.3.
        padding (float): Growth factor of the keypoints' box, for the body
            outline beyond the keypoints. Defaults to 1.25.

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
        center, half = (low + high) / 2, (high - low) / 2 * padding
        boxes[i] = np.concatenate([center - half, center + half])
    return boxes


class PoseTracker:
    """Assign track ids by matching poses to earlier frames' poses.

    Each pose of a frame is matched to an active track (one seen in the
    last ``max_age`` frames) by OKS with the track's last pose, greedily:
    the best-matching pair first, no pair below ``oks_thr``. Unmatched poses
    start new tracks with fresh ids.

    Args:
        oks_thr (float): Least OKS of a match. Defaults to 0.3.
        max_age (int): Frames a track stays matchable after it was last
            seen. Defaults to 10.
        sigmas (np.ndarray, optional): Per-keypoint sigmas. Defaults to
            None: COCO's.
    """

    def __init__(self,
                 oks_thr: float = 0.3,
                 max_age: int = 10,
                 sigmas: Optional[np.ndarray] = None) -> None:
        if not 0 <= oks_thr <= 1:
            raise ValueError(f'`oks_thr` should be in [0, 1], got {oks_thr}')
        if not isinstance(max_age, int) or max_age < 1:
            raise ValueError(
                f'`max_age` should be a positive int, got {max_age!r}')
        self.oks_thr = oks_thr
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
            active = self.frame - self.last_seen <= self.max_age
            oks = oks_between(result, self.tracks, self.sigmas)
            oks[:, ~active] = -1
            for flat in np.argsort(-oks, axis=None, kind='stable'):
                pose, track = np.unravel_index(flat, oks.shape)
                if oks[pose, track] < self.oks_thr:
                    break
                if ids[pose] >= 0 or np.isin(self.tracks.track_ids[track],
                                             ids):
                    continue
                ids[pose] = self.tracks.track_ids[track]
        new = ids < 0
        ids[new] = np.arange(self.next_id, self.next_id + new.sum())
        self.next_id += int(new.sum())
        result.track_ids = ids
        self._remember(result)
        return result

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

"""The poses found in one frame."""
from dataclasses import dataclass, fields
from typing import Any, Dict, List, Sequence

import numpy as np

__all__ = ['PoseResult']


@dataclass
class PoseResult:
    """Poses of one frame, one row per person; zero rows are normal.

    Note:
        - number of poses: N (may be 0)
        - number of keypoints: K

    Attributes:
        keypoints (np.ndarray): Keypoints in image pixels, float32.
            Shape (N, K, 2).
        keypoint_scores (np.ndarray): Keypoint scores, float32.
            Shape (N, K).
        bboxes (np.ndarray): The person boxes the poses were estimated in,
            (x1, y1, x2, y2). Shape (N, 4).
        bbox_scores (np.ndarray): Their detection scores. Shape (N, ).
        scores (np.ndarray): Pose scores: the boxes' scores rescored with
            the keypoint scores as ``CocoMetric`` does, then decayed by the
            NMS, if any. Shape (N, ).
        areas (np.ndarray): Pose areas as ``CocoMetric`` takes them (the
            crop's size in image pixels). Shape (N, ).
        track_ids (np.ndarray): Track id of each pose, -1 where untracked.
            Shape (N, ), int64.
    """
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    bboxes: np.ndarray
    bbox_scores: np.ndarray
    scores: np.ndarray
    areas: np.ndarray
    track_ids: np.ndarray

    def __post_init__(self) -> None:
        num = len(self.keypoints)
        for field in fields(self):
            value = getattr(self, field.name)
            if len(value) != num:
                raise ValueError(f'PoseResult.{field.name} has {len(value)} '
                                 f'rows, keypoints has {num}')

    @classmethod
    def empty(cls, num_keypoints: int) -> 'PoseResult':
        """A result without poses, of the right shapes and dtypes.

        Args:
            num_keypoints (int): K.

        Returns:
            PoseResult: keypoints of shape (0, K, 2), and so on.
        """
        return cls(
            keypoints=np.zeros((0, num_keypoints, 2), dtype=np.float32),
            keypoint_scores=np.zeros((0, num_keypoints), dtype=np.float32),
            bboxes=np.zeros((0, 4), dtype=np.float32),
            bbox_scores=np.zeros(0, dtype=np.float32),
            scores=np.zeros(0, dtype=np.float32),
            areas=np.zeros(0, dtype=np.float32),
            track_ids=np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.keypoints)

    def select(self, index: np.ndarray) -> 'PoseResult':
        """The poses at ``index`` (indices or a boolean mask), in its order.
        """
        return PoseResult(**{
            field.name: getattr(self, field.name)[index]
            for field in fields(self)
        })

    @classmethod
    def concatenate(cls, results: Sequence['PoseResult']) -> 'PoseResult':
        """The poses of several results, in order (at least one result)."""
        return cls(**{
            field.name: np.concatenate(
                [getattr(result, field.name) for result in results])
            for field in fields(cls)
        })

    def to_coco(self, image_id: int,
                category_id: int = 1) -> List[Dict[str, Any]]:
        """The poses in COCO's keypoint results format.

        Args:
            image_id (int): The image (or frame) id.
            category_id (int): The category. Defaults to 1 (person).

        Returns:
            list[dict]: One dict per pose: ``image_id``, ``category_id``,
            ``keypoints`` (x1, y1, s1, x2, ...), ``score``, ``bbox``
            (x, y, w, h), and ``track_id`` where tracked.
        """
        results = []
        for i in range(len(self)):
            kpts = np.concatenate(
                [self.keypoints[i], self.keypoint_scores[i][:, None]], axis=1)
            x1, y1, x2, y2 = (float(v) for v in self.bboxes[i])
            entry = dict(
                image_id=int(image_id),
                category_id=int(category_id),
                keypoints=[round(float(v), 3) for v in kpts.ravel()],
                score=float(self.scores[i]),
                bbox=[x1, y1, x2 - x1, y2 - y1])
            if self.track_ids[i] >= 0:
                entry['track_id'] = int(self.track_ids[i])
            results.append(entry)
        return results

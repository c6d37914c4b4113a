"""``matrix_oks_nms_db``: MMPose's ``oks_nms``, exactly, on the OKS matrix.

MMPose's ``oks_nms`` takes the dict list that ``CocoMetric`` builds and
calls ``oks_iou``, itself a loop over poses, once per kept pose. This
drop-in takes the same arguments, keeps the same poses in the same order,
and computes the OKS of every pair that can exceed ``thr`` at once with
:func:`mmpose_light_runtime.nms.greedy_oks_nms`. It is user API for code
written against ``oks_nms``; for score decay use ``matrix_oks_nms``.
"""
from typing import List, Optional

import numpy as np

from mmpose_light_runtime.nms import greedy_oks_nms

__all__ = ['matrix_oks_nms_db']


def matrix_oks_nms_db(kpts_db: List[dict],
                      thr: float,
                      sigmas: Optional[np.ndarray] = None,
                      vis_thr: Optional[float] = None,
                      score_per_joint: bool = False) -> np.ndarray:
    """MMPose's ``oks_nms``, computed on the OKS matrix: a drop-in.

    Same arguments, same kept poses in the same order: visiting the poses
    by descending score (ties as ``scores.argsort()[::-1]`` orders them), a
    pose is removed when its OKS with a kept pose exceeds ``thr``, with OKS
    rounded to float32 as ``oks_iou`` returns it.

    Differences from ``oks_nms``: NaN or inf in the keypoints, scores or
    areas raise ``ValueError`` naming the pose (``oks_nms`` orders and
    compares them silently), an empty ``kpts_db`` gives an empty int64
    array rather than a list, and an OKS that differs from ``oks_iou``'s by
    float rounding could fall on the other side of ``thr``.

    Args:
        kpts_db (List[dict]): The poses of one image, each with
            ``'keypoints'`` (K, 3) as (x, y, score), ``'score'`` (a float, or
            (K, ) with ``score_per_joint``) and ``'area'``.
        thr (float): OKS threshold in [0, 1]: a pose overlapping a kept one
            by more than ``thr`` is removed.
        sigmas (np.ndarray, optional): Per-keypoint labelling uncertainty.
            Shape (K, ). Defaults to ``None``: the COCO sigmas.
        vis_thr (float, optional): If given, OKS averages only the keypoints
            scored above ``vis_thr`` in both poses. Defaults to ``None``.
        score_per_joint (bool): Whether ``'score'`` holds per-keypoint
            scores, averaged into the pose score. Defaults to ``False``.

    Returns:
        np.ndarray: Indices of the kept poses, by descending score. Shape
        (M, ), int64.
    """
    if len(kpts_db) == 0:
        # as oks_nms, which reads no argument then
        return np.zeros(0, dtype=np.int64)
    # the scores exactly as oks_nms builds them, so that they sort alike
    if score_per_joint:
        scores = np.array([np.asarray(k['score']).mean() for k in kpts_db])
    else:
        scores = np.array([k['score'] for k in kpts_db])
    kpts = np.stack([
        np.asarray(k['keypoints'], dtype=np.float64).reshape(-1, 3)
        for k in kpts_db
    ])
    areas = np.array([k['area'] for k in kpts_db], dtype=np.float64)
    return greedy_oks_nms(kpts[..., :2],
                          scores,
                          areas,
                          thr,
                          sigmas=sigmas,
                          keypoint_scores=kpts[..., 2],
                          vis_thr=vis_thr)

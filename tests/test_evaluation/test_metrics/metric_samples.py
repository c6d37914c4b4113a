"""Top-down data samples with redundant poses for the metric tests, and the
rescoring and areas that CocoMetric applies, for references by hand."""
import copy
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional

import numpy as np
from mmengine.fileio import load
from mmpose_light_runtime.preprocess import (bbox_xyxy_to_center_scale,
                                             fix_aspect_ratio, pose_areas)

SAMPLE = osp.join(osp.dirname(__file__), *[osp.pardir] * 3, 'data',
                  'sample', 'coco')
# (w, h) of the 256x192 configs
INPUT_SIZE = (192, 256)


def pipeline_scales(bboxes: np.ndarray) -> np.ndarray:
    """``bbox_scales`` as MMPose's top-down test pipeline packs them
    (``GetBBoxCenterScale`` with padding 1.25, then ``TopdownAffine``'s
    aspect-ratio fix), whose product is what CocoMetric takes as areas."""
    scales = fix_aspect_ratio(
        bbox_xyxy_to_center_scale(bboxes)[1], INPUT_SIZE[0] / INPUT_SIZE[1])
    np.testing.assert_array_equal(np.prod(scales, axis=1),
                                  pose_areas(bboxes, INPUT_SIZE))
    return scales


def all_keypoints(ann: dict) -> np.ndarray:
    """An annotation's keypoints (K, 3), COCO-WholeBody parts appended."""
    kpts = list(ann['keypoints'])
    for part in ('foot_kpts', 'face_kpts', 'lefthand_kpts',
                 'righthand_kpts'):
        kpts += ann.get(part, [])
    return np.array(kpts, dtype=np.float64).reshape(-1, 3)


def redundant_samples(ann_file: str,
                      copies: int = 4,
                      seed: int = 0,
                      raw_ann_info: bool = False) -> List[dict]:
    """Data samples as a top-down model on redundant person boxes gives.

    Each annotated person gets ``copies`` boxes, as a detector's duplicates:
    its own, then jittered ones scored almost as high; each pose is the
    person's keypoints plus noise growing with the copy, so that later
    copies are worse and, scored above other people's poses, cost AP
    unless suppressed. Keypoint scores are the labels' visibility (0 or 1)
    mixed with noise. With ``raw_ann_info`` the first copy carries the
    annotation, for metrics that convert the ground truth of the samples.
    """
    rng = np.random.default_rng(seed)
    samples = []
    for ann in load(ann_file)['annotations']:
        kpts = all_keypoints(ann)
        x, y, w, h = ann['bbox']
        person_score = rng.uniform(0.4, 1.0)
        for n in range(copies):
            jitter = rng.normal(0, 0.03 * n, 4) * [w, h, w, h]
            box = np.array([[x, y, x + w, y + h]]) + jitter
            noise = rng.normal(0, 0.005 + 0.01 * n, kpts[:, :2].shape)
            sample = dict(
                id=ann['id'] * 10 + n,
                img_id=ann['image_id'],
                category_id=1,
                ori_shape=[640, 480],
                pred_instances=dict(
                    keypoints=(kpts[None, :, :2] +
                               noise * np.sqrt(w * h)).astype(np.float32),
                    keypoint_scores=np.clip(
                        (kpts[None, :, 2] > 0) * 0.8 +
                        rng.uniform(0, 0.2, (1, len(kpts))), 0,
                        1).astype(np.float32)),
                gt_instances=dict(
                    bbox_scores=np.array([person_score * (1 - 0.05 * n)]),
                    bbox_scales=pipeline_scales(box),
                    keypoints=kpts[None, :, :2],
                    keypoints_visible=kpts[None, :, 2]))
            if raw_ann_info:
                # the annotation once, as a test on ground-truth boxes has it
                sample['raw_ann_info'] = [copy.deepcopy(ann)] if n == 0 else []
            samples.append(sample)
    return samples


def rescored_by_image(samples: List[dict],
                      keypoint_ids: Optional[List[int]] = None,
                      keypoint_score_thr: float = 0.2) -> Dict[int, dict]:
    """Per image: keypoints, keypoint scores, CocoMetric's pose scores (box
    score times the mean keypoint score above the threshold), areas
    (``prod(bbox_scales)``) and the samples, optionally on some keypoints.
    """
    groups = defaultdict(list)
    for sample in samples:
        groups[sample['img_id']].append(sample)
    images = {}
    for img_id, group in groups.items():
        ids = slice(None) if keypoint_ids is None else keypoint_ids
        kpts = np.concatenate(
            [s['pred_instances']['keypoints'][:, ids] for s in group])
        kpt_scores = np.concatenate(
            [s['pred_instances']['keypoint_scores'][:, ids] for s in group])
        valid = kpt_scores > keypoint_score_thr
        mean_kpt = (kpt_scores * valid).sum(1) / np.maximum(valid.sum(1), 1)
        box_scores = np.concatenate(
            [s['gt_instances']['bbox_scores'] for s in group])
        areas = np.array(
            [np.prod(s['gt_instances']['bbox_scales']) for s in group])
        images[img_id] = dict(keypoints=kpts.astype(np.float64),
                              keypoint_scores=kpt_scores.astype(np.float64),
                              scores=box_scores * mean_kpt,
                              areas=areas,
                              samples=group)
    return images

import json
import os.path as osp
from collections import defaultdict

import numpy as np
import pytest
import torch
from mmpose.datasets.datasets.body import CocoDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import METRICS
from mmpose.structures.bbox import bbox_overlaps, bbox_xywh2xyxy
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

from metric_samples import INPUT_SIZE, pipeline_scales
from mmpose_light_runtime import pose_areas

import mmpose_light  # noqa: F401
from mmpose_light.evaluation import MatrixNMSCocoMetric, matrix_oks_nms

SAMPLE = osp.join(osp.dirname(__file__), *[osp.pardir] * 3, 'data', 'sample',
                  'coco')
ANN_FILE = osp.join(SAMPLE, 'test_coco.json')
DET_FILE = osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')
SIGMAS = parse_pose_metainfo(CocoDataset.METAINFO)['sigmas']


def overlaps_xywh(box, boxes) -> np.ndarray:
    """IoU of an xywh box with (M, 4) xywh boxes, by MMPose's
    ``bbox_overlaps``."""
    as_xyxy = [bbox_xywh2xyxy(np.array(b, dtype=np.float64).reshape(-1, 4))
               for b in (box, boxes)]
    return bbox_overlaps(*map(torch.from_numpy, as_xyxy))[0].numpy()


def sample_predictions(seed=0):
    """A pose per bundled detection: its best-overlapping person + noise."""
    with open(ANN_FILE) as f:
        anns = json.load(f)['annotations']
    with open(DET_FILE) as f:
        dets = json.load(f)
    rng = np.random.default_rng(seed)
    samples = []
    for n, det in enumerate(dets):
        people = [a for a in anns if a['image_id'] == det['image_id']]
        boxes = np.array([a['bbox'] for a in people])
        person = people[int(overlaps_xywh(det['bbox'], boxes).argmax())]
        kpts = np.array(person['keypoints'], dtype=np.float32).reshape(-1, 3)
        size = np.sqrt(det['bbox'][2] * det['bbox'][3])
        coords = kpts[:, :2] + rng.normal(0, 0.05 * size, (17, 2))
        samples.append(
            dict(id=n,
                 img_id=det['image_id'],
                 category_id=1,
                 pred_instances=dict(keypoints=coords[None].astype(np.float32),
                                     keypoint_scores=rng.uniform(
                                         0, 1, (1, 17)).astype(np.float32)),
                 gt_instances=dict(bbox_scores=np.array([det['score']],
                                                        dtype=np.float32),
                                   bbox_scales=pipeline_scales(
                                       det_xyxy(det)))))
    return samples


def det_xyxy(det):
    return bbox_xywh2xyxy(np.array([det['bbox']], dtype=np.float64))


def coco_ap(results, res_file):
    """COCO keypoint AP of a list of result dicts."""
    with open(res_file, 'w') as f:
        json.dump(results, f)
    coco = COCO(ANN_FILE)
    coco_eval = COCOeval(coco, coco.loadRes(res_file), 'keypoints', SIGMAS,
                         True)
    coco_eval.params.useSegm = None
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats[0]


def by_hand(samples, kernel, sigma, score_thr=0.2):
    """Rescore as CocoMetric does, then matrix_oks_nms per image."""
    with open(DET_FILE) as f:
        dets = json.load(f)
    per_image = defaultdict(list)
    for s in samples:
        s = dict(s, xyxy=det_xyxy(dets[s['id']]))
        per_image[s['img_id']].append(s)
    results = []
    for img_id, group in per_image.items():
        kpts = np.concatenate(
            [s['pred_instances']['keypoints'] for s in group])
        kpt_scores = np.concatenate(
            [s['pred_instances']['keypoint_scores'] for s in group])
        box_scores = np.concatenate(
            [s['gt_instances']['bbox_scores'] for s in group])
        # the detection boxes' areas as MMPose's pipeline makes them
        areas = pose_areas(np.concatenate([s['xyxy'] for s in group]),
                           INPUT_SIZE)
        valid = kpt_scores > score_thr
        mean_kpt = (kpt_scores * valid).sum(1) / np.maximum(valid.sum(1), 1)
        scores = box_scores * mean_kpt
        keep, decayed = matrix_oks_nms(kpts,
                                       kpt_scores,
                                       scores,
                                       areas,
                                       SIGMAS,
                                       kernel=kernel,
                                       sigma=sigma)
        assert len(keep) == len(group)
        for i in keep:
            results.append(
                dict(
                    image_id=img_id,
                    category_id=1,
                    keypoints=np.concatenate([kpts[i], kpt_scores[i][:, None]],
                                             1).ravel().tolist(),
                    score=float(decayed[i])))
    return results


def run_metric(samples, tmp_path, **kwargs):
    metric = METRICS.build(
        dict(type='MatrixNMSCocoMetric',
             ann_file=ANN_FILE,
             outfile_prefix=str(tmp_path / 'metric'),
             **kwargs))
    metric.dataset_meta = parse_pose_metainfo(CocoDataset.METAINFO)
    metric.process([], samples)
    return metric.evaluate(len(samples))['coco/AP']


@pytest.mark.parametrize('kernel,sigma', [('gaussian', 2.0), ('linear', 2.0)])
def test_ap_equals_function_by_hand(tmp_path, kernel, sigma):
    samples = sample_predictions()
    ap = run_metric(samples, tmp_path, nms_kernel=kernel, nms_sigma=sigma)
    expected_results = by_hand(samples, kernel, sigma)
    expected_ap = coco_ap(expected_results, str(tmp_path / 'hand.json'))
    assert ap == pytest.approx(expected_ap, abs=1e-12)

    # the result file holds the decayed scores, not CocoMetric's
    with open(tmp_path / 'metric.keypoints.json') as f:
        written = json.load(f)
    assert len(written) == len(samples) == 118
    for results in (written, expected_results):
        results.sort(key=lambda r: (r['image_id'], r['score']))
    assert [r['image_id']
            for r in written] == [r['image_id'] for r in expected_results]
    # the rescoring sums float32 keypoint scores in another order
    np.testing.assert_allclose([r['score'] for r in written],
                               [r['score'] for r in expected_results],
                               rtol=1e-5)
    np.testing.assert_allclose([r['keypoints'] for r in written],
                               [r['keypoints'] for r in expected_results],
                               rtol=1e-6)

    # and they matter: without NMS the same poses evaluate differently
    ap_none = run_metric(samples, tmp_path, nms_mode='none')
    assert ap != pytest.approx(ap_none, abs=1e-6)


def test_stock_modes_unchanged(tmp_path):
    samples = sample_predictions(seed=1)
    for mode in ('oks_nms', 'soft_oks_nms', 'none'):
        stock = METRICS.build(
            dict(type='CocoMetric', ann_file=ANN_FILE, nms_mode=mode))
        stock.dataset_meta = parse_pose_metainfo(CocoDataset.METAINFO)
        stock.process([], samples)
        expected = stock.evaluate(len(samples))['coco/AP']
        assert run_metric(samples, tmp_path, nms_mode=mode) == expected


def test_bad_arguments():
    with pytest.raises(ValueError, match='box'):
        MatrixNMSCocoMetric(nms_kernel='box')
    with pytest.raises(ValueError, match='nms_sigma'):
        MatrixNMSCocoMetric(nms_sigma=-1.0)
    with pytest.raises(ValueError, match='nms_max_num'):
        MatrixNMSCocoMetric(nms_max_num=0)
    with pytest.raises(ValueError, match='nms_mode'):
        MatrixNMSCocoMetric(nms_mode='matrix')


def test_bad_predictions_name_their_image(tmp_path):
    samples = sample_predictions(seed=2)
    broken = [dict(s) for s in samples]
    broken[7]['gt_instances'] = dict(broken[7]['gt_instances'],
                                     bbox_scores=np.array([np.nan]))
    with pytest.raises(ValueError, match=f"image {broken[7]['img_id']}: "
                       '`scores` should be finite'):
        run_metric(broken, tmp_path)
    # sigmas of another dataset
    metric = MatrixNMSCocoMetric(ann_file=ANN_FILE)
    meta = parse_pose_metainfo(CocoDataset.METAINFO)
    meta['sigmas'] = meta['sigmas'][:12]
    metric.dataset_meta = meta
    metric.process([], samples)
    with pytest.raises(ValueError, match=r'`sigmas` should have shape '
                       r'\(17,\), but got \(12,\)'):
        metric.evaluate(len(samples))


def test_one_pose_per_image_equal_scores_and_zero_areas(tmp_path):
    samples = sample_predictions(seed=3)
    # one pose per image: nothing to suppress, NMS changes nothing
    firsts = {}
    for s in samples:
        firsts.setdefault(s['img_id'], s)
    one_each = list(firsts.values())
    assert run_metric(one_each, tmp_path) == run_metric(
        one_each, tmp_path, nms_mode='none')
    # zero areas: only identical poses overlap, so nothing decays
    flat = [
        dict(s, gt_instances=dict(s['gt_instances'],
                                  bbox_scales=np.zeros((1, 2))))
        for s in samples
    ]
    assert run_metric(flat, tmp_path) == run_metric(flat, tmp_path,
                                                    nms_mode='none')
    # all-equal scores: CocoMetric orders an image's poses by sample id,
    # and the first of them is the one not decayed
    equal = [
        dict(s, gt_instances=dict(s['gt_instances'],
                                  bbox_scores=np.array([0.5])))
        for s in samples
    ]
    run_metric(equal, tmp_path, score_mode='bbox')
    with open(tmp_path / 'metric.keypoints.json') as f:
        written = json.load(f)
    for img_id, first in firsts.items():
        results = [r for r in written if r['image_id'] == img_id]
        assert results[0]['score'] == 0.5
        np.testing.assert_allclose(
            np.reshape(results[0]['keypoints'], (17, 3))[:, :2],
            first['pred_instances']['keypoints'][0], rtol=1e-6)
        assert min(r['score'] for r in results) < 0.5

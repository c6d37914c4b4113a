"""MatrixNMSCocoWholeBodyMetric on MMPose's COCO-WholeBody test annotations
(data/sample/coco/test_coco_wholebody.json) with redundant poses."""
import json
import os.path as osp

import numpy as np
import pytest
from metric_samples import SAMPLE, redundant_samples, rescored_by_image
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.datasets.datasets.wholebody import CocoWholeBodyDataset
from mmpose.registry import METRICS

import mmpose_light  # noqa: F401
from mmpose_light.evaluation import (MatrixNMSCocoWholeBodyMetric,
                                     matrix_oks_nms)

ANN_FILE = osp.join(SAMPLE, 'test_coco_wholebody.json')
PREFIX = 'coco-wholebody/'


def meta():
    return parse_pose_metainfo(CocoWholeBodyDataset.METAINFO)


def evaluate(samples, tmp_path, name='metric', **kwargs):
    cfg = dict(type='MatrixNMSCocoWholeBodyMetric', ann_file=ANN_FILE,
               outfile_prefix=str(tmp_path / name))
    cfg.update(kwargs)
    metric = METRICS.build(cfg)
    metric.dataset_meta = meta()
    metric.process([], samples)
    return metric.evaluate(len(samples))


def by_hand(samples, kernel, sigma, score_thr):
    """CocoMetric's rescoring, matrix_oks_nms per image over all 133
    keypoints, and the kept poses with their decayed scores as box scores.
    """
    sigmas = meta()['sigmas']
    kept, ratios = [], []
    for image in rescored_by_image(samples).values():
        keep, decayed = matrix_oks_nms(image['keypoints'],
                                       image['keypoint_scores'],
                                       image['scores'], image['areas'],
                                       sigmas, kernel=kernel, sigma=sigma,
                                       score_thr=score_thr)
        ratios += (decayed / np.maximum(image['scores'], 1e-9)).tolist()
        for i in keep:
            sample = dict(image['samples'][i])
            sample['gt_instances'] = dict(sample['gt_instances'],
                                          bbox_scores=np.array([decayed[i]]))
            kept.append(sample)
    return kept, np.array(ratios)


@pytest.mark.parametrize('kernel,sigma,score_thr', [('gaussian', 2.0, 0.0),
                                                    ('gaussian', 1.0, 0.2),
                                                    ('linear', 2.0, 0.2)])
def test_equals_nms_by_hand_then_stock_metric(tmp_path, kernel, sigma,
                                              score_thr):
    samples = redundant_samples(ANN_FILE)
    assert len(samples) == 56
    results = evaluate(samples, tmp_path, nms_kernel=kernel,
                       nms_sigma=sigma, nms_score_thr=score_thr)
    assert set(results) == {
        PREFIX + k
        for k in ('AP', 'AP .5', 'AP .75', 'AP (M)', 'AP (L)', 'AR',
                  'AR .5', 'AR .75', 'AR (M)', 'AR (L)')
    }
    # the stock metric without NMS, scoring by box, on the poses kept by
    # hand with their decayed scores
    kept, ratios = by_hand(samples, kernel, sigma, score_thr)
    # the copies are decayed, the threshold then drops some
    assert (ratios < 0.7).sum() >= 20
    assert 14 <= len(kept) < len(samples) if score_thr else len(kept) == 56
    stock = METRICS.build(
        dict(type='CocoWholeBodyMetric', ann_file=ANN_FILE,
             score_mode='bbox', nms_mode='none',
             outfile_prefix=str(tmp_path / 'stock')))
    stock.dataset_meta = meta()
    stock.process([], kept)
    expected = stock.evaluate(len(kept))
    for key, value in expected.items():
        assert results[key] == pytest.approx(value, abs=1e-9), key

    # the result file holds the kept poses with their decayed scores
    with open(tmp_path / 'metric.keypoints.json') as f:
        written = json.load(f)
    with open(tmp_path / 'stock.keypoints.json') as f:
        stock_written = json.load(f)
    assert len(written) == len(kept)
    np.testing.assert_allclose(sorted(r['score'] for r in written),
                               sorted(r['score'] for r in stock_written),
                               rtol=1e-5)
    assert {len(r['face_kpts']) for r in written} == {68 * 3}


def test_matrix_nms_beats_none_and_none_is_stock(tmp_path):
    samples = redundant_samples(ANN_FILE, seed=1)
    matrix = evaluate(samples, tmp_path)
    none = evaluate(samples, tmp_path, nms_mode='none')
    # the worse copies would count as false positives
    assert matrix[PREFIX + 'AP'] > none[PREFIX + 'AP'] + 0.05
    for mode in ('none', 'oks_nms'):
        stock = METRICS.build(
            dict(type='CocoWholeBodyMetric', ann_file=ANN_FILE,
                 nms_mode=mode))
        stock.dataset_meta = meta()
        stock.process([], samples)
        assert evaluate(samples, tmp_path,
                        nms_mode=mode) == stock.evaluate(len(samples))


def test_bad_input(tmp_path):
    samples = redundant_samples(ANN_FILE, copies=2)
    broken = [dict(s) for s in samples]
    kpts = broken[3]['pred_instances']['keypoints'].copy()
    kpts[0, 100, 1] = np.nan
    broken[3]['pred_instances'] = dict(broken[3]['pred_instances'],
                                       keypoints=kpts)
    with pytest.raises(ValueError, match=f"image {broken[3]['img_id']}: "
                       '`keypoints` should be finite'):
        evaluate(broken, tmp_path)
    # sigmas of another dataset
    metric = MatrixNMSCocoWholeBodyMetric(ann_file=ANN_FILE)
    wrong = meta()
    wrong['sigmas'] = wrong['sigmas'][:17]
    metric.dataset_meta = wrong
    metric.process([], samples)
    with pytest.raises(ValueError, match=r'`sigmas` should have shape '
                       r'\(133,\)'):
        metric.evaluate(len(samples))
    with pytest.raises(ValueError, match='nms_kernel'):
        MatrixNMSCocoWholeBodyMetric(nms_kernel='box')

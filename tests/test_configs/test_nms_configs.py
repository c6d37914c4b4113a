"""The Matrix-OKS-NMS configs load, change only the evaluator of the stock
configs they inherit, build their evaluator and model, and the sample ones
run with MMPose's stock tools/test.py."""
import json
import os.path as osp
import subprocess
import sys
import warnings

import mmpose
import pytest
import torch
from mmengine.config import Config
from mmpose.registry import METRICS, MODELS

import mmpose_light  # noqa: F401
from mmpose_light.evaluation import (MatrixNMSCocoMetric,
                                     MatrixNMSCocoWholeBodyMetric,
                                     MatrixNMSKeypointPartitionMetric)
from mmpose_light.utils import stock_tool_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs')
# where ``mmpose::`` resolves
STOCK = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs')

BODY = 'body_2d_keypoint/topdown_heatmap/coco/'
WHOLEBODY = 'wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/'
# config -> (stock config, evaluator type)
FULL = {
    BODY + 'td-hm_res50_8xb64-210e_coco-256x192_matrix-oks-nms.py':
    (BODY + 'td-hm_res50_8xb64-210e_coco-256x192.py', 'MatrixNMSCocoMetric'),
    'body_2d_keypoint/rtmpose/coco/'
    'rtmpose-t_8xb256-420e_coco-256x192_matrix-oks-nms.py':
    ('body_2d_keypoint/rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py',
     'MatrixNMSCocoMetric'),
    WHOLEBODY + 'td-hm_res50_8xb64-210e_coco-wholebody-256x192_'
    'matrix-oks-nms.py':
    (WHOLEBODY + 'td-hm_res50_8xb64-210e_coco-wholebody-256x192.py',
     'MatrixNMSCocoWholeBodyMetric'),
    BODY + 'td-hm_res50_8xb64-210e_coco-256x192_matrix-oks-nms-partition.py':
    (BODY + 'td-hm_res50_8xb64-210e_coco-256x192.py',
     'MatrixNMSKeypointPartitionMetric'),
}
# sample config -> (annotation file, metric class)
SAMPLE = {
    BODY + 'td-hm_res50_8xb64-210e_coco-sample-det-256x192_matrix-oks-nms.py':
    ('test_coco.json', MatrixNMSCocoMetric),
    'body_2d_keypoint/rtmpose/coco/'
    'rtmpose-t_8xb256-420e_coco-sample-det-256x192_matrix-oks-nms.py':
    ('test_coco.json', MatrixNMSCocoMetric),
    WHOLEBODY + 'td-hm_res50_8xb64-210e_coco-wholebody-sample-det-256x192_'
    'matrix-oks-nms.py': ('test_coco_wholebody.json',
                          MatrixNMSCocoWholeBodyMetric),
    BODY + 'td-hm_res50_8xb64-210e_coco-sample-det-256x192_'
    'matrix-oks-nms-partition.py': ('test_coco.json',
                                    MatrixNMSKeypointPartitionMetric),
}
EVALUATOR_KEYS = ('val_evaluator', 'test_evaluator', 'custom_imports')


def without_scope(obj):
    """Drop the ``_scope_`` keys that ``mmpose::`` inheritance adds."""
    if isinstance(obj, dict):
        return {k: without_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(without_scope(v) for v in obj)
    return obj


def load(name):
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    assert cfg.custom_imports == dict(imports=['mmpose_light'],
                                      allow_failed_imports=False)
    return cfg


def nms_metrics(metric):
    """The Matrix-OKS-NMS metrics inside ``metric``."""
    if isinstance(metric, MatrixNMSKeypointPartitionMetric):
        return list(metric.metrics.values())
    return [metric]


@pytest.mark.parametrize('name', list(FULL))
def test_full_config_changes_only_the_evaluator(name):
    cfg = load(name)
    stock_name, evaluator_type = FULL[name]
    stock = Config.fromfile(osp.join(STOCK, stock_name))
    ours, theirs = ({
        k: without_scope(v)
        for k, v in c.to_dict().items() if k not in EVALUATOR_KEYS
    } for c in (cfg, stock))
    assert ours == theirs
    evaluator = cfg.test_evaluator
    assert evaluator.type == evaluator_type
    if evaluator_type == 'MatrixNMSKeypointPartitionMetric':
        # the ground truth comes from the dataset's annotation file
        assert 'ann_file' not in evaluator.metric
        assert evaluator.partitions['all'] == list(range(17))
    else:
        assert evaluator.ann_file == stock.test_evaluator.ann_file
        # the annotation file of the full dataset is not here
        evaluator = dict(evaluator, ann_file=None)
    with warnings.catch_warnings():
        # the partition metric says that NMS runs part by part
        warnings.simplefilter('ignore', UserWarning)
        metric = METRICS.build(evaluator)
    for nms_metric in nms_metrics(metric):
        assert isinstance(nms_metric, MatrixNMSCocoMetric)
        assert nms_metric.matrix_nms
        assert (nms_metric.nms_kernel, nms_metric.nms_sigma) == ('gaussian',
                                                                 2.0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'TopdownPoseEstimator'


@pytest.mark.parametrize('name', list(SAMPLE))
def test_sample_config_builds(name):
    cfg = load(name)
    ann_file, metric_cls = SAMPLE[name]
    dataset = cfg.test_dataloader.dataset
    assert dataset.ann_file == ann_file
    assert osp.isfile(osp.join(dataset.data_root, ann_file))
    assert dataset.bbox_file.endswith('test_coco_det_AP_H_56.json')
    assert osp.isfile(dataset.bbox_file)
    assert cfg.model.backbone.init_cfg is None
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        metric = METRICS.build(cfg.test_evaluator)
    assert isinstance(metric, metric_cls)
    for nms_metric in nms_metrics(metric):
        assert nms_metric.matrix_nms
    if metric_cls is not MatrixNMSKeypointPartitionMetric:
        assert len(metric.coco.getImgIds()) == 4
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'TopdownPoseEstimator'


# a smaller network and the first 24 detections, to keep the run short: the
# evaluator is what is tested
SMALL = [
    'model.backbone.depth=18', 'model.head.in_channels=512',
    'model.head.deconv_out_channels=(32,32,32)',
    'test_dataloader.dataset.indices=24'
]


@pytest.mark.parametrize('name,keys', [
    (WHOLEBODY + 'td-hm_res50_8xb64-210e_coco-wholebody-sample-det-256x192_'
     'matrix-oks-nms.py', ['coco-wholebody/AP', 'coco-wholebody/AR']),
    (BODY + 'td-hm_res50_8xb64-210e_coco-sample-det-256x192_'
     'matrix-oks-nms-partition.py',
     ['head/coco/AP', 'arms/coco/AP', 'legs/coco/AP', 'all/coco/AP']),
])
def test_stock_test_tool_evaluates(name, keys, tmp_path):
    cfg = load(name)
    cfg.model.backbone.depth = 18
    cfg.model.head.in_channels = 512
    cfg.model.head.deconv_out_channels = (32, 32, 32)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    prefix = str(tmp_path / 'results')
    evaluator_prefix = ('test_evaluator.metric.outfile_prefix'
                        if 'partition' in name else
                        'test_evaluator.outfile_prefix')
    proc = subprocess.run([
        sys.executable,
        stock_tool_path('test.py'),
        osp.join(CONFIGS, name), checkpoint, '--work-dir',
        str(tmp_path), '--cfg-options', *SMALL,
        f'{evaluator_prefix}={prefix}'
    ],
                          cwd=str(tmp_path),
                          capture_output=True,
                          text=True,
                          timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert 'Evaluating MatrixNMSCocoMetric' in out or \
        'Evaluating MatrixNMSCocoWholeBodyMetric' in out
    for key in keys:
        assert f'{key}: ' in out
    # Matrix-OKS-NMS wrote every pose of the 24 boxes, with decayed scores
    part = '.all' if 'partition' in name else ''
    with open(f'{prefix}{part}.keypoints.json') as f:
        results = json.load(f)
    assert len(results) == 24
    assert all(0 <= r['score'] <= 1 for r in results)

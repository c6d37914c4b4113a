"""The Matrix-OKS-NMS configs load, change only the evaluator of the stock
configs they inherit, and build their evaluator and model."""
import os.path as osp

import mmpose
import pytest
from mmengine.config import Config
from mmpose.registry import METRICS, MODELS

import mmpose_light  # noqa: F401
from mmpose_light.evaluation import MatrixNMSCocoMetric

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(ROOT, 'configs', 'body_2d_keypoint')
# where ``mmpose::`` resolves
STOCK = osp.join(osp.dirname(mmpose.__file__), '.mim', 'configs',
                 'body_2d_keypoint')

FULL = {
    'topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-256x192_matrix-oks-nms.py':
    'topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
    'rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192_matrix-oks-nms.py':
    'rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py',
}
SAMPLE = [
    'topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-sample-det-256x192_matrix-oks-nms.py',
    'rtmpose/coco/'
    'rtmpose-t_8xb256-420e_coco-sample-det-256x192_matrix-oks-nms.py',
]
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


@pytest.mark.parametrize('name', list(FULL))
def test_full_config_changes_only_the_evaluator(name):
    cfg = load(name)
    stock = Config.fromfile(osp.join(STOCK, FULL[name]))
    ours, theirs = ({
        k: without_scope(v)
        for k, v in c.to_dict().items() if k not in EVALUATOR_KEYS
    } for c in (cfg, stock))
    assert ours == theirs
    evaluator = cfg.test_evaluator
    assert evaluator.type == 'MatrixNMSCocoMetric'
    assert evaluator.ann_file == stock.test_evaluator.ann_file
    # the annotation file of the full dataset is not here
    metric = METRICS.build(dict(evaluator, ann_file=None))
    assert isinstance(metric, MatrixNMSCocoMetric) and metric.matrix_nms
    assert (metric.nms_kernel, metric.nms_sigma) == ('gaussian', 2.0)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'TopdownPoseEstimator'


@pytest.mark.parametrize('name', SAMPLE)
def test_sample_config_builds(name):
    cfg = load(name)
    assert cfg.test_dataloader.dataset.bbox_file.endswith(
        'test_coco_det_AP_H_56.json')
    assert osp.isfile(cfg.test_dataloader.dataset.bbox_file)
    assert cfg.model.backbone.init_cfg is None
    metric = METRICS.build(cfg.test_evaluator)
    assert isinstance(metric, MatrixNMSCocoMetric) and metric.matrix_nms
    assert len(metric.coco.getImgIds()) == 4
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'TopdownPoseEstimator'

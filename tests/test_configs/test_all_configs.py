"""Every config in configs/ loads, custom-imports mmpose_light and builds its
model; the mixing examples produce the outputs their heads promise."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS

import mmpose_light  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)


def test_configs_are_found():
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.basename(p) for p in CONFIGS])
def test_config_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(
        imports=['mmpose_light'], allow_failed_imports=False)
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_repvgg_fusion_under_stock_deconv_head():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                 'coco', 'td-hm_repvgg-a-fusion_8xb64-210e_coco-256x192.py'))
    model = MODELS.build(cfg.model).eval()
    assert type(model.head).__name__ == 'HeatmapHead'
    with torch.no_grad():
        heatmaps = model._forward(torch.rand(1, 3, 256, 192))
    # stride-16 fused map, two x2 deconvs: heatmaps at stride 4
    assert heatmaps.shape == (1, 17, 64, 48)

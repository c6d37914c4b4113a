"""Models and ONNX exports shared by the deploy tests.

Random weights give degenerate networks: with BatchNorm's default statistics
the activations of these deep stacks vanish (MobileNetV3: constant heatmaps)
or explode (RepVGG), so the pipelines under test would compare constants.
The models here get their BatchNorm statistics from a random batch first
(``benchlib.calibrate_batchnorm``), which makes their
outputs depend on the input.
"""
import json
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from torch import nn

import mmpose_light  # noqa: F401
from benchlib import calibrate_batchnorm, input_hw
from mmpose_light.deploy import export_onnx
from benchlib import load_config
from benchlib.profiling import strip_external
from mmpose_light_runtime import TopdownEstimator, read_image

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
CONFIGS = dict(
    heatmap=osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                     'coco',
                     'td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py'),
    # training form: export must re-parameterize it
    regression=osp.join(
        ROOT, 'configs', 'body_2d_keypoint', 'topdown_regression', 'coco',
        'td-reg_repvgg-a-fusion_rle-1xb64-210e_coco-256x192.py'),
    # a stock MMPose model with the SimCC codec, without its ImageNet init
    simcc='mmpose::body_2d_keypoint/rtmpose/coco/'
    'rtmpose-t_8xb256-420e_coco-256x192.py')

# MobilePoseNet at 64x48 instead of 256x192: fast exports for the tests of
# failures and of the tool
TINY_CODEC = dict(type='MSRAHeatmap',
                  input_size=(48, 64),
                  heatmap_size=(12, 16),
                  sigma=2)


def init_model(*args, **kwargs) -> nn.Module:
    """``mmpose.apis.init_model``, imported once mmpose_light has applied
    its compat fixes (mmpose.apis needs torchvision otherwise)."""
    from mmpose.apis import init_model as _init_model
    return _init_model(*args, **kwargs)


def build(kind: str) -> nn.Module:
    torch.manual_seed(0)
    cfg = load_config(CONFIGS[kind])
    cfg.model = strip_external(cfg.model.to_dict())
    cfg.model['test_cfg']['flip_test'] = False
    model = init_model(cfg, None, device='cpu')
    return calibrate_batchnorm(model, input_hw(cfg))


@pytest.fixture(scope='session')
def models():
    return {kind: build(kind) for kind in CONFIGS}


@pytest.fixture(scope='session')
def exports(models, tmp_path_factory):
    """Per kind: the ONNX path, export_onnx's result and its warnings."""
    out_dir = tmp_path_factory.mktemp('onnx')
    exported = {}
    for kind, model in models.items():
        path = str(out_dir / f'{kind}.onnx')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            result = export_onnx(model, path)
        messages = [str(w.message) for w in caught]
        exported[kind] = dict(path=path, result=result, warnings=messages)
    return exported


@pytest.fixture(scope='session')
def samples():
    """(file, BGR image, float32 xyxy ground-truth boxes) per sample image.
    """
    with open(osp.join(SAMPLE, 'test_coco.json')) as f:
        coco = json.load(f)
    items = []
    for image in coco['images']:
        xywh = np.array([
            ann['bbox']
            for ann in coco['annotations'] if ann['image_id'] == image['id']
        ],
                        dtype=np.float32)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
        path = osp.join(SAMPLE, image['file_name'])
        items.append((path, read_image(path), boxes))
    return items


@pytest.fixture(scope='session')
def configs():
    """Config file per kind of model."""
    return dict(CONFIGS)


@pytest.fixture(scope='session')
def tiny_model():
    """MobilePoseNet with its codec at 64x48."""
    torch.manual_seed(0)
    model = init_model(CONFIGS['heatmap'],
                       None,
                       device='cpu',
                       cfg_options={'model.head.decoder': TINY_CODEC})
    width, height = TINY_CODEC['input_size']
    return calibrate_batchnorm(model, (height, width))


@pytest.fixture(scope='session')
def estimators(exports):
    """An ONNX Runtime pipeline per exported kind."""
    return {
        kind: TopdownEstimator(export['path'], num_threads=1)
        for kind, export in exports.items()
    }

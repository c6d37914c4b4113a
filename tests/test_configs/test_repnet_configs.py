"""Every RepNet config loads and builds; deploy configs are one-line
overrides; sizes match the paper (Table 5) within 5%."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmpose.registry import MODELS
from torch import nn

import mmpose_light  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_regression')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, '*', 'td-reg_repvgg-*.py')))
DEPLOY_CONFIGS = [c for c in CONFIGS if '-fusion-deploy_' in c]

# Table 5 of the paper: params in millions, (training form, deployed)
TABLE5_PARAMS = {'a': (7.96, 7.16), 'b': (12.95, 11.64)}


def _name(path):
    return osp.basename(path)


def test_all_variants_present():
    names = {_name(c) for c in CONFIGS}
    for arch in 'ab':
        for form in ('fusion', 'fusion-deploy'):
            assert (f'td-reg_repvgg-{arch}-{form}_rle-1xb64-210e_coco-'
                    '256x192.py') in names
            assert (f'td-reg_repvgg-{arch}-{form}_rle-1xb64-210e_mpii-'
                    '256x256.py') in names
    assert any('coco-sample' in n for n in names)
    assert any('mpii-sample' in n for n in names)


@pytest.mark.parametrize('path', CONFIGS, ids=_name)
def test_config_loads_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports == dict(
        imports=['mmpose_light'], allow_failed_imports=False)
    with open(path) as f:
        header = f.readline()
    assert header.startswith('# RepNet-')
    model = MODELS.build(cfg.model)
    assert type(model.backbone).__name__ == 'RepVGGFusion'
    # MMPose's own pooling neck and RLE head, on the fused map
    assert type(model.neck).__name__ == 'GlobalAveragePooling'
    assert type(model.head).__name__ == 'RLEHead'
    assert model.head.in_channels == model.backbone.out_channels[-1]
    assert model.backbone.deploy == ('-fusion-deploy_' in path)
    # the name ends with the input size as '{h}x{w}'
    h, w = osp.splitext(path)[0].rsplit('-', 1)[1].split('x')
    expected_size = (int(w), int(h))
    assert tuple(cfg.codec['input_size']) == expected_size
    assert tuple(model.head.decoder.input_size) == expected_size
    assert cfg.val_evaluator.get('score_mode', 'bbox_rle') == 'bbox_rle'


@pytest.mark.parametrize('path', DEPLOY_CONFIGS, ids=_name)
def test_deploy_config_is_a_one_line_override(path):
    deploy = Config.fromfile(path).to_dict()
    train = Config.fromfile(path.replace('-fusion-deploy_',
                                         '-fusion_')).to_dict()
    assert deploy['model']['backbone'].pop('deploy') is True
    assert train['model']['backbone'].pop('deploy', False) is False
    assert deploy == train


@pytest.mark.parametrize(
    'path',
    [c for c in CONFIGS if '1xb64-210e_coco' in c or '1xb64-210e_mpii' in c],
    ids=_name)
def test_paper_schedule_and_augmentation(path):
    cfg = Config.fromfile(path)
    optimizer = cfg.optim_wrapper.optimizer
    assert optimizer.type == 'AdamW'
    assert optimizer.lr == (5e-4 if 'mpii' in path else 1e-3)
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.train_cfg.max_epochs == 210
    assert cfg.param_scheduler[-1].milestones == [170, 200]
    transform, = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'RandomBBoxTransform'
    ]
    assert transform.rotate_factor == 30
    assert tuple(transform.scale_factor) == (0.75, 1.25)
    # RLE with a Laplace prior and a RealNVP flow of 3-layer, 64-unit nets
    loss = MODELS.build(cfg.model.head.loss)
    assert type(loss).__name__ == 'RLELoss'
    assert loss.q_distribution == 'laplace'
    for nets in (loss.flow_model.s, loss.flow_model.t):
        for net in nets:
            linear = [m for m in net if isinstance(m, nn.Linear)]
            assert [m.out_features for m in linear] == [64, 64, 2]


def test_branch_norms_have_no_weight_decay():
    cfg = Config.fromfile(
        osp.join(CFG_DIR, 'coco', 'td-reg_repvgg-a-fusion_rle-1xb64-210e_'
                 'coco-256x192.py'))
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    decay = {}
    params = dict(model.named_parameters())
    for group in wrapper.optimizer.param_groups:
        for param in group['params']:
            decay[id(param)] = group['weight_decay']
    prefix = 'backbone.stage_2.1.'
    for name in ('branch_3x3.norm.weight', 'branch_1x1.norm.bias',
                 'branch_norm.weight'):
        assert decay[id(params[prefix + name])] == 0
    assert decay[id(params[prefix + 'branch_3x3.conv.weight'])] == 0.01


@pytest.mark.parametrize('arch', ['a', 'b'])
def test_params_match_table5(arch):
    path = osp.join(
        CFG_DIR, 'coco', f'td-reg_repvgg-{arch}-fusion_rle-'
        '1xb64-210e_coco-256x192.py')
    for deploy, paper in zip((False, True), TABLE5_PARAMS[arch]):
        cfg = Config.fromfile(path)
        cfg.model.backbone.deploy = deploy
        model = MODELS.build(cfg.model)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        assert abs(params - paper) <= 0.05 * paper, (arch, deploy, params)


def test_sample_configs_point_at_bundled_data():
    for path in CONFIGS:
        if '-sample-' not in path:
            continue
        cfg = Config.fromfile(path)
        for loader in (cfg.train_dataloader, cfg.val_dataloader):
            dataset = loader.dataset
            assert osp.isfile(osp.join(dataset.data_root, dataset.ann_file))


@pytest.mark.parametrize(
    'path', [c for c in CONFIGS if '-sample-' in c and '-deploy_' not in c],
    ids=_name)
def test_sample_configs_train_as_real_training_does(path):
    cfg = Config.fromfile(path)
    assert cfg.randomness.seed == 0
    # random weights: the ImageNet checkpoint needs a network
    assert cfg.model.backbone.init_cfg is None
    # box jitter, so that the model works on boxes other than the
    # annotated ones
    jitter, = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'RandomBBoxTransform'
    ]
    assert jitter.shift_factor > 0 and jitter.shift_prob > 0
    assert jitter.scale_factor[0] < 1 < jitter.scale_factor[1]
    if 'coco' in path:
        # tested as COCO is: on the bundled person detections
        for loader in (cfg.val_dataloader, cfg.test_dataloader):
            bbox_file = loader.dataset.bbox_file
            assert osp.basename(bbox_file) == 'test_coco_det_AP_H_56.json'
            assert osp.isfile(bbox_file)

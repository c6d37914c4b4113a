import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from mmpose.registry import MODELS

import mmpose_light  # noqa: F401
from mmpose_light.models.backbones import TruncatedMobileNetV3
from mmpose_light.models.heads import LPBHeatmapHead
from helpers import randomize_batchnorm

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap')
MOBILEPOSENET_CONFIGS = [
    'coco/td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py',
    'coco/td-hm_mobilenetv3-lpb_1xb32-210e_coco-384x288.py',
    'coco/td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-128x96.py',
    'mpii/td-hm_mobilenetv3-lpb_1xb32-210e_mpii-256x256.py',
    'mpii/td-hm_mobilenetv3-lpb_1xb5-200e_mpii-sample-128x128.py',
    'coco/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_coco-256x192.py',
    'coco/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_coco-384x288.py',
    'mpii/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_mpii-256x256.py',
]
TRAINING_CONFIG = 'coco/td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py'
DEPLOY_CONFIG = 'coco/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_coco-256x192.py'
# training config -> its deploy config
DEPLOY_CONFIGS = {
    name.replace('-lpb-deploy_', '-lpb_'): name
    for name in MOBILEPOSENET_CONFIGS if '-deploy_' in name
}
RES50_LPB_CONFIG = 'coco/td-hm_res50-lpb_8xb64-210e_coco-256x192.py'
RES50_STOCK_CONFIG = ('mmpose::body_2d_keypoint/topdown_heatmap/coco/'
                      'td-hm_res50_8xb64-210e_coco-256x192.py')


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(CFG_DIR, name))


def _without_scope(obj):
    """Drop the ``_scope_`` keys that inheriting ``mmpose::`` bases adds."""
    if isinstance(obj, dict):
        return {k: _without_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_without_scope(v) for v in obj)
    return obj


def _strides_match_codec(cfg: Config, model: torch.nn.Module) -> None:
    """The network's output grid is the codec's heatmap grid."""
    codec = cfg.model.head.decoder
    num_lpbs = len(model.head.lpb_out_channels)
    stride = model.backbone.out_strides[-1] // 2**num_lpbs
    w, h = codec['input_size']
    assert (w // stride, h // stride) == tuple(codec['heatmap_size'])
    x = torch.rand(1, 3, h, w)
    model.eval()
    with torch.no_grad():
        out = model._forward(x)
    assert out.shape == (1, cfg.model.head.out_channels, h // stride,
                         w // stride)


def test_all_configs_listed():
    listed = {osp.basename(name) for name in MOBILEPOSENET_CONFIGS}
    listed.add(osp.basename(RES50_LPB_CONFIG))
    found = {
        osp.basename(p)
        for p in glob.glob(osp.join(CFG_DIR, '*', 'td-hm_*lpb*_*.py'))
    }
    assert found == listed


@pytest.mark.parametrize('name', MOBILEPOSENET_CONFIGS)
def test_mobileposenet_config_builds(name):
    cfg = _load(name)
    assert cfg.custom_imports == dict(
        imports=['mmpose_light'], allow_failed_imports=False)
    # full configs start from ImageNet (tests/test_models/test_backbones/
    # test_pretrained_checkpoints.py), sample configs run offline
    init_cfg = cfg.model.backbone.get('init_cfg')
    if '-sample-' in name:
        assert init_cfg is None
    else:
        assert init_cfg.type == 'Pretrained'
    assert 'init_cfg' not in cfg.model.head
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    assert isinstance(model.backbone, TruncatedMobileNetV3)
    assert isinstance(model.head, LPBHeatmapHead)
    assert model.backbone.out_channels[-1] == cfg.model.head.in_channels
    assert model.backbone.out_strides == (16, )
    deploy = '-deploy_' in name
    assert [block.deploy for block in model.head.deconv_layers
            ] == [deploy] * len(model.head.deconv_layers)
    _strides_match_codec(cfg, model)

    # pipelines use the codec of the head
    codec = cfg.model.head.decoder
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        affine = [
            t for t in loader.dataset.pipeline if t.type == 'TopdownAffine'
        ]
        assert tuple(affine[0].input_size) == tuple(codec['input_size'])
    target = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'GenerateTarget'
    ]
    assert tuple(target[0].encoder['heatmap_size']) == tuple(
        codec['heatmap_size'])


@pytest.mark.parametrize('name', [
    'coco/td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py',
    'mpii/td-hm_mobilenetv3-lpb_1xb32-210e_mpii-256x256.py'
])
def test_paper_training_recipe(name):
    cfg = _load(name)
    assert cfg.optim_wrapper.optimizer.type == 'Adam'
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.auto_scale_lr.base_batch_size == 32
    assert cfg.train_cfg.max_epochs == 210
    pipeline = {t.type: t for t in cfg.train_dataloader.dataset.pipeline}
    assert {'RandomFlip', 'RandomHalfBody'} <= set(pipeline)
    assert pipeline['RandomBBoxTransform'].rotate_factor == 45
    assert tuple(pipeline['RandomBBoxTransform'].scale_factor) == (0.65, 1.35)


@pytest.mark.parametrize('name, data', [
    ('coco/td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-128x96.py', 'coco'),
    ('mpii/td-hm_mobilenetv3-lpb_1xb5-200e_mpii-sample-128x128.py', 'mpii'),
])
def test_sample_configs_point_at_bundled_data(name, data):
    cfg = _load(name)
    for loader in (cfg.train_dataloader, cfg.val_dataloader,
                   cfg.test_dataloader):
        dataset = loader.dataset
        ann = osp.join(dataset.data_root, dataset.ann_file)
        assert osp.isfile(ann)
        assert osp.normpath(dataset.data_root) == osp.join(
            ROOT, 'data', 'sample', data)
        assert loader.num_workers == 0


@pytest.mark.parametrize('name', [
    'coco/td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-128x96.py',
    'mpii/td-hm_mobilenetv3-lpb_1xb5-200e_mpii-sample-128x128.py',
])
def test_sample_configs_train_as_real_training_does(name):
    cfg = _load(name)
    assert cfg.randomness.seed == 0
    # box jitter, so that the model works on boxes other than the
    # annotated ones
    jitter, = [
        t for t in cfg.train_dataloader.dataset.pipeline
        if t.type == 'RandomBBoxTransform'
    ]
    assert jitter.shift_factor > 0 and jitter.shift_prob > 0
    assert jitter.scale_factor[0] < 1 < jitter.scale_factor[1]
    # the schedule named in the file name
    epochs = int(name.split('_')[2].split('-')[1].rstrip('e'))
    assert cfg.train_cfg.max_epochs == epochs
    if 'coco' in name:
        # tested as COCO is: on the bundled person detections
        for loader in (cfg.val_dataloader, cfg.test_dataloader):
            bbox_file = loader.dataset.bbox_file
            assert osp.basename(bbox_file) == 'test_coco_det_AP_H_56.json'
            assert osp.isfile(bbox_file)


def test_res50_lpb_changes_only_the_head():
    cfg = _load(RES50_LPB_CONFIG)
    stock = get_config(RES50_STOCK_CONFIG)
    ours = _without_scope(cfg.to_dict())
    theirs = _without_scope(stock.to_dict())
    assert ours.pop('custom_imports') == dict(
        imports=['mmpose_light'], allow_failed_imports=False)
    ours['model'].pop('head')
    theirs['model'].pop('head')
    assert ours == theirs

    head = cfg.model.head
    assert head.type == 'LPBHeatmapHead'
    assert head.in_channels == 2048
    assert head.decoder == stock.model.head.decoder
    assert head.loss == stock.model.head.loss

    # build without the pretrained ResNet-50 (nothing is downloaded here)
    init_default_scope('mmpose')
    model = MODELS.build(cfg.model)
    assert isinstance(model.head, LPBHeatmapHead)
    # stride 32 to the codec's stride 4: three LPBs
    assert len(model.head.deconv_layers) == 3
    w, h = head.decoder['input_size']
    with torch.no_grad():
        out = model.eval()._forward(torch.rand(1, 3, h // 2, w // 2))
    assert out.shape == (1, 17, h // 8, w // 8)


@pytest.mark.parametrize('training', sorted(DEPLOY_CONFIGS))
def test_deploy_config_is_a_one_line_override(training):
    deploy = _load(DEPLOY_CONFIGS[training]).to_dict()
    train = _load(training).to_dict()
    assert deploy['model']['head'].pop('lpb_cfg') == dict(deploy=True)
    assert 'lpb_cfg' not in train['model']['head']
    assert deploy == train


def test_converted_checkpoint_loads_strictly_into_the_deploy_config(
        load_tool, tmp_path):
    """tools/reparameterize.py on a MobilePoseNet checkpoint, as MMEngine
    writes it: the deploy config loads it strictly and gives the training
    model's heatmaps."""
    tool = load_tool('reparameterize')
    init_default_scope('mmpose')
    torch.manual_seed(0)
    model = MODELS.build(_load(TRAINING_CONFIG).model)
    randomize_batchnorm(model)
    model.eval()
    ckpt = str(tmp_path / 'epoch_1.pth')
    torch.save(
        {
            'state_dict': model.state_dict(),
            'meta': dict(epoch=1),
            'optimizer': dict(state={}, param_groups=[])
        }, ckpt)
    out = str(tmp_path / 'deploy.pth')
    tool.main([osp.join(CFG_DIR, TRAINING_CONFIG), ckpt, out])
    assert sorted(os.listdir(tmp_path)) == ['deploy.pth', 'epoch_1.pth']
    saved = torch.load(out, map_location='cpu')
    assert set(saved) == {'state_dict', 'meta'}
    assert not [k for k in saved['state_dict'] if '.upsample_conv.' in k]

    deployed = MODELS.build(_load(DEPLOY_CONFIG).model)
    load_checkpoint(deployed, out, map_location='cpu', strict=True)
    deployed.eval()
    x = torch.randn(2, 3, 256, 192, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model._forward(x)
        actual = deployed._forward(x)
    assert actual.shape == expected.shape == (2, 17, 64, 48)
    torch.testing.assert_close(
        actual, expected, rtol=0, atol=1e-5 * expected.abs().max())

    # a training checkpoint into the deploy config, and the deploy config
    # given to the tool, are refused with what to do instead
    with pytest.raises(ValueError, match='tools/reparameterize.py'):
        load_checkpoint(deployed, ckpt, map_location='cpu', strict=False)
    with pytest.raises(SystemExit, match='deploy-form model'):
        tool.main([osp.join(CFG_DIR, DEPLOY_CONFIG), ckpt,
                   str(tmp_path / 'again.pth')])
    assert not osp.exists(tmp_path / 'again.pth')

"""Published ImageNet checkpoints load into our encoders tensor for tensor.

mmpretrain's own ``MobileNetV3(arch='large')`` and ``RepVGG(arch='A0' |
'A1')`` define the layout of the published checkpoints. Each reference gets
random weights and BatchNorm statistics and is saved as mmpretrain saves a
classifier (``state_dict`` with ``backbone.`` and ``head.`` keys, ``meta``);
the COCO config's ``init_cfg`` is pointed at that file, and the model built
from the config must hold every tensor of the kept layers exactly and
compute the reference's features.
"""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS
from torch import nn

import mmpose_light  # noqa: F401
from mmpose_light.models.backbones import RepVGGFusion, TruncatedMobileNetV3
from helpers import (import_mmpretrain_backbones,
                     randomize_batchnorm)

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CFG = osp.join(ROOT, 'configs', 'body_2d_keypoint')
MOBILEPOSENET = osp.join(
    CFG, 'topdown_heatmap', 'coco',
    'td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py')
REPNET = osp.join(CFG, 'topdown_regression', 'coco',
                  'td-reg_repvgg-{}-fusion{}_rle-1xb64-210e_coco-256x192.py')
URL = 'https://download.openmmlab.com/mmclassification/v0/'
# The published checkpoints (mmpretrain's metafiles).
PUBLISHED = {
    'mobilenetv3-large': URL + 'mobilenet_v3/convert/'
    'mobilenet_v3_large-3ea3c186.pth',
    'repvgg-A0': URL + 'repvgg/repvgg-A0_8xb32_in1k_20221213-60ae8e23.pth',
    'repvgg-A1': URL + 'repvgg/repvgg-A1_8xb32_in1k_20221213-f81bf3df.pth',
}
# config, reference arch, published checkpoint
ENCODERS = {
    'mobileposenet': (MOBILEPOSENET, 'large', 'mobilenetv3-large'),
    'repnet-a': (REPNET.format('a', ''), 'A0', 'repvgg-A0'),
    'repnet-b': (REPNET.format('b', ''), 'A1', 'repvgg-A1'),
}
# the configs that start from an ImageNet checkpoint, and which one
PRETRAINED_CONFIGS = {
    'topdown_heatmap/coco/td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py':
    'mobilenetv3-large',
    'topdown_heatmap/coco/td-hm_mobilenetv3-lpb_1xb32-210e_coco-384x288.py':
    'mobilenetv3-large',
    'topdown_heatmap/coco/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_coco-256x192.py':  # noqa: E501
    'mobilenetv3-large',
    'topdown_heatmap/coco/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_coco-384x288.py':  # noqa: E501
    'mobilenetv3-large',
    'topdown_heatmap/mpii/td-hm_mobilenetv3-lpb-deploy_1xb32-210e_mpii-256x256.py':  # noqa: E501
    'mobilenetv3-large',
    'topdown_heatmap/mpii/td-hm_mobilenetv3-lpb_1xb32-210e_mpii-256x256.py':
    'mobilenetv3-large',
    'topdown_heatmap/coco/td-hm_repvgg-a-fusion_8xb64-210e_coco-256x192.py':
    'repvgg-A0',
}
for _data, _size in (('coco', '256x192'), ('mpii', '256x256')):
    for _arch, _body in (('a', 'repvgg-A0'), ('b', 'repvgg-A1')):
        for _form in ('', '-deploy'):
            PRETRAINED_CONFIGS[
                f'topdown_regression/{_data}/td-reg_repvgg-{_arch}-fusion'
                f'{_form}_rle-1xb64-210e_{_data}-{_size}.py'] = _body


def _reference(arch: str, seed: int = 0) -> nn.Module:
    """mmpretrain's backbone with random weights and BN statistics."""
    backbones = import_mmpretrain_backbones()
    torch.manual_seed(seed)
    if arch == 'large':
        model = backbones.MobileNetV3(arch='large')
    else:
        model = backbones.RepVGG(arch=arch, out_indices=(0, 1, 2, 3))
    # PyTorch's default init gives every conv weight and bias random values;
    # the BatchNorms get random statistics and affine parameters.
    randomize_batchnorm(model, seed=seed, weight_range=(0.5, 1.5))
    # mmpretrain's train() returns None, so eval() cannot be chained
    model.eval()
    return model


def _save_classifier(backbone: nn.Module, path: str) -> str:
    """Save ``backbone`` as mmpretrain saves an ImageNet classifier."""
    state_dict = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    # a classifier, which the backbone's prefix leaves out
    state_dict['head.fc.weight'] = torch.randn(1000, 1280)
    state_dict['head.fc.bias'] = torch.randn(1000)
    torch.save(
        dict(meta=dict(mmpretrain_version='1.2.0', epoch=100),
             state_dict=state_dict), path)
    return path


def _build_from_config(config: str, checkpoint: str) -> nn.Module:
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def _mobilenetv3_features(reference: nn.Module, x: torch.Tensor,
                          num_blocks: int) -> torch.Tensor:
    """mmpretrain's stem and first blocks, the last one at stride 1."""
    last = getattr(reference, f'layer{num_blocks}').depthwise_conv.conv
    last.stride = (1, 1)
    for i in range(num_blocks + 1):
        x = getattr(reference, f'layer{i}')(x)
    return x


@pytest.mark.parametrize('config', sorted(PRETRAINED_CONFIGS))
def test_configs_start_from_the_published_checkpoint(config):
    cfg = Config.fromfile(osp.join(CFG, config))
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained',
        checkpoint=PUBLISHED[PRETRAINED_CONFIGS[config]],
        prefix='backbone.')
    arch = cfg.model.backbone.get('arch')
    assert arch == {
        'mobilenetv3-large': 'large',
        'repvgg-A0': 'A0',
        'repvgg-A1': 'A1'
    }[PRETRAINED_CONFIGS[config]]


def test_every_config_of_our_encoders_is_checked():
    with_init = set()
    for path in glob.glob(osp.join(CFG, '**', '*.py'), recursive=True):
        backbone = Config.fromfile(path).model.backbone
        if backbone.type not in ('TruncatedMobileNetV3', 'RepVGGFusion'):
            continue
        name = osp.relpath(path, CFG)
        if '-sample-' in name:
            # the sample configs run offline, from random weights
            assert backbone.get('init_cfg') is None, name
        else:
            with_init.add(name)
    assert with_init == set(PRETRAINED_CONFIGS)


@pytest.mark.parametrize('name', sorted(ENCODERS))
def test_published_checkpoint_loads_tensor_for_tensor(name, tmp_path):
    config, arch, _ = ENCODERS[name]
    reference = _reference(arch)
    checkpoint = _save_classifier(reference, str(tmp_path / 'in1k.pth'))
    model = _build_from_config(config, checkpoint)
    backbone = model.backbone

    ours = backbone.state_dict()
    theirs = reference.state_dict()
    if isinstance(backbone, TruncatedMobileNetV3):
        # the stem and the first 13 blocks; the rest of the classifier goes
        kept = re.compile(r'^layer([0-9]|1[0-3])\.')
        expected = {k for k in theirs if kept.match(k)}
        assert set(ours) == expected
        assert len(expected) < len(theirs)
    else:
        # the whole body; the fusion is new
        assert {k for k in ours if not k.startswith('fusion.')} == set(theirs)
    for key, value in ours.items():
        if key in theirs:
            assert torch.equal(value, theirs[key]), key

    x = torch.rand(2, 3, 96, 64)
    with torch.no_grad():
        if isinstance(backbone, TruncatedMobileNetV3):
            want = _mobilenetv3_features(reference, x, 13)
            got, = backbone(x)
            assert got.shape == (2, 160, 96 // 16, 64 // 16)
            torch.testing.assert_close(got, want, rtol=0, atol=0)
        else:
            wants = reference(x)
            got = x
            gots = []
            for level in backbone.levels():
                got = level(got)
                gots.append(got)
            assert len(gots) == 5
            for got, want in zip(gots[1:], wants):
                torch.testing.assert_close(got, want, rtol=0, atol=0)


@pytest.mark.parametrize('arch', ['a', 'b'])
def test_deploy_config_folds_the_published_checkpoint(arch, tmp_path):
    reference = _reference({'a': 'A0', 'b': 'A1'}[arch])
    checkpoint = _save_classifier(reference, str(tmp_path / 'in1k.pth'))
    model = _build_from_config(REPNET.format(arch, '-deploy'), checkpoint)
    assert model.backbone.deploy
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        want = reference(x)[-1]
        got = x
        for level in model.backbone.levels():
            got = level(got)
    torch.testing.assert_close(
        got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


@pytest.fixture(scope='module')
def repvgg_a0_checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp('repvgg') / 'repvgg-a0.pth'
    return _save_classifier(_reference('A0'), str(path))


def _pretrained(checkpoint: str, prefix: str = 'backbone.') -> dict:
    return dict(type='Pretrained', checkpoint=checkpoint, prefix=prefix)


def test_checkpoint_of_another_arch_is_refused(repvgg_a0_checkpoint):
    # from the config
    with pytest.raises(ValueError, match=r'stem\.branch_3x3\.conv\.weight '
                       r'\(48, 3, 3, 3\) \(expected \(64, 3, 3, 3\)\)'):
        _build_from_config(REPNET.format('b', ''), repvgg_a0_checkpoint)
    # from Python
    model = RepVGGFusion('A1', init_cfg=_pretrained(repvgg_a0_checkpoint))
    with pytest.raises(ValueError, match='repvgg-a0.pth'):
        model.init_weights()


def test_missing_and_unexpected_tensors_are_named(tmp_path,
                                                  repvgg_a0_checkpoint):
    ckpt = torch.load(repvgg_a0_checkpoint, weights_only=True)
    state_dict = ckpt['state_dict']
    del state_dict['backbone.stage_3.13.branch_1x1.norm.running_var']
    path = str(tmp_path / 'missing.pth')
    torch.save(ckpt, path)
    model = RepVGGFusion('A0', init_cfg=_pretrained(path))
    with pytest.raises(ValueError,
                       match=r'lacks: stage_3\.13\.branch_1x1\.norm\.'
                       'running_var'):
        model.init_weights()

    state_dict['backbone.stage_3.13.branch_1x1.norm.running_var'] = (
        torch.ones(192))
    state_dict['backbone.stage_5.0.branch_3x3.conv.weight'] = torch.ones(1)
    torch.save(ckpt, path)
    model = RepVGGFusion('A0', init_cfg=_pretrained(path))
    with pytest.raises(ValueError,
                       match=r'no place for: stage_5\.0\.branch_3x3'):
        model.init_weights()


def test_mmpose_mobilenetv3_layout_is_refused(tmp_path):
    # MMPose's MobileNetV3('big') is not the published network
    from mmpose.models.backbones import MobileNetV3
    path = _save_classifier(MobileNetV3(arch='big'), str(tmp_path / 'b.pth'))
    model = TruncatedMobileNetV3(init_cfg=_pretrained(path))
    with pytest.raises(ValueError, match='layer0'):
        model.init_weights()


def test_wrong_prefix_names_the_keys_found(repvgg_a0_checkpoint):
    model = RepVGGFusion(
        'A0', init_cfg=_pretrained(repvgg_a0_checkpoint, prefix='encoder.'))
    with pytest.raises(ValueError,
                       match=r"prefix 'encoder\.'.*'backbone\.', 'head\.'"):
        model.init_weights()


def test_missing_local_checkpoint_names_the_file(tmp_path):
    path = str(tmp_path / 'nowhere' / 'mobilenet_v3_large.pth')
    cfg = Config.fromfile(MOBILEPOSENET)
    cfg.model.backbone.init_cfg.checkpoint = path
    model = MODELS.build(cfg.model)
    with pytest.raises(FileNotFoundError, match=re.escape(path)):
        model.init_weights()
    with pytest.raises(FileNotFoundError, match='init_cfg=None'):
        TruncatedMobileNetV3(init_cfg=_pretrained(path)).init_weights()


def test_other_initializers_still_run_beside_the_checkpoint(
        repvgg_a0_checkpoint):
    model = RepVGGFusion(
        'A0',
        init_cfg=[
            dict(type='Constant', val=0.5, layer='Conv2d'),
            _pretrained(repvgg_a0_checkpoint)
        ])
    model.init_weights()
    # the fusion is not in the checkpoint and gets the other initializer
    weight = model.fusion.downsample.conv.weight
    torch.testing.assert_close(weight, torch.full_like(weight, 0.5))
    # the body comes from the checkpoint
    assert not torch.all(model.stem.branch_3x3.conv.weight == 0.5)


@pytest.mark.parametrize('config, arch', [(MOBILEPOSENET, 'big'),
                                          (REPNET.format('a', ''), 'A2')])
def test_unknown_arch_from_the_config(config, arch):
    cfg = Config.fromfile(config)
    cfg.model.backbone.arch = arch
    with pytest.raises(ValueError, match=f"Unknown arch '{arch}'"):
        MODELS.build(cfg.model)


def test_unreachable_url_names_it_and_the_offline_options(monkeypatch):
    from urllib.error import URLError

    from mmpose_light.models.utils import pretrained

    def offline(filename, map_location=None):
        raise URLError('[Errno -2] Name or service not known')

    monkeypatch.setattr(pretrained, '_load_checkpoint', offline)
    model = RepVGGFusion('A0', init_cfg=_pretrained(PUBLISHED['repvgg-A0']))
    with pytest.raises(OSError) as info:
        model.init_weights()
    message = str(info.value)
    assert PUBLISHED['repvgg-A0'] in message
    assert 'model.backbone.init_cfg.checkpoint=PATH' in message
    assert 'model.backbone.init_cfg=None' in message

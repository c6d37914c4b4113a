import copy

import pytest
import torch
from mmpose.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_light  # noqa: F401
from mmpose_light.models.backbones import RepVGGFusion
from mmpose_light.models.layers import RepVGGBlock
from helpers import randomize_batchnorm

# BatchNorm statistics for the equivalence checks, far from the defaults
BN_STATS = dict(
    mean_std=0.5,
    var_range=(0.5, 2.5),
    weight_range=(0.5, 1.5),
    bias_std=0.5)

ARCHS = ['A0', 'A1']
# a small arch keeps the per-test cost low where the paper's sizes are not
# what is tested
TINY = dict(num_blocks=(1, 2, 2, 1), widths=(8, 16, 24, 40))


@pytest.mark.parametrize('arch', ARCHS + ['A', 'B'])
def test_arch_table_and_shapes(arch):
    model = MODELS.build(dict(type='RepVGGFusion', arch=arch))
    # RepNet-A is RepVGG-A0's body, RepNet-B RepVGG-A1's
    a = {'A0': 0.75, 'A': 0.75, 'A1': 1, 'B': 1}[arch]
    assert model.stage_channels == (int(64 * a), int(64 * a), int(128 * a),
                                    int(256 * a), 1280)
    assert model.stages == ['stage_1', 'stage_2', 'stage_3', 'stage_4']
    assert isinstance(model.stem, RepVGGBlock)
    assert [len(getattr(model, s)) for s in model.stages] == [2, 4, 14, 1]
    assert model.stage_strides == (2, 4, 8, 16, 32)
    assert model.out_channels == (32, ) and model.out_strides == (16, )
    outs = model.eval()(torch.rand(1, 3, 64, 48))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (1, 32, 64 // 16, 48 // 16)


def test_out_indices_and_dict_arch():
    model = RepVGGFusion(
        arch=TINY, out_indices=(0, -1), fusion_channels=12).eval()
    outs = model(torch.rand(2, 3, 64, 96))
    assert model.stage_channels == (8, 8, 16, 24, 40)
    assert model.out_channels == (8, 40, 12)
    assert model.out_strides == (2, 32, 16)
    for out, c, s in zip(outs, model.out_channels, model.out_strides):
        assert out.shape == (2, c, 64 // s, 96 // s)


def test_odd_sizes_and_no_fusion():
    model = RepVGGFusion(arch=TINY, fusion_indices=(1, 2, 3)).eval()
    out, = model(torch.rand(1, 3, 50, 38))
    # stride 8 of 50x38 with padded stride-2 convs: 7x5
    assert out.shape == (1, 32, 7, 5)
    plain = RepVGGFusion(arch=TINY, out_indices=(4, ), fusion_indices=None)
    assert plain.fusion is None and plain.out_channels == (40, )
    out, = plain.eval()(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 40, 2, 2)


@pytest.mark.parametrize('arch', ARCHS)
def test_deploy_keeps_outputs(arch):
    model = RepVGGFusion(arch=arch, out_indices=(2, 3, 4))
    randomize_batchnorm(model, **BN_STATS)
    model.eval()
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        expected = model(x)
        model.switch_to_deploy()
        actual = model(x)
    assert model.deploy
    assert all(block.deploy for block in model.modules()
               if isinstance(block, RepVGGBlock))
    assert not [
        k for k in model.state_dict()
        if '.branch_3x3.' in k or '.branch_1x1.' in k or '.branch_norm.' in k
    ]
    for got, want in zip(actual, expected):
        torch.testing.assert_close(
            got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


@pytest.mark.parametrize('arch', ARCHS)
def test_deploy_flag_matches_converted_keys(arch):
    model = RepVGGFusion(arch=arch)
    converted = copy.deepcopy(model)
    converted.switch_to_deploy()
    deployed = RepVGGFusion(arch=arch, deploy=True)
    assert deployed.state_dict().keys() == converted.state_dict().keys()
    deployed.load_state_dict(converted.state_dict(), strict=True)
    with pytest.raises(ValueError, match='tools/reparameterize.py'):
        RepVGGFusion(
            arch=arch, deploy=True).load_state_dict(
                model.state_dict(), strict=False)


def test_switch_twice_changes_nothing():
    model = RepVGGFusion(arch=TINY)
    randomize_batchnorm(model, **BN_STATS)
    model.switch_to_deploy()
    state = copy.deepcopy(model.state_dict())
    model.switch_to_deploy(dict(flip_test=True))
    assert model.state_dict().keys() == state.keys()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_frozen_stages_and_norm_eval():
    model = RepVGGFusion(arch=TINY, frozen_stages=1, norm_eval=True)
    model.train()
    stem, stage_1, stage_2 = model.levels()[:3]
    assert all(not p.requires_grad for p in stem.parameters())
    assert all(not p.requires_grad for p in stage_1.parameters())
    assert all(p.requires_grad for p in stage_2.parameters())
    assert not stem.training and not stage_1.training and stage_2.training
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))


@pytest.mark.parametrize('arch, match', [
    ('C', "Unknown arch 'C'"),
    ('A2', "Unknown arch 'A2'"),
    (dict(num_blocks=(1, 2), widths=(8, )), 'one width per stage'),
    (dict(num_blocks=(1, 2), widths=(8, 0)), r'widths must be positive'),
    (dict(num_blocks=(1, 2), widths=(8, 1.5)), r'widths must be positive'),
    (dict(num_blocks=(1, 2), widths=(8, 8), stem_channels=0),
     'stem_channels must be positive'),
    (dict(num_blocks=(1, ), channels=(8, )), "keys 'num_blocks'"),
])
def test_bad_arch(arch, match):
    with pytest.raises(ValueError, match=match):
        RepVGGFusion(arch=arch)


def test_bad_arch_type_and_indices():
    with pytest.raises(TypeError, match='list'):
        RepVGGFusion(arch=['A'])
    with pytest.raises(ValueError, match='consecutive'):
        RepVGGFusion(arch=TINY, fusion_indices=(1, 2, 4))
    with pytest.raises(ValueError, match='out_indices'):
        RepVGGFusion(arch=TINY, out_indices=(5, ))
    with pytest.raises(ValueError, match='out_indices'):
        RepVGGFusion(arch=TINY, fusion_indices=None)
    with pytest.raises(ValueError, match='frozen_stages'):
        RepVGGFusion(arch=TINY, frozen_stages=5)


def test_non_batchnorm_with_deploy():
    with pytest.raises(TypeError, match='BatchNorm'):
        RepVGGFusion(
            arch=TINY, norm_cfg=dict(type='GN', num_groups=4), deploy=True)

import copy

import pytest
import torch
from torch import nn

import mmpose_light  # noqa: F401
from mmpose_light.models.layers import RepVGGBlock
from helpers import randomize_batchnorm

# BatchNorm statistics for the equivalence checks, far from the defaults
BN_STATS = dict(
    mean_std=1.,
    var_range=(0.2, 2.2),
    weight_range=(0.5, 1.5),
    bias_std=1.)

# (in_channels, out_channels, stride, groups): identity branch or not
CASES = [
    (8, 8, 1, 1),  # identity branch
    (8, 16, 1, 1),  # no identity: widths differ
    (8, 8, 2, 1),  # no identity: stride 2
    (8, 16, 2, 1),
    (8, 8, 1, 2),  # grouped, identity
]


def _block(*case, **kwargs):
    in_channels, out_channels, stride, groups = case
    block = RepVGGBlock(
        in_channels, out_channels, stride=stride, groups=groups, **kwargs)
    randomize_batchnorm(block, **BN_STATS)
    return block.eval()


@pytest.mark.parametrize('case', CASES)
def test_branches_and_shape(case):
    block = _block(*case)
    in_channels, out_channels, stride, _ = case
    assert (block.branch_norm is not None) == (
        in_channels == out_channels and stride == 1)
    out = block(torch.rand(2, in_channels, 9, 7))
    assert out.shape == (2, out_channels, 5 if stride == 2 else 9,
                         4 if stride == 2 else 7)


@pytest.mark.parametrize('case', CASES)
def test_switch_to_deploy_keeps_outputs(case):
    block = _block(*case)
    x = torch.randn(2, case[0], 9, 7)
    with torch.no_grad():
        expected = block(x)
        block.switch_to_deploy()
        actual = block(x)
    assert block.deploy
    assert set(dict(block.named_children())) == {'branch_reparam', 'act'}
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('case', CASES)
def test_equivalent_kernel_bias_is_pure_and_exact(case):
    block = _block(*case)
    before = copy.deepcopy(block.state_dict())
    kernel, bias = block.get_equivalent_kernel_bias()
    after = block.state_dict()
    assert before.keys() == after.keys()
    for key in before:
        torch.testing.assert_close(after[key], before[key], rtol=0, atol=0)
    assert not block.deploy
    x = torch.randn(2, case[0], 9, 7)
    expected = block(x)
    actual = block.act(
        nn.functional.conv2d(
            x, kernel, bias, stride=case[2], padding=1, groups=case[3]))
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_running_mean_matters():
    # Guards against a fuse that ignores statistics: two blocks that differ
    # only in running_mean must give different folded biases.
    block = _block(8, 8, 1, 1)
    other = copy.deepcopy(block)
    other.branch_3x3.norm.running_mean.add_(1.)
    _, bias = block.get_equivalent_kernel_bias()
    _, other_bias = other.get_equivalent_kernel_bias()
    assert not torch.allclose(bias, other_bias)


def test_switch_is_idempotent_and_takes_test_cfg():
    block = _block(8, 8, 1, 1)
    block.switch_to_deploy(dict(flip_test=True))
    state = copy.deepcopy(block.state_dict())
    reparam = block.branch_reparam
    block.switch_to_deploy(dict(flip_test=True))
    assert block.branch_reparam is reparam
    for key, value in block.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_deploy_flag_builds_fused_form_that_loads_converted_weights():
    block = _block(8, 16, 2, 1)
    block.switch_to_deploy()
    fresh = RepVGGBlock(8, 16, stride=2, deploy=True).eval()
    assert fresh.state_dict().keys() == block.state_dict().keys()
    fresh.load_state_dict(block.state_dict(), strict=True)
    x = torch.randn(1, 8, 8, 8)
    torch.testing.assert_close(fresh(x), block(x), rtol=0, atol=0)


def test_equivalent_kernel_bias_in_deploy_form():
    block = _block(8, 8, 1, 1)
    expected = block.get_equivalent_kernel_bias()
    block.switch_to_deploy()
    actual = block.get_equivalent_kernel_bias()
    torch.testing.assert_close(actual, expected, rtol=0, atol=0)


def test_training_weights_into_deploy_block_raise():
    train_form = RepVGGBlock(8, 8)
    deploy_form = RepVGGBlock(8, 8, deploy=True)
    with pytest.raises(ValueError, match='tools/reparameterize.py'):
        deploy_form.load_state_dict(train_form.state_dict(), strict=False)
    with pytest.raises(ValueError, match='deploy=True'):
        train_form.load_state_dict(deploy_form.state_dict(), strict=False)


def test_non_batchnorm_cannot_deploy():
    gn = dict(type='GN', num_groups=2)
    with pytest.raises(TypeError, match='GroupNorm'):
        RepVGGBlock(8, 8, norm_cfg=gn, deploy=True)
    block = RepVGGBlock(8, 8, norm_cfg=gn)
    with pytest.raises(TypeError, match='BatchNorm'):
        block.switch_to_deploy()
    assert not block.deploy and hasattr(block, 'branch_3x3')


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_channels=8, out_channels=8, stride=3), 'stride'),
    (dict(in_channels=8, out_channels=6, groups=4), 'groups'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RepVGGBlock(**kwargs)

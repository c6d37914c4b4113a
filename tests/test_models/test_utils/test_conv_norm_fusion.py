import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmpose_light.models.utils import check_foldable_norm, fuse_conv_norm


def _norm(channels: int, affine: bool = True) -> nn.BatchNorm2d:
    """An eval-mode BatchNorm with statistics and parameters far from the
    defaults (a fold that drops one of them must not pass)."""
    norm = nn.BatchNorm2d(channels, affine=affine)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        norm.running_mean.copy_(torch.randn(channels, generator=gen))
        norm.running_var.copy_(torch.rand(channels, generator=gen) * 2 + 0.2)
        if affine:
            norm.weight.copy_(torch.rand(channels, generator=gen) + 0.5)
            norm.bias.copy_(torch.randn(channels, generator=gen))
    return norm.eval()


@pytest.mark.parametrize('groups', [1, 2])
@pytest.mark.parametrize('bias', [False, True])
def test_folded_conv_gives_conv_then_norm(groups, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, padding=1, groups=groups, bias=bias)
    norm = _norm(6)
    x = torch.randn(2, 4, 5, 7)
    kernel, fused_bias = fuse_conv_norm(conv.weight, norm, conv.bias)
    assert kernel.shape == conv.weight.shape and fused_bias.shape == (6, )
    with torch.no_grad():
        expected = norm(conv(x))
    actual = F.conv2d(x, kernel, fused_bias, padding=1, groups=groups)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_folded_depthwise_transposed_conv():
    # LPB's upsampling: input channel c feeds output channel c only
    torch.manual_seed(0)
    conv = nn.ConvTranspose2d(
        6, 6, 4, stride=2, padding=1, groups=6, bias=False)
    norm = _norm(6)
    x = torch.randn(2, 6, 3, 4)
    kernel, bias = fuse_conv_norm(conv.weight, norm)
    with torch.no_grad():
        expected = norm(conv(x))
    actual = F.conv_transpose2d(
        x, kernel, bias, stride=2, padding=1, groups=6)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


def test_norm_without_affine_parameters():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 5, 1, bias=False)
    norm = _norm(5, affine=False)
    x = torch.randn(1, 3, 4, 4)
    kernel, bias = fuse_conv_norm(conv.weight, norm)
    with torch.no_grad():
        expected = norm(conv(x))
    torch.testing.assert_close(
        F.conv2d(x, kernel, bias), expected, rtol=1e-5, atol=1e-5)


def test_fusion_leaves_its_arguments_alone():
    conv = nn.Conv2d(3, 5, 3, bias=True)
    norm = _norm(5)
    weight, conv_bias = conv.weight.clone(), conv.bias.clone()
    state = copy.deepcopy(norm.state_dict())
    kernel, bias = fuse_conv_norm(conv.weight, norm, conv.bias)
    assert not kernel.requires_grad and not bias.requires_grad
    assert type(kernel) is torch.Tensor and type(bias) is torch.Tensor
    assert torch.equal(conv.weight, weight) and torch.equal(
        conv.bias, conv_bias)
    for key, value in norm.state_dict().items():
        assert torch.equal(value, state[key]), key


@pytest.mark.parametrize('norm', [
    nn.GroupNorm(2, 4),
    nn.BatchNorm2d(4, track_running_stats=False),
    nn.Identity(),
])
def test_a_norm_that_cannot_fold_is_named(norm):
    with pytest.raises(TypeError, match='BatchNorm with running statistics'
                       r'.*' + type(norm).__name__):
        check_foldable_norm(norm)
    with pytest.raises(TypeError, match=type(norm).__name__):
        fuse_conv_norm(torch.ones(4, 1, 3, 3), norm)


def test_batchnorm_with_running_statistics_folds():
    for norm in (nn.BatchNorm2d(4), nn.SyncBatchNorm(4)):
        check_foldable_norm(norm)

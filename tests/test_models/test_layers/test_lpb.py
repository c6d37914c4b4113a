import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_light  # noqa: F401
from mmpose_light.models.layers import LPB


def _randomize(model: nn.Module) -> None:
    """Non-default BatchNorm statistics and non-trivial SE weights."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
        elif isinstance(m, nn.Conv2d) and m.bias is not None:
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=gen))


@pytest.mark.parametrize('kernel_size', [4, 2])
def test_output_shape(kernel_size):
    block = LPB(32, 24, 64, kernel_size=kernel_size)
    out = block(torch.rand(2, 32, 5, 4))
    assert out.shape == (2, 24, 10, 8)


def test_structure_is_depthwise_upsampling():
    block = LPB(16, 8, 48)
    up = block.upsample_conv.conv
    assert isinstance(up, nn.ConvTranspose2d)
    assert up.groups == 48 and up.in_channels == up.out_channels == 48
    assert up.weight.shape == (48, 1, 4, 4)
    assert block.expand_conv.conv.weight.shape == (48, 16, 1, 1)
    assert block.project_conv.conv.weight.shape == (8, 48, 1, 1)
    for conv in (block.expand_conv, block.upsample_conv, block.project_conv):
        assert isinstance(conv.bn, nn.BatchNorm2d)
    assert block.expand_conv.with_activation
    assert block.upsample_conv.with_activation
    assert not block.project_conv.with_activation


def test_attention_fusion():
    block = LPB(16, 12, 32)
    _randomize(block)
    block.eval()
    x = torch.rand(2, 16, 6, 5)
    with torch.no_grad():
        out = block(x)
        y = block.project_conv(block.upsample_conv(block.expand_conv(x)))
        se = block.se
        weights = se.conv2(se.conv1(y.mean(dim=(2, 3), keepdim=True)))
    # the weights really vary per channel, so the check below is not trivial
    assert weights.shape == (2, 12, 1, 1)
    assert weights.std() > 1e-3
    assert ((weights >= 0) & (weights <= 1)).all()
    torch.testing.assert_close(out, y + y * weights)
    assert not torch.allclose(out, y)


def test_without_attention():
    block = LPB(16, 12, 32, with_se=False)
    assert not hasattr(block, 'se')
    block.eval()
    x = torch.rand(1, 16, 4, 4)
    with torch.no_grad():
        expected = block.project_conv(
            block.upsample_conv(block.expand_conv(x)))
        torch.testing.assert_close(block(x), expected)


def test_custom_se_and_activation():
    block = LPB(
        16,
        12,
        32,
        act_cfg=dict(type='HSwish'),
        se_cfg=dict(
            ratio=3, act_cfg=(dict(type='ReLU'), dict(type='Sigmoid'))))
    assert isinstance(block.expand_conv.activate, nn.Hardswish)
    assert block.se.conv1.conv.out_channels == 4
    assert isinstance(block.se.conv2.activate, nn.Sigmoid)


def test_backward():
    block = LPB(8, 8, 16)
    out = block(torch.rand(2, 8, 3, 3))
    out.sum().backward()
    assert block.upsample_conv.conv.weight.grad is not None
    assert block.se.conv1.conv.weight.grad is not None


@pytest.mark.parametrize('kwargs, match', [
    (dict(kernel_size=3), 'kernel_size.*3'),
    (dict(in_channels=0), 'in_channels.*0'),
    (dict(mid_channels=1.5), 'mid_channels.*1.5'),
])
def test_bad_arguments(kwargs, match):
    args = dict(in_channels=8, out_channels=8, mid_channels=16)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LPB(**args)

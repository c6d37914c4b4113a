import copy

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_light  # noqa: F401
from mmpose_light.models.layers import LPB
from mmpose_light.models.layers.lpb import (PHASES, deinterleave_phases,
                                            interleave_phases)
from helpers import randomize_batchnorm

# MobileNetV3's gate, relu6(x + 3) / 6, as another attention than the default
HSIGMOID = dict(
    type='HSigmoid', bias=3.0, divisor=6.0, min_value=0.0, max_value=1.0)
# mmcv's HSigmoid warns on every construction that its defaults changed
QUIET_HSIGMOID = pytest.mark.filterwarnings('ignore:In MMCV v1.4.4')


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
        # SENet: squeeze, ReLU, excitation, sigmoid gate
        squeezed = torch.relu(se.conv1.conv(y.mean(dim=(2, 3),
                                                   keepdim=True)))
        weights = torch.sigmoid(se.conv2.conv(squeezed))
    # the weights really vary per channel, so the check below is not trivial
    assert weights.shape == (2, 12, 1, 1)
    assert weights.std() > 1e-3
    assert se.conv1.conv.out_channels == 12 // 4
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


@QUIET_HSIGMOID
def test_custom_se_and_activation():
    block = LPB(
        16,
        12,
        32,
        act_cfg=dict(type='HSwish'),
        se_cfg=dict(ratio=3, act_cfg=(dict(type='ReLU'), HSIGMOID)))
    assert isinstance(block.expand_conv.activate, nn.Hardswish)
    assert block.se.conv1.conv.out_channels == 4
    assert not isinstance(block.se.conv2.activate, nn.Sigmoid)
    gate = block.se.conv2.activate
    x = torch.tensor([-4., -3., 0., 3., 4.])
    torch.testing.assert_close(gate(x), torch.tensor([0., 0., 0.5, 1., 1.]))


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
    (dict(out_channels=True), 'out_channels.*True'),
])
def test_bad_arguments(kwargs, match):
    args = dict(in_channels=8, out_channels=8, mid_channels=16)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LPB(**args)
    with pytest.raises(TypeError, match="deploy.*'yes'"):
        LPB(8, 8, 16, deploy='yes')


# The deploy (sub-pixel) form.


def _trained(kernel_size: int = 4, with_se: bool = True,
             **kwargs) -> LPB:
    """A training-form LPB in eval mode with random BatchNorm statistics
    (a fold that drops running_mean must not pass) and attention that
    varies per channel."""
    torch.manual_seed(0)
    block = LPB(8, 6, 12, kernel_size=kernel_size, with_se=with_se, **kwargs)
    randomize_batchnorm(block)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in block.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
    return block.eval()


def _deployed(block: LPB) -> LPB:
    deployed = copy.deepcopy(block)
    deployed.switch_to_deploy()
    return deployed


def _assert_same_output(actual: torch.Tensor, expected: torch.Tensor,
                        rel: float = 1e-5) -> None:
    assert actual.shape == expected.shape
    scale = expected.abs().max()
    assert scale > 0
    torch.testing.assert_close(actual, expected, rtol=0, atol=rel * scale)


@pytest.mark.parametrize('kernel_size', [4, 2])
@pytest.mark.parametrize('with_se', [True, False])
@pytest.mark.parametrize('size', [(6, 4), (5, 7), (1, 1)])
def test_deploy_form_gives_the_training_output(kernel_size, with_se, size):
    block = _trained(kernel_size, with_se)
    x = torch.randn(2, 8, *size, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = block(x)
        actual = _deployed(block)(x)
    assert expected.shape == (2, 6, 2 * size[0], 2 * size[1])
    _assert_same_output(actual, expected)


@QUIET_HSIGMOID
@pytest.mark.parametrize('kwargs', [
    dict(act_cfg=dict(type='HSwish'), project_act_cfg=dict(type='ReLU')),
    dict(norm_cfg=None),
    dict(se_cfg=dict(ratio=3, act_cfg=(dict(type='ReLU'), HSIGMOID))),
])
def test_deploy_form_with_other_layer_settings(kwargs):
    block = _trained(**kwargs)
    x = torch.randn(2, 8, 5, 4, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        _assert_same_output(_deployed(block)(x), block(x))


def test_deploy_form_keeps_dtype():
    block = _trained().double()
    deployed = _deployed(block)
    assert all(p.dtype == torch.float64 for p in deployed.parameters())
    x = torch.randn(1, 8, 3, 5, dtype=torch.float64)
    with torch.no_grad():
        _assert_same_output(deployed(x), block(x), rel=1e-12)


@pytest.mark.parametrize('kernel_size', [4, 2])
def test_deploy_structure(kernel_size):
    block = _deployed(_trained(kernel_size))
    assert block.deploy
    assert not hasattr(block, 'upsample_conv')
    assert not [m for m in block.modules() if isinstance(m, _BatchNorm)]
    assert not [m for m in block.modules()
                if isinstance(m, nn.ConvTranspose2d)]
    assert len(block.upsample_phases) == len(PHASES) == 4
    # a 4x4 transposed kernel gives each phase 2x2 taps, in a 3x3 kernel
    # padded by 1 like the others; a 2x2 one a single tap
    k = {4: 3, 2: 1}[kernel_size]
    assert block.phase_kernel_size == k
    for phase in block.upsample_phases:
        conv = phase.conv
        assert type(conv) is nn.Conv2d
        assert conv.weight.shape == (12, 1, k, k) and conv.groups == 12
        assert conv.bias is not None and conv.padding == (k // 2, k // 2)
        assert phase.with_activation
    if kernel_size == 4:
        # 5 of the 9 taps of every phase kernel are zero
        for phase in block.upsample_phases:
            assert (phase.conv.weight == 0).flatten(1).sum(1).eq(5).all()
    assert block.expand_conv.conv.bias is not None
    assert not block.expand_conv.with_norm
    assert not block.project_conv.with_norm
    assert not block.project_conv.with_activation


def test_switch_to_deploy_is_idempotent_and_takes_test_cfg():
    block = _deployed(_trained())
    state = copy.deepcopy(block.state_dict())
    # MMPose's estimator walk passes its test_cfg positionally
    block.switch_to_deploy(dict(flip_test=True))
    assert block.state_dict().keys() == state.keys()
    for key, value in block.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_equivalent_kernel_bias_does_not_modify_the_block():
    block = _trained()
    state = copy.deepcopy(block.state_dict())
    params = block.get_equivalent_kernel_bias()
    assert not block.deploy and hasattr(block, 'upsample_conv')
    for key, value in block.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    deployed = _deployed(block)
    assert sorted(params) == sorted(deployed.get_equivalent_kernel_bias())
    for name, (kernel, bias) in deployed.get_equivalent_kernel_bias().items():
        torch.testing.assert_close(kernel, params[name][0])
        torch.testing.assert_close(bias, params[name][1])
    # the 4x4 kernel's 16 taps, BatchNorm-scaled, are split among the four
    # phases, each tap once (the phase kernels' other taps are zero)
    taps = torch.cat([params[f'upsample_phases.{i}'][0].flatten(1)
                      for i in range(4)], dim=1)
    taps = taps[:, taps.abs().sum(0) > 0]
    bn = block.upsample_conv.bn
    scale = bn.weight / (bn.running_var + bn.eps).sqrt()
    expected = block.upsample_conv.conv.weight.flatten(1) * scale[:, None]
    assert taps.shape == expected.shape == (12, 16)
    torch.testing.assert_close(
        taps.sort(dim=1).values, expected.detach().sort(dim=1).values)


def test_deploy_flag_loads_a_converted_state_dict_strictly():
    block = _trained(kernel_size=2)
    converted = _deployed(block).state_dict()
    built = LPB(8, 6, 12, kernel_size=2, deploy=True)
    assert built.deploy and not hasattr(built, 'upsample_conv')
    assert built.state_dict().keys() == converted.keys()
    built.load_state_dict(converted, strict=True)
    x = torch.randn(2, 8, 4, 3)
    with torch.no_grad():
        _assert_same_output(built.eval()(x), block(x))


def test_a_state_dict_of_the_other_form_is_refused():
    block = _trained()
    deployed = _deployed(block)
    # MMEngine loads `load_from` non-strictly; the refusal must still come
    with pytest.raises(ValueError, match='tools/reparameterize.py'):
        deployed.load_state_dict(block.state_dict(), strict=False)
    with pytest.raises(ValueError, match=r'deploy=True'):
        LPB(8, 6, 12).load_state_dict(deployed.state_dict(), strict=False)


def test_deploy_needs_a_norm_that_folds():
    group_norm = dict(type='GN', num_groups=2)
    with pytest.raises(TypeError, match='BatchNorm'):
        LPB(8, 6, 12, norm_cfg=group_norm, deploy=True)
    block = LPB(8, 6, 12, norm_cfg=group_norm)
    with pytest.raises(TypeError, match='BatchNorm'):
        block.switch_to_deploy()


@pytest.mark.parametrize('deploy', [False, True])
def test_uninterleaved_output_holds_the_output_phases(deploy):
    block = _trained()
    if deploy:
        block = _deployed(block)
    x = torch.randn(2, 8, 5, 3)
    with torch.no_grad():
        out = block(x)
        phases = block(x, interleave=False)
    assert phases.shape == (2, 6, 5, 4 * 3)
    for (a, b), phase in zip(PHASES, phases.split(3, dim=3)):
        _assert_same_output(phase, out[..., a::2, b::2])
    torch.testing.assert_close(interleave_phases(phases), out)


def test_attention_pools_the_same_over_the_phases():
    y = torch.randn(2, 6, 10, 14)
    phases = deinterleave_phases(y)
    assert phases.shape == (2, 6, 5, 28)
    torch.testing.assert_close(
        phases.mean(dim=(2, 3)), y.mean(dim=(2, 3)), rtol=1e-6, atol=1e-6)
    block = _deployed(_trained())
    with torch.no_grad():
        torch.testing.assert_close(
            interleave_phases(block.se(phases)), block.se(y))


def test_interleave_inverts_deinterleave():
    phases = torch.randn(2, 3, 5, 4 * 7)
    y = interleave_phases(phases)
    assert y.shape == (2, 3, 10, 14)
    assert torch.equal(deinterleave_phases(y), phases)
    # phase (a, b) lands on rows 2m + a and columns 2n + b
    for (a, b), phase in zip(PHASES, phases.split(7, dim=3)):
        assert torch.equal(y[..., a::2, b::2], phase)

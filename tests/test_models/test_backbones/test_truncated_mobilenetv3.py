import pytest
import torch
from mmpose.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_light  # noqa: F401
from mmpose_light.models.backbones import TruncatedMobileNetV3
from mmpose_light.models.layers import InvertedResidual


def test_default_is_mobileposenet_encoder():
    model = MODELS.build(dict(type='TruncatedMobileNetV3'))
    assert isinstance(model, TruncatedMobileNetV3)
    assert model.arch == 'large' and model.num_layers == 13
    assert model.out_channels == (160, )
    assert model.out_strides == (16, )
    # the 13th block of MobileNetV3-Large, with its stride 2 turned into 1
    assert model.layer13.depthwise_conv.conv.stride == (1, 1)
    assert model.layer13.depthwise_conv.conv.kernel_size == (5, 5)
    model.eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 48))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (1, 160, 4, 3)


def test_blocks_are_mobilenetv3_large():
    model = TruncatedMobileNetV3()
    # the first block has no expansion (16 -> 16 channels)
    assert not model.layer1.with_expand_conv
    assert not hasattr(model.layer1, 'expand_conv')
    assert all(getattr(model, f'layer{i}').with_expand_conv
               for i in range(2, 14))
    # squeeze widths: a quarter of the expanded width, rounded to 8
    se_widths = {
        name: block.se.conv1.conv.out_channels
        for name, block in model.named_children()
        if isinstance(block, InvertedResidual) and block.with_se
    }
    assert se_widths == {
        'layer4': 24,
        'layer5': 32,
        'layer6': 32,
        'layer11': 120,
        'layer12': 168,
        'layer13': 168
    }
    # the gate is the hard sigmoid relu6(x + 3) / 6
    gate = model.layer4.se.conv2.activate
    x = torch.linspace(-4, 4, 17)
    torch.testing.assert_close(gate(x), torch.clamp((x + 3) / 6, 0, 1))
    # BatchNorm epsilon of the ImageNet weights
    assert all(m.eps == 1e-3 for m in model.modules()
               if isinstance(m, _BatchNorm))


@pytest.mark.parametrize('arch, expected', [
    ('large', (2, 4, 4, 8, 8, 8)),
    ('small', (4, 8, 8, 16, 16, 16)),
])
def test_shapes_and_strides_per_level(arch, expected):
    num_layers = 6
    model = TruncatedMobileNetV3(
        arch=arch,
        num_layers=num_layers,
        last_stride=None,
        out_indices=range(num_layers))
    table = TruncatedMobileNetV3.arch_settings[arch][:num_layers]
    assert model.out_channels == tuple(row.out_channels for row in table)
    h, w = 64, 32
    model.eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, h, w))
    assert len(outs) == num_layers
    for out, channels, stride in zip(outs, model.out_channels,
                                     model.out_strides):
        assert out.shape == (2, channels, h // stride, w // stride)
    # stride-2 stem, then the stride-2 rows of each table
    assert model.out_strides == expected


@pytest.mark.parametrize('last_stride, stride', [(None, 32), (2, 32),
                                                 (1, 16)])
def test_last_stride(last_stride, stride):
    model = TruncatedMobileNetV3(last_stride=last_stride)
    assert model.out_strides == (stride, )
    with torch.no_grad():
        out, = model.eval()(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 160, 64 // stride, 64 // stride)


def test_out_indices_negative_and_unordered():
    model = TruncatedMobileNetV3(out_indices=(-1, 3, 1))
    assert model.out_indices == (1, 3, 12)
    assert model.out_channels == (24, 40, 160)
    assert model.out_strides == (4, 8, 16)
    assert model.eval() is model
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [24, 40, 160]
    assert [64 // o.shape[2] for o in outs] == [4, 8, 16]


@pytest.mark.parametrize('num_layers', [1, 7, 13, 15])
def test_truncation_builds_nothing_past_last_block(num_layers):
    model = TruncatedMobileNetV3(num_layers=num_layers)
    assert model.layers == [f'layer{i + 1}' for i in range(num_layers)]
    assert not hasattr(model, f'layer{num_layers + 1}')
    top_level = {name for name, _ in model.named_children()}
    assert top_level == {'layer0'} | set(model.layers)


def test_frozen_stages_and_norm_eval():
    model = TruncatedMobileNetV3(num_layers=5, frozen_stages=2, norm_eval=True)
    model.train()
    frozen = [model.layer0, model.layer1, model.layer2]
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert not module.training
    for module in (model.layer3, model.layer4, model.layer5):
        assert all(p.requires_grad for p in module.parameters())
        assert module.training
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))

    model = TruncatedMobileNetV3(num_layers=5, frozen_stages=5)
    model.train()
    assert all(not p.requires_grad for p in model.parameters())


def test_init_weights_without_checkpoint():
    model = TruncatedMobileNetV3(num_layers=3)
    torch.nn.init.zeros_(model.layer0.bn.weight)
    model.init_weights()
    torch.testing.assert_close(model.layer0.bn.weight,
                               torch.ones_like(model.layer0.bn.weight))


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = TruncatedMobileNetV3(num_layers=4)
    checkpointed = TruncatedMobileNetV3(num_layers=4, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 32, 32)
    for model in (plain, checkpointed):
        model(x)[0].sum().backward()
    torch.testing.assert_close(
        checkpointed.layer4.linear_conv.conv.weight.grad,
        plain.layer4.linear_conv.conv.weight.grad)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch='big'), ValueError, "Unknown arch 'big'"),
    (dict(arch=None), ValueError, 'Unknown arch None'),
    (dict(num_layers=16), ValueError, 'num_layers.*16'),
    (dict(arch='small', num_layers=12), ValueError, 'num_layers.*12'),
    (dict(num_layers=0), ValueError, 'num_layers.*0'),
    (dict(num_layers=True), ValueError, 'num_layers.*True'),
    (dict(last_stride=3), ValueError, 'last_stride.*3'),
    (dict(num_layers=13, out_indices=(13, )), ValueError, '13'),
    (dict(out_indices=(-14, )), ValueError, '-14'),
    (dict(out_indices=(12, -1)), ValueError, 'twice'),
    (dict(out_indices=()), ValueError, 'at least one'),
    (dict(out_indices=12), TypeError, 'out_indices'),
    (dict(num_layers=4, frozen_stages=5), ValueError, 'frozen_stages')
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TruncatedMobileNetV3(**kwargs)

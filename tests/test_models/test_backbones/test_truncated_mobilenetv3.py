import pytest
import torch
from mmpose.models.backbones import MobileNetV3
from mmpose.registry import MODELS
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_light  # noqa: F401
from mmpose_light.models.backbones import TruncatedMobileNetV3
from mmpose_light.testing import randomize_batchnorm

# BatchNorm statistics for the equivalence checks, far from the defaults
BN_STATS = dict(
    mean_std=0.1,
    weight_range=(0.5, 1.5),
    bias_std=0.1)


def test_default_is_mobileposenet_encoder():
    model = MODELS.build(dict(type='TruncatedMobileNetV3'))
    assert isinstance(model, TruncatedMobileNetV3)
    assert model.out_channels == (160, )
    assert model.out_strides == (16, )
    model.eval()
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 64, 48))
    assert isinstance(outs, tuple) and len(outs) == 1
    assert outs[0].shape == (1, 160, 4, 3)


@pytest.mark.parametrize('arch', ['big', 'small'])
def test_shapes_and_strides_per_level(arch):
    num_layers = 6
    model = TruncatedMobileNetV3(
        arch=arch, num_layers=num_layers, out_indices=range(num_layers))
    table = MobileNetV3.arch_settings[arch][:num_layers]
    assert model.out_channels == tuple(row[2] for row in table)
    h, w = 64, 32
    model.eval()
    with torch.no_grad():
        outs = model(torch.rand(2, 3, h, w))
    assert len(outs) == num_layers
    for out, channels, stride in zip(outs, model.out_channels,
                                     model.out_strides):
        assert out.shape == (2, channels, h // stride, w // stride)
    # stride-2 stem, then the stride-2 rows of each table
    expected = {'big': (2, 4, 4, 8, 8, 8), 'small': (4, 8, 8, 16, 16, 16)}
    assert model.out_strides == expected[arch]


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
def test_truncation_builds_nothing_past_last_layer(num_layers):
    model = TruncatedMobileNetV3(num_layers=num_layers)
    assert model.layers == [f'layer{i + 1}' for i in range(num_layers)]
    assert not hasattr(model, f'layer{num_layers + 1}')
    top_level = {name for name, _ in model.named_children()}
    assert top_level == {'conv1'} | set(model.layers)

    # exactly the weights of the kept part of MMPose's full MobileNetV3
    full = MobileNetV3(arch='big', out_indices=(num_layers - 1, ))
    kept = ('conv1.', ) + tuple(f'layer{i + 1}.' for i in range(num_layers))
    full_kept = {
        k: v
        for k, v in full.state_dict().items() if k.startswith(kept)
    }
    assert set(model.state_dict()) == set(full_kept)
    n_params = sum(p.numel() for p in model.parameters())
    n_kept = sum(p.numel() for n, p in full.named_parameters()
                 if n.startswith(kept))
    assert n_params == n_kept
    if num_layers < 15:
        assert n_params < sum(p.numel() for p in full.parameters())


def test_same_features_as_full_mobilenetv3():
    full = MobileNetV3(arch='big', out_indices=(3, 12))
    randomize_batchnorm(full, **BN_STATS)
    model = TruncatedMobileNetV3(out_indices=(3, 12))
    kept = {
        k: v
        for k, v in full.state_dict().items() if k in model.state_dict()
    }
    model.load_state_dict(kept, strict=True)
    full.eval()
    model.eval()
    x = torch.rand(1, 3, 64, 48)
    with torch.no_grad():
        expected = full(x)
        outs = model(x)
    assert len(outs) == len(expected) == 2
    for out, ref in zip(outs, expected):
        torch.testing.assert_close(out, ref)


def test_frozen_stages_and_norm_eval():
    model = TruncatedMobileNetV3(num_layers=5, frozen_stages=2, norm_eval=True)
    model.train()
    frozen = [model.conv1, model.layer1, model.layer2]
    for module in frozen:
        assert all(not p.requires_grad for p in module.parameters())
        assert not module.training
    for module in (model.layer3, model.layer4, model.layer5):
        assert all(p.requires_grad for p in module.parameters())
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))

    model = TruncatedMobileNetV3(num_layers=5, frozen_stages=5)
    model.train()
    assert all(not p.requires_grad for p in model.parameters())


def test_init_weights_runs():
    model = TruncatedMobileNetV3(num_layers=3)
    model.init_weights()
    torch.testing.assert_close(model.conv1.bn.weight,
                               torch.ones_like(model.conv1.bn.weight))


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(arch='large'), ValueError, "'large'"),
    (dict(num_layers=16), ValueError, 'num_layers.*16'),
    (dict(arch='small', num_layers=12), ValueError, 'num_layers.*12'),
    (dict(num_layers=0), ValueError, 'num_layers.*0'),
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

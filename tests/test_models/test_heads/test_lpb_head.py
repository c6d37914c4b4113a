import pytest
import torch
from mmengine.structures import InstanceData, PixelData
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs
from torch import nn

import mmpose_light  # noqa: F401
from mmpose_light.models.heads import LPBHeatmapHead
from mmpose_light.models.layers import LPB
from mmpose_light.models.utils import reparameterize_model
from helpers import randomize_batchnorm

# a 128x96 input seen by a stride-16 backbone, two LPBs to stride 4
INPUT_SIZE = (96, 128)
HEATMAP_SIZE = (24, 32)
FEAT_SHAPE = (40, 8, 6)
# HeatmapHead's default init (std 0.001) gives heatmaps of ~1e-18, too small
# for comparisons to tell results apart
_VISIBLE_INIT = dict(
    type='Normal', layer=['Conv2d', 'ConvTranspose2d'], std=0.3)


def _head(**kwargs) -> LPBHeatmapHead:
    cfg = dict(
        type='LPBHeatmapHead',
        in_channels=FEAT_SHAPE[0],
        out_channels=17,
        lpb_out_channels=(16, 24),
        lpb_mid_channels=(32, 48),
        decoder=dict(
            type='MSRAHeatmap',
            input_size=INPUT_SIZE,
            heatmap_size=HEATMAP_SIZE,
            sigma=2))
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def _feats(batch_size: int = 2, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(batch_size, *FEAT_SHAPE, generator=gen), )


def test_structure():
    head = _head()
    assert isinstance(head.deconv_layers, nn.Sequential)
    assert [type(m) for m in head.deconv_layers] == [LPB, LPB]
    assert [(m.in_channels, m.mid_channels, m.out_channels)
            for m in head.deconv_layers] == [(40, 32, 16), (16, 48, 24)]
    assert head.final_layer.in_channels == 24
    assert head.final_layer.out_channels == 17
    assert head.final_layer.kernel_size == (1, 1)


def test_lpbs_are_built_through_heatmap_heads_hook():
    calls = []

    class Recording(LPBHeatmapHead):

        def _make_deconv_layers(self, in_channels, layer_out_channels,
                                layer_kernel_sizes):
            calls.append((in_channels, tuple(layer_out_channels),
                          tuple(layer_kernel_sizes)))
            return super()._make_deconv_layers(in_channels,
                                               layer_out_channels,
                                               layer_kernel_sizes)

    head = Recording(
        in_channels=40,
        out_channels=17,
        lpb_out_channels=(16, 24),
        lpb_mid_channels=(32, 48),
        lpb_cfg=dict(kernel_size=2))
    # HeatmapHead.__init__ calls the hook once, with the LPBs' widths and
    # kernels, and sizes the final layer from them
    assert calls == [(40, (16, 24), (2, 2))]
    assert [type(m) for m in head.deconv_layers] == [LPB, LPB]
    assert head.final_layer.in_channels == 24


def test_lpb_cfg_reaches_every_block():
    head = _head(lpb_cfg=dict(kernel_size=2, with_se=False))
    for block in head.deconv_layers:
        assert block.upsample_conv.conv.kernel_size == (2, 2)
        assert not block.with_se


def test_no_lpb_is_a_plain_conv_head():
    head = _head(lpb_out_channels=(), lpb_mid_channels=())
    assert isinstance(head.deconv_layers, nn.Identity)
    out = head.forward(_feats())
    assert out.shape == (2, 17, 8, 6)


def test_forward():
    head = _head()
    feats = _feats()
    # the head reads the last level only, as HeatmapHead does
    extra = torch.rand(2, 8, 16, 12)
    out = head.forward((extra, ) + feats)
    assert out.shape == (2, 17, HEATMAP_SIZE[1], HEATMAP_SIZE[0])
    torch.testing.assert_close(out, head.forward(feats))


def test_loss_and_target_weights():
    head = _head()
    data = get_packed_inputs(
        batch_size=2,
        img_shape=INPUT_SIZE[::-1],
        input_size=INPUT_SIZE,
        heatmap_size=HEATMAP_SIZE)
    samples = data['data_samples']
    losses = head.loss(_feats(), samples)
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert losses['loss_kpt'].ndim == 0 and losses['loss_kpt'] > 0
    assert 0 <= float(losses['acc_pose']) <= 1
    losses['loss_kpt'].backward()
    grad = head.deconv_layers[0].expand_conv.conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0

    # keypoints with zero target weight do not contribute
    for sample in samples:
        sample.gt_instance_labels.keypoint_weights.zero_()
    losses = head.loss(_feats(), samples, train_cfg=dict(compute_acc=False))
    assert set(losses) == {'loss_kpt'}
    assert float(losses['loss_kpt']) == 0


def test_predict():
    head = _head(init_cfg=_VISIBLE_INIT).eval()
    data = get_packed_inputs(
        batch_size=2,
        img_shape=INPUT_SIZE[::-1],
        input_size=INPUT_SIZE,
        heatmap_size=HEATMAP_SIZE,
        with_heatmap=False)
    with torch.no_grad():
        preds, fields = head.predict(
            _feats(),
            data['data_samples'],
            test_cfg=dict(output_heatmaps=True))
    assert len(preds) == len(fields) == 2
    assert all(isinstance(p, InstanceData) for p in preds)
    assert all(isinstance(f, PixelData) for f in fields)
    for pred, field in zip(preds, fields):
        assert pred.keypoints.shape == (1, 17, 2)
        assert pred.keypoint_scores.shape == (1, 17)
        assert field.heatmaps.shape == (17, HEATMAP_SIZE[1], HEATMAP_SIZE[0])
        # keypoints lie on the input grid, at the heatmaps' argmax
        heatmaps = field.heatmaps.reshape(17, -1)
        torch.testing.assert_close(
            torch.as_tensor(pred.keypoint_scores[0]),
            heatmaps.max(dim=1).values)
        assert (pred.keypoints[..., 0] <= INPUT_SIZE[0]).all()
        assert (pred.keypoints[..., 1] <= INPUT_SIZE[1]).all()


def test_flip_test():
    head = _head(init_cfg=_VISIBLE_INIT).eval()
    data = get_packed_inputs(
        batch_size=2,
        img_shape=INPUT_SIZE[::-1],
        input_size=INPUT_SIZE,
        heatmap_size=HEATMAP_SIZE,
        with_heatmap=False)
    samples = data['data_samples']
    flip_indices = samples[0].metainfo['flip_indices']
    feats, feats_flip = _feats(seed=0), _feats(seed=1)
    test_cfg = dict(
        flip_test=True,
        flip_mode='heatmap',
        shift_heatmap=True,
        output_heatmaps=True)
    with torch.no_grad():
        _, fields = head.predict([feats, feats_flip], samples, test_cfg)
        expected = 0.5 * (
            head.forward(feats) + flip_heatmaps(
                head.forward(feats_flip),
                flip_indices=flip_indices,
                flip_mode='heatmap',
                shift_heatmap=True))
        plain = head.forward(feats)
    heatmaps = torch.stack([f.heatmaps for f in fields])
    torch.testing.assert_close(heatmaps, expected)
    assert (heatmaps - plain).abs().max() > 1e-2 * plain.abs().max()


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(lpb_mid_channels=(32, )), ValueError, r'\(16, 24\).*\(32,\)'),
    (dict(in_channels=(40, 40)), TypeError, 'in_channels'),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _head(**kwargs)


def _trained_head(**kwargs) -> LPBHeatmapHead:
    """A training-form head in eval mode, random BatchNorm statistics."""
    torch.manual_seed(0)
    head = _head(init_cfg=_VISIBLE_INIT, **kwargs)
    return randomize_batchnorm(head).eval()


def _assert_same_heatmaps(actual, expected):
    assert actual.shape == expected.shape
    torch.testing.assert_close(
        actual, expected, rtol=0, atol=1e-5 * expected.abs().max())


@pytest.mark.parametrize('kernel_size', [4, 2])
@pytest.mark.parametrize('with_se', [True, False])
def test_deploy_head_gives_the_training_heatmaps(kernel_size, with_se):
    head = _trained_head(
        lpb_cfg=dict(kernel_size=kernel_size, with_se=with_se))
    deployed = reparameterize_model(head)
    assert all(block.deploy for block in deployed.deconv_layers)
    assert not any(block.deploy for block in head.deconv_layers)
    # the last LPB's phases go through the final 1x1 conv side by side
    seen = []
    deployed.final_layer.register_forward_hook(
        lambda module, inputs, output: seen.append(inputs[0].shape))
    with torch.no_grad():
        expected = head.forward(_feats())
        actual = deployed.forward(_feats())
    height, width = HEATMAP_SIZE[1], HEATMAP_SIZE[0]
    assert seen == [(2, 24, height // 2, 2 * width)]
    assert actual.shape == (2, 17, height, width)
    _assert_same_heatmaps(actual, expected)


@pytest.mark.parametrize('final_layer', [
    None,
    dict(kernel_size=3, padding=1),
])
def test_deploy_head_with_other_final_layers(final_layer):
    # without a final layer the last LPB's phases are interleaved as they
    # come; a 3x3 final layer must see the interleaved map
    head = _trained_head(final_layer=final_layer)
    deployed = reparameterize_model(head)
    with torch.no_grad():
        _assert_same_heatmaps(
            deployed.forward(_feats()), head.forward(_feats()))


def test_lpb_cfg_deploy_builds_deploy_blocks_that_load_strictly():
    head = _trained_head()
    converted = reparameterize_model(head).state_dict()
    built = _head(lpb_cfg=dict(deploy=True))
    assert all(block.deploy for block in built.deconv_layers)
    built.load_state_dict(converted, strict=True)
    with torch.no_grad():
        _assert_same_heatmaps(
            built.eval().forward(_feats()), head.forward(_feats()))
    with pytest.raises(ValueError, match='tools/reparameterize.py'):
        built.load_state_dict(head.state_dict(), strict=False)

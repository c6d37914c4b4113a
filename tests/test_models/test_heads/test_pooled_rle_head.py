import pytest
import torch
from mmpose.models.utils.tta import flip_coordinates
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs

import mmpose_light  # noqa: F401

K = 17
INPUT_SIZE = (48, 64)


def _head(in_channels=16):
    head = MODELS.build(
        dict(
            type='PooledRLEHead',
            in_channels=in_channels,
            num_joints=K,
            decoder=dict(type='RegressionLabel', input_size=INPUT_SIZE)))
    head.init_weights()
    # larger weights than the default init, so outputs differ per input
    torch.nn.init.normal_(head.fc.weight, std=0.5)
    return head


def _samples(batch_size=2):
    return get_packed_inputs(
        batch_size=batch_size,
        num_keypoints=K,
        img_shape=INPUT_SIZE[::-1],
        input_size=INPUT_SIZE,
        with_heatmap=False,
        with_simcc_label=False)['data_samples']


def test_forward_pools_the_map_like_rle_head_on_gap():
    head = _head()
    feats = (torch.rand(2, 8, 4, 3), torch.rand(2, 16, 4, 3))
    out = head(feats)
    assert out.shape == (2, K, 4)
    # MMPose's RLEHead after a GlobalAveragePooling neck, same weights
    rle = MODELS.build(dict(type='RLEHead', in_channels=16, num_joints=K))
    rle.load_state_dict(head.state_dict(), strict=True)
    torch.testing.assert_close(out, rle((feats[1].mean(dim=(2, 3)), )))
    # already pooled inputs pass through
    torch.testing.assert_close(head((feats[1].mean(dim=(2, 3)), )), out)


def test_loss_trains_the_flow():
    head = _head()
    samples = _samples()
    losses = head.loss((torch.rand(2, 16, 4, 3), ), samples)
    assert set(losses) == {'loss_kpt', 'acc_pose'}
    assert torch.isfinite(losses['loss_kpt'])
    losses['loss_kpt'].backward()
    flow = head.loss_module.flow_model
    assert head.loss_module.q_distribution == 'laplace'
    assert all(p.grad is not None for p in flow.parameters())
    assert head.fc.weight.grad.abs().sum() > 0


def test_predict_scores_from_sigma_without_the_flow(monkeypatch):
    head = _head().eval()
    feats = (torch.rand(2, 16, 4, 3), )

    def no_flow(*args, **kwargs):
        raise AssertionError('the flow must not run at inference')

    monkeypatch.setattr(head.loss_module.flow_model, 'log_prob', no_flow)
    with torch.no_grad():
        preds = head.predict(feats, _samples())
        raw = head(feats)
    assert len(preds) == 2
    sigma = raw[..., 2:].sigmoid()
    for i, pred in enumerate(preds):
        assert pred.keypoints.shape == (1, K, 2)
        torch.testing.assert_close(
            torch.from_numpy(pred.keypoints[0]).float(),
            raw[i, :, :2] * torch.tensor(INPUT_SIZE, dtype=torch.float32))
        torch.testing.assert_close(
            torch.from_numpy(pred.keypoint_scores[0]).float(),
            1 - sigma[i].mean(dim=-1))


def test_flip_test_averages_with_the_flipped_view():
    head = _head().eval()
    samples = _samples()
    x = torch.rand(2, 16, 4, 3)
    x_flip = torch.rand(2, 16, 4, 3)
    with torch.no_grad():
        preds = head.predict([(x, ), (x_flip, )],
                             samples,
                             test_cfg=dict(flip_test=True))
        plain = head((x, ))
        flipped = flip_coordinates(
            head((x_flip, )),
            flip_indices=samples[0].metainfo['flip_indices'],
            shift_coords=True,
            input_size=INPUT_SIZE)
    plain[..., 2:] = plain[..., 2:].sigmoid()
    flipped[..., 2:] = flipped[..., 2:].sigmoid()
    expected = (plain + flipped) * 0.5
    size = torch.tensor(INPUT_SIZE, dtype=torch.float32)
    for i, pred in enumerate(preds):
        torch.testing.assert_close(
            torch.from_numpy(pred.keypoints[0]).float(),
            expected[i, :, :2] * size)
        torch.testing.assert_close(
            torch.from_numpy(pred.keypoint_scores[0]).float(),
            1 - expected[i, :, 2:].mean(dim=-1))


def test_bad_channels():
    with pytest.raises(TypeError, match=r'\[16, 32\]'):
        MODELS.build(
            dict(type='PooledRLEHead', in_channels=[16, 32], num_joints=K))
    with pytest.raises(ValueError, match='expected 16 input channels, got 8'):
        _head()((torch.rand(1, 8, 4, 3), ))

import copy
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS
from mmpose.testing import get_packed_inputs
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

import mmpose_light  # noqa: F401
from mmpose_light.models.layers import RepVGGBlock
from mmpose_light.models.utils import reparameterize_model

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_regression',
                  'coco', 'td-reg_repvgg-{}-fusion_rle-1xb64-210e_coco-'
                  '256x192.py')
TRAINING_BRANCHES = ('.branch_3x3.', '.branch_1x1.', '.branch_norm.')


def _randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-default BatchNorm statistics and affine parameters, mild enough
    that activations stay of order one through the 22 blocks."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.4 + 0.2)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.2)


def _estimator(arch: str) -> nn.Module:
    model = MODELS.build(Config.fromfile(CONFIG.format(arch.lower())).model)
    _randomize_bn(model)
    # weights large enough that keypoints depend visibly on the features
    nn.init.normal_(model.head.fc.weight, std=1.)
    return model.eval()


def _predict(model: nn.Module) -> torch.Tensor:
    # get_packed_inputs shuffles flip_indices with numpy's global generator;
    # seed it so that every call sees the same samples.
    np.random.seed(0)
    data = get_packed_inputs(
        batch_size=2,
        num_keypoints=17,
        img_shape=(64, 48),
        input_size=(192, 256),
        with_heatmap=False,
        with_simcc_label=False)
    data = model.data_preprocessor(data, training=False)
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    return torch.stack(
        [torch.from_numpy(p.pred_instances.keypoints).float() for p in preds])


@pytest.mark.parametrize('arch', ['A', 'B'])
def test_estimator_switch_to_deploy_keeps_keypoints(arch):
    model = _estimator(arch)
    expected = _predict(model)
    # MMPose's own walk: it reaches every block after the backbone has
    # converted it and passes test_cfg positionally.
    model.switch_to_deploy()
    assert not [
        k for k in model.state_dict() if any(b in k for b in TRAINING_BRANCHES)
    ]
    actual = _predict(model)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    # twice changes nothing
    state = copy.deepcopy(model.state_dict())
    model.switch_to_deploy()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_reparameterize_model_copies_by_default():
    model = _estimator('A')
    expected = _predict(model)
    deployed = reparameterize_model(model)
    assert deployed is not model
    assert not model.backbone.deploy
    assert any('.branch_3x3.' in k for k in model.state_dict())
    assert deployed.backbone.deploy
    blocks = [m for m in deployed.modules() if isinstance(m, RepVGGBlock)]
    assert len(blocks) == 22 and all(b.deploy for b in blocks)
    torch.testing.assert_close(
        _predict(deployed), expected, rtol=1e-4, atol=1e-4)
    # the original is untouched and still gives the same keypoints
    torch.testing.assert_close(_predict(model), expected, rtol=0, atol=0)


def test_reparameterize_model_inplace_and_on_a_block():
    model = _estimator('A')
    assert reparameterize_model(model, inplace=True) is model
    assert model.backbone.deploy
    block = RepVGGBlock(4, 4)
    deployed = reparameterize_model(block)
    assert deployed.deploy and not block.deploy


def test_reparameterize_model_rejects_non_modules():
    with pytest.raises(TypeError, match='dict'):
        reparameterize_model({'backbone': None})

import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmpose.registry import MODELS
from torch import nn

import mmpose_light  # noqa: F401
from mmpose_light.models.layers import RepVGGBlock
from mmpose_light.models.utils import reparameterize_model
from helpers import predict_keypoints, randomize_batchnorm

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_regression',
                  'coco', 'td-reg_repvgg-{}-fusion_rle-1xb64-210e_coco-'
                  '256x192.py')
TRAINING_BRANCHES = ('.branch_3x3.', '.branch_1x1.', '.branch_norm.')


def _estimator(arch: str) -> nn.Module:
    model = MODELS.build(Config.fromfile(CONFIG.format(arch.lower())).model)
    randomize_batchnorm(model)
    # weights large enough that keypoints depend visibly on the features
    nn.init.normal_(model.head.fc.weight, std=1.)
    return model.eval()


@pytest.mark.parametrize('arch', ['A', 'B'])
def test_estimator_switch_to_deploy_keeps_keypoints(arch):
    model = _estimator(arch)
    expected = predict_keypoints(model)
    # MMPose's own walk: it reaches every block after the backbone has
    # converted it and passes test_cfg positionally.
    model.switch_to_deploy()
    assert not [
        k for k in model.state_dict() if any(b in k for b in TRAINING_BRANCHES)
    ]
    actual = predict_keypoints(model)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    # twice changes nothing
    state = copy.deepcopy(model.state_dict())
    model.switch_to_deploy()
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_reparameterize_model_copies_by_default():
    model = _estimator('A')
    expected = predict_keypoints(model)
    deployed = reparameterize_model(model)
    assert deployed is not model
    assert not model.backbone.deploy
    assert any('.branch_3x3.' in k for k in model.state_dict())
    assert deployed.backbone.deploy
    blocks = [m for m in deployed.modules() if isinstance(m, RepVGGBlock)]
    assert len(blocks) == 22 and all(b.deploy for b in blocks)
    torch.testing.assert_close(
        predict_keypoints(deployed), expected, rtol=1e-4, atol=1e-4)
    # the original is untouched and still gives the same keypoints
    torch.testing.assert_close(
        predict_keypoints(model), expected, rtol=0, atol=0)


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

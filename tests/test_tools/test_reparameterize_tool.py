"""tools/reparameterize.py: convert, save, build the deploy config, load
strictly, same keypoints; the output's permissions and atomicity; and its
refusals."""
import hashlib
import os
import os.path as osp
import stat

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import load_checkpoint
from mmpose.registry import MODELS
from torch import nn

import mmpose_light  # noqa: F401
from helpers import predict_keypoints, randomize_batchnorm

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_regression',
                   'coco')
CONFIG = osp.join(CFG_DIR, 'td-reg_repvgg-a-fusion_rle-1xb64-210e_coco-'
                  '256x192.py')
DEPLOY_CONFIG = osp.join(
    CFG_DIR, 'td-reg_repvgg-a-fusion-deploy_rle-1xb64-210e_coco-256x192.py')


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('reparameterize')


def _digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def umask_022():
    """A known umask, unlike 0o077, that tells normal permissions from
    ``mkstemp``'s 0o600."""
    saved = os.umask(0o022)
    yield 0o022
    os.umask(saved)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A training-form checkpoint as MMEngine writes it, and its model."""
    model = MODELS.build(Config.fromfile(CONFIG).model)
    randomize_batchnorm(model)
    nn.init.normal_(model.head.fc.weight, std=1.)
    model.eval()
    path = str(tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth')
    torch.save(
        {
            'state_dict': model.state_dict(),
            'meta': dict(epoch=1, dataset_meta=dict(dataset_name='coco')),
            'optimizer': dict(state={}, param_groups=[])
        }, path)
    return model, path


def test_convert_save_build_deploy_config_strict_load(trained, tmp_path, tool,
                                                      umask_022):
    model, ckpt = trained
    before = _digest(ckpt)
    out = str(tmp_path / 'deploy.pth')
    tool.main([CONFIG, ckpt, out])
    assert _digest(ckpt) == before
    assert os.listdir(tmp_path) == ['deploy.pth']  # no temporary left over
    # the permissions of a plain open(out, 'wb'), not mkstemp's 0o600
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~umask_022

    saved = torch.load(out, map_location='cpu')
    assert set(saved) == {'state_dict', 'meta'}
    assert saved['meta']['epoch'] == 1
    assert not [
        k for k in saved['state_dict']
        if '.branch_3x3.' in k or '.branch_1x1.' in k or '.branch_norm.' in k
    ]

    deploy_cfg = Config.fromfile(DEPLOY_CONFIG)
    assert deploy_cfg.model.backbone.deploy
    deployed = MODELS.build(deploy_cfg.model)
    load_checkpoint(deployed, out, map_location='cpu', strict=True)
    deployed.eval()
    torch.testing.assert_close(
        predict_keypoints(deployed),
        predict_keypoints(model),
        rtol=1e-4,
        atol=1e-4)


def test_failed_write_leaves_existing_output(trained, tmp_path, tool,
                                             monkeypatch):
    _, ckpt = trained
    out = str(tmp_path / 'deploy.pth')
    tool.main([CONFIG, ckpt, out])
    before = _digest(out)

    def save_part_then_fail(obj, f):
        save({'state_dict': {}}, f)
        raise OSError('No space left on device')

    save = torch.save
    monkeypatch.setattr(tool.torch, 'save', save_part_then_fail)
    with pytest.raises(OSError, match='No space left'):
        tool.main([CONFIG, ckpt, out])
    assert _digest(out) == before
    assert os.listdir(tmp_path) == ['deploy.pth']  # no temporary left over


def test_unconverted_checkpoint_into_deploy_model_is_refused(trained):
    _, ckpt = trained
    deployed = MODELS.build(Config.fromfile(DEPLOY_CONFIG).model)
    # MMEngine loads `load_from` non-strictly; the refusal must still come
    with pytest.raises(ValueError, match='tools/reparameterize.py'):
        load_checkpoint(deployed, ckpt, map_location='cpu', strict=False)


def test_refuses_to_overwrite_input(trained, tool):
    _, ckpt = trained
    before = _digest(ckpt)
    with pytest.raises(SystemExit, match='refusing to overwrite'):
        tool.main([CONFIG, ckpt, ckpt])
    assert _digest(ckpt) == before


def test_missing_files_and_wrong_config(trained, tmp_path, tool):
    _, ckpt = trained
    out = str(tmp_path / 'out.pth')
    with pytest.raises(SystemExit, match='checkpoint .*missing.pth'):
        tool.main([CONFIG, str(tmp_path / 'missing.pth'), out])
    with pytest.raises(SystemExit, match='config .*missing.py'):
        tool.main([str(tmp_path / 'missing.py'), ckpt, out])
    with pytest.raises(SystemExit, match='output folder'):
        tool.main([CONFIG, ckpt, str(tmp_path / 'no' / 'out.pth')])
    with pytest.raises(SystemExit, match='deploy-form model'):
        tool.main([DEPLOY_CONFIG, ckpt, out])
    assert not osp.exists(out)


def test_converting_a_deploy_checkpoint_is_refused(trained, tmp_path, tool):
    _, ckpt = trained
    first = str(tmp_path / 'deploy.pth')
    tool.main([CONFIG, ckpt, first])
    with pytest.raises(SystemExit, match='deploy=True'):
        tool.main([CONFIG, first, str(tmp_path / 'again.pth')])

"""MMPose's own tools (and ours) on a config that custom-imports
mmpose_light: train, test, resume, distributed CPU training, bad input."""
import hashlib
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmpose_light.utils import stock_tool_path

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'tests', 'data', 'configs',
                  'stock_mobilenetv2_sample.py')


def run(args, cwd=ROOT, env=None):
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


def digest(path):
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('train'))
    # MMPose's stock train.py, outside the repository: only custom_imports
    # brings mmpose_light in.
    code, out = run([stock_tool_path('train.py'), CONFIG, '--work-dir',
                     work_dir], cwd=work_dir)
    assert code == 0, out[-3000:]
    return work_dir, out


def test_stock_train_evaluates_with_coco_metric(trained):
    work_dir, out = trained
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    assert 'coco/AP' in out


def test_stock_test_loads_checkpoint(trained, tmp_path):
    work_dir, _ = trained
    code, out = run([
        stock_tool_path('test.py'), CONFIG,
        osp.join(work_dir, 'epoch_1.pth'), '--work-dir',
        str(tmp_path)
    ])
    assert code == 0, out[-3000:]
    assert 'coco/AP' in out and 'Load checkpoint' in out


def test_stock_resume_continues_training(trained, tmp_path):
    work_dir, _ = trained
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    before = digest(ckpt)
    code, out = run([
        stock_tool_path('train.py'), CONFIG, '--work-dir', work_dir,
        '--resume', ckpt, '--cfg-options', 'train_cfg.max_epochs=2'
    ])
    assert code == 0, out[-3000:]
    assert 'resumed epoch: 1' in out
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    assert digest(ckpt) == before


def test_our_test_tool_refuses_truncated_checkpoint(trained, tmp_path):
    work_dir, _ = trained
    data = open(osp.join(work_dir, 'epoch_1.pth'), 'rb').read()
    bad = tmp_path / 'cut.pth'
    bad.write_bytes(data[:len(data) // 3])
    code, out = run(
        ['tools/test.py', CONFIG,
         str(bad), '--work-dir',
         str(tmp_path / 'work')])
    assert code != 0
    assert 'cut.pth' in out and 'truncated' in out


def test_unregistered_type_is_named_and_nothing_is_lost(trained):
    work_dir, _ = trained
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    before = digest(ckpt)
    code, out = run([
        'tools/train.py', CONFIG, '--work-dir', work_dir, '--cfg-options',
        'model.backbone.type=NoSuchBackbone'
    ])
    assert code != 0
    assert 'NoSuchBackbone is not in the' in out
    assert digest(ckpt) == before


def test_missing_annotation_file_is_named(tmp_path):
    code, out = run([
        'tools/train.py', CONFIG, '--work-dir',
        str(tmp_path), '--cfg-options',
        'train_dataloader.dataset.ann_file=missing_ann.json'
    ])
    assert code != 0
    assert 'missing_ann.json' in out


def test_two_processes_train_together_on_cpu(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517',
               OMP_NUM_THREADS='1')
    proc = subprocess.run([
        'bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir',
        str(tmp_path)
    ], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    # MMEngine reports the world size as the "GPU number"
    assert 'Distributed launcher: pytorch' in out and 'GPU number: 2' in out
    assert "backend': 'gloo'" in out
    assert osp.isfile(osp.join(tmp_path, 'epoch_1.pth'))

"""tools/demo.py: the runtime's command line with a PyTorch or ONNX model;
bad input gets a clear error and leaves no output file."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from mmengine.runner import save_checkpoint

import mmpose_light  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                  'coco', 'td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py')
IMG = osp.join(ROOT, 'data', 'sample', 'coco', '000000196141.jpg')
DETS = osp.join(ROOT, 'data', 'sample', 'coco', 'test_coco_det_AP_H_56.json')


def run(*args):
    proc = subprocess.run([sys.executable, 'tools/demo.py', *args],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    from mmpose.apis import init_model
    torch.manual_seed(0)
    model = init_model(CONFIG, device='cpu')
    path = str(tmp_path_factory.mktemp('ckpt') / 'mobileposenet.pth')
    save_checkpoint({'state_dict': model.state_dict()}, path)
    return path


def detections_of(image_id, score_thr=0.):
    return [
        d for d in json.load(open(DETS))
        if d['image_id'] == image_id and d['score'] >= score_thr
    ]


def test_draws_poses_and_writes_json(checkpoint, tmp_path):
    out, js = tmp_path / 'pose.jpg', tmp_path / 'pose.json'
    code, log = run(CONFIG, checkpoint, '--img', IMG, '--det-file', DETS,
                    '--bbox-thr', '0', '--nms', 'none', '--out-file',
                    str(out), '--json', str(js))
    assert code == 0, log[-2000:]
    boxes = len(detections_of(196141))
    assert f'{boxes} person box(es), {boxes} pose(s)' in log
    drawn = cv2.imread(str(out))
    original = cv2.imread(IMG)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 0.3
    assert len(json.loads(js.read_text())) == boxes


def test_onnx_model_draws_too(checkpoint, tmp_path):
    from mmpose.apis import init_model

    from mmpose_light.deploy import export_onnx
    onnx_file = str(tmp_path / 'model.onnx')
    export_onnx(
        init_model(CONFIG, checkpoint, device='cpu'),
        onnx_file,
        input_shape=(1, 3, 256, 192))
    out = tmp_path / 'pose_onnx.png'
    code, log = run(CONFIG, onnx_file, IMG, '--out', str(out), '--nms',
                    'none')
    assert code == 0, log[-2000:]
    # the whole image is the one box
    assert '1 person box(es), 1 pose(s)' in log
    assert cv2.imread(str(out)).shape == cv2.imread(IMG).shape


def test_bad_inputs_leave_no_output(checkpoint, tmp_path):
    out = tmp_path / 'never.jpg'
    broken = tmp_path / 'broken.jpg'
    broken.write_bytes(b'not an image')
    code, log = run(CONFIG, checkpoint, '--img', str(broken), '--out-file',
                    str(out))
    assert code != 0 and 'broken.jpg' in log

    code, log = run(CONFIG, checkpoint, '--img', IMG, '--det-file', DETS,
                    '--bbox-thr', '1.1', '--out-file', str(out))
    assert code != 0 and 'no person box of image id 196141' in log

    code, log = run(CONFIG, str(tmp_path / 'absent.pth'), '--img', IMG,
                    '--out-file', str(out))
    assert code != 0 and 'absent.pth' in log
    assert list(tmp_path.iterdir()) == [broken]


def test_every_pose_below_the_threshold_is_said(checkpoint, tmp_path):
    out = tmp_path / 'pose.jpg'
    code, log = run(CONFIG, checkpoint, IMG, '--det-file', DETS, '--out',
                    str(out), '--nms-thr', '2')
    assert code != 0
    assert 'scored below the NMS threshold --nms-thr 2.0' in log
    assert '--nms-thr 0.05' in log
    assert not out.exists()

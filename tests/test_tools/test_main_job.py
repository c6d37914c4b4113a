"""The main job (``make demo``, tools/run_demo.sh) on a fresh output folder:
both sample models, trained from random weights, draw each annotated person
of the sample image on the detected boxes, with PyTorch and with the
runtime's ONNX backend."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
IMAGE_ID = 196141
PICTURES = ('mobileposenet_pose', 'mobileposenet_onnx_pose', 'repnet-a_pose',
            'repnet-a_onnx_pose')
COCO_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87,
    .87, .89, .89
]) / 10.0


@pytest.fixture(scope='module')
def main_job(tmp_path_factory):
    out = tmp_path_factory.mktemp('demo')
    env = dict(os.environ, OUT=str(out), PYTHON=sys.executable)
    proc = subprocess.run(['bash', 'tools/run_demo.sh'],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=3000)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return out, proc.stdout


def annotated_people():
    with open(osp.join(SAMPLE, 'test_coco.json')) as f:
        coco = json.load(f)
    return [
        ann for ann in coco['annotations']
        if ann['image_id'] == IMAGE_ID and ann['num_keypoints'] > 0
    ]


def coco_oks(pred: np.ndarray, ann: dict) -> float:
    """COCO's OKS of a predicted pose (K, 2) with an annotation."""
    gt = np.array(ann['keypoints'], dtype=np.float64).reshape(-1, 3)
    visible = gt[:, 2] > 0
    dist2 = ((pred - gt[:, :2])**2).sum(axis=1)
    scale = (2 * COCO_SIGMAS)**2 * (ann['area'] + np.spacing(1)) * 2
    exponent = dist2 / scale
    return float(np.exp(-exponent[visible]).mean())


@pytest.mark.parametrize('picture', PICTURES)
def test_every_annotated_person_gets_a_skeleton(main_job, picture):
    out, _ = main_job
    with open(out / f'{picture}.json') as f:
        poses = json.load(f)
    assert poses and {p['image_id'] for p in poses} == {IMAGE_ID}
    keypoints = [np.array(p['keypoints']).reshape(-1, 3)[:, :2] for p in poses]
    people = annotated_people()
    best = [max(coco_oks(k, ann) for k in keypoints) for ann in people]
    matched = sum(oks >= 0.5 for oks in best)
    assert matched >= 0.8 * len(people), best
    # the picture is the image with something drawn on it
    drawn = cv2.imread(str(out / f'{picture}.jpg'))
    image = cv2.imread(osp.join(SAMPLE, f'{IMAGE_ID:012d}.jpg'))
    assert drawn.shape == image.shape
    assert np.abs(drawn.astype(int) - image).mean() > 0.5


def test_both_backends_draw_the_same_poses(main_job):
    out, _ = main_job
    for model in ('mobileposenet', 'repnet-a'):
        with open(out / f'{model}_pose.json') as f:
            torch_poses = json.load(f)
        with open(out / f'{model}_onnx_pose.json') as f:
            onnx_poses = json.load(f)
        assert len(torch_poses) == len(onnx_poses)
        for a, b in zip(torch_poses, onnx_poses):
            np.testing.assert_allclose(
                np.reshape(a['keypoints'], (-1, 3))[:, :2],
                np.reshape(b['keypoints'], (-1, 3))[:, :2],
                atol=0.5)


def test_the_job_reports_its_accuracy(main_job):
    _, log = main_job
    assert 'coco/AP: ' in log
    for line in log.splitlines():
        if line.startswith(('MobilePoseNet ', 'RepNet-A ')):
            values = [float(v) for v in line.split('coco/AP: ')[1:]]
            assert values and all(v > 0.2 for v in values), line


@pytest.mark.parametrize('model', ['mobileposenet', 'repnet-a'])
def test_tracks_the_people_of_a_moving_video(main_job, tmp_path, model):
    """The sample image moving 2 px right and 1 px down per frame, with the
    sample's detections moved alike: every annotated person keeps one track
    id over the 30 frames (zero id switches)."""
    from mmpose_light_runtime import (DetectionFile, PosePipeline,
                                      TopdownEstimator)
    from mmpose_light_runtime.tracker import box_iou
    out, _ = main_job
    image = cv2.imread(osp.join(SAMPLE, f'{IMAGE_ID:012d}.jpg'))
    height, width = image.shape[:2]
    video = str(tmp_path / 'moving.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             (width, height))
    with open(osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')) as f:
        detections = [d for d in json.load(f) if d['image_id'] == IMAGE_ID]
    dets = []
    for t in range(30):
        shift = np.float32([[1, 0, 2 * t], [0, 1, t]])
        writer.write(cv2.warpAffine(image, shift, (width, height)))
        for det in detections:
            x, y, w, h = det['bbox']
            dets.append(dict(det, image_id=t, bbox=[x + 2 * t, y + t, w, h]))
    writer.release()
    det_file = tmp_path / 'moving_dets.json'
    det_file.write_text(json.dumps(dets))

    people = annotated_people()
    boxes = np.array([ann['bbox'] for ann in people], dtype=np.float64)
    boxes[:, 2:] += boxes[:, :2]
    pipeline = PosePipeline(TopdownEstimator(str(out / f'{model}.onnx')),
                            DetectionFile(str(det_file), score_thr=0.3),
                            tracking=True)
    ids = [set() for _ in people]
    for frame, result in pipeline.run(video):
        moved = boxes + np.tile([2 * frame.index, frame.index], 2)
        overlap = box_iou(moved, result.bboxes)
        for person, row in enumerate(overlap):
            assert row.max() > 0.5, (frame.index, person)
            ids[person].add(int(result.track_ids[row.argmax()]))
    assert all(len(person_ids) == 1 for person_ids in ids), ids
    assert len(set.union(*ids)) == len(people)

"""The runtime command on an image, a folder and a video: drawn outputs,
COCO JSON, empty frames, file permissions and bad input."""
import json
import os
import os.path as osp
import shutil
import stat
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmpose_light_runtime import DetectionFile, TopdownEstimator
from mmpose_light_runtime.cli import main
from tiny_models import (IMAGE, IMAGE_ID, ROOT, SAMPLE, detector_graph,
                         gt_boxes, pose_graph, save_model)

DETS = osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')


def det_count(image_id, score_thr=0.3):
    return len(DetectionFile(DETS, score_thr).boxes.get(image_id, []))


def write_video(path, frames, fps=10.):
    fourcc = 'mp4v' if path.endswith('.mp4') else 'MJPG'
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps,
                             (width, height))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def read_video(path):
    capture = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def normal_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def test_image_with_detection_file(pose_model, tmp_path, capsys):
    out, js = tmp_path / 'pose.jpg', tmp_path / 'pose.json'
    main([pose_model, IMAGE, '--det-file', DETS, '--out', str(out), '--json',
          str(js), '--no-progress'])
    drawn, original = cv2.imread(str(out)), cv2.imread(IMAGE)
    assert drawn.shape == original.shape
    assert np.abs(drawn.astype(int) - original).mean() > 0.3
    results = json.loads(js.read_text())
    boxes = det_count(IMAGE_ID)
    assert 0 < len(results) <= boxes
    assert {r['image_id'] for r in results} == {IMAGE_ID}
    assert all(len(r['keypoints']) == 51 for r in results)
    scores = [r['score'] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert f'{boxes} person box(es), {len(results)} pose(s)' in \
        capsys.readouterr().out
    # what we write has the user's normal permissions, not mkstemp's 0600
    for path in (out, js):
        assert stat.S_IMODE(path.stat().st_mode) == normal_mode()
    # and no temporary file is left behind
    assert sorted(os.listdir(tmp_path)) == ['pose.jpg', 'pose.json']


def test_folder_to_folder(pose_model, tmp_path):
    folder = tmp_path / 'images'
    folder.mkdir()
    names = ['000000000785.jpg', '000000040083.jpg', '000000196141.jpg']
    for name in names:
        shutil.copy(osp.join(SAMPLE, name), folder / name)
    (folder / 'notes.txt').write_text('not an image')
    out, js = tmp_path / 'drawn', tmp_path / 'all.json'
    main([pose_model, str(folder), '--det-file', DETS, '--out', str(out),
          '--json', str(js)])
    assert sorted(os.listdir(out)) == names
    results = json.loads(js.read_text())
    ids = {int(n[:-4]) for n in names}
    assert {r['image_id'] for r in results} == ids


def test_video_with_empty_frames_runs_to_its_end(pose_model, tmp_path,
                                                 sample_image):
    """Frames without a person give empty results, not an exception."""
    black = np.zeros_like(sample_image)
    frames = [sample_image, black, sample_image, black, black, sample_image]
    video = write_video(str(tmp_path / 'in.avi'), frames)
    # a det file keyed by frame index: boxes on frames 0, 2 and 5 only
    dets = [
        dict(image_id=i, category_id=1, score=0.9,
             bbox=[x1, y1, x2 - x1, y2 - y1])
        for i in (0, 2, 5) for x1, y1, x2, y2 in gt_boxes()
    ]
    det_file = tmp_path / 'dets.json'
    det_file.write_text(json.dumps(dets))
    out, js = tmp_path / 'out.mp4', tmp_path / 'out.json'
    main([pose_model, video, '--det-file', str(det_file), '--out', str(out),
          '--json', str(js), '--nms', 'none'])
    drawn = read_video(str(out))
    assert len(drawn) == len(frames)
    # MPEG-4 rounds the odd height of the sample image down to even
    assert np.abs(np.subtract(drawn[0].shape, sample_image.shape)).max() <= 1
    per_frame = {}
    for entry in json.loads(js.read_text()):
        per_frame.setdefault(entry['image_id'], []).append(entry)
    assert sorted(per_frame) == [0, 2, 5]
    assert all(len(v) == len(gt_boxes()) for v in per_frame.values())


def test_empty_frames_in_the_python_api(pose_model, sample_image):
    from mmpose_light_runtime import PosePipeline
    pipeline = PosePipeline(TopdownEstimator(pose_model),
                            lambda image: np.zeros((0, 5)))
    result = pipeline(sample_image)
    assert len(result) == 0 and result.keypoints.shape == (0, 17, 2)


def test_onnx_person_detector(pose_model, tmp_path, sample_image):
    height, width = sample_image.shape[:2]
    boxes = gt_boxes()
    dets = np.concatenate([boxes, np.full((len(boxes), 1), 0.9)], axis=1)
    # a non-person and a low-scored box, which must be dropped
    extra = np.array([[5, 5, 50, 50, 0.95], [60, 60, 90, 90, 0.1]])
    labels = np.array([0] * len(boxes) + [2, 0])
    model = save_model(
        detector_graph(np.concatenate([dets, extra]), labels,
                       (width, height)), str(tmp_path / 'det.onnx'))
    js = tmp_path / 'poses.json'
    main([pose_model, IMAGE, '--det-model', model, '--json', str(js),
          '--nms', 'none'])
    results = json.loads(js.read_text())
    assert len(results) == len(boxes)
    got = np.array([r['bbox'] for r in results])
    got[:, 2:] += got[:, :2]
    np.testing.assert_allclose(got, boxes, atol=1e-3)


def test_detector_with_unexpected_outputs_is_refused(tmp_path):
    from mmpose_light_runtime import OnnxDetector
    model = save_model(
        detector_graph(np.zeros((1, 5)), np.zeros(1), (64, 64),
                       output_names=('boxes_out', 'classes_out')),
        str(tmp_path / 'other.onnx'))
    with pytest.raises(ValueError, match="'dets'"):
        OnnxDetector(model)


def run_cli(*args):
    proc = subprocess.run(
        [sys.executable, '-m', 'mmpose_light_runtime', *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


def test_bad_inputs_are_named_and_outputs_kept(pose_model, tmp_path,
                                               sample_image):
    # an earlier run's outputs, which a failed run must not touch
    out, js = tmp_path / 'out.mp4', tmp_path / 'out.json'
    out.write_bytes(b'previous video')
    js.write_text('[]')
    broken_image = tmp_path / 'broken.jpg'
    broken_image.write_bytes(b'not an image')
    broken_video = tmp_path / 'broken.mp4'
    broken_video.write_bytes(b'not a video')
    bare = save_model(pose_graph(), str(tmp_path / 'bare.onnx'))
    cases = [
        ((pose_model, str(broken_image), '--json', str(js)), 'broken.jpg'),
        ((pose_model, str(broken_video), '--out', str(out)), 'broken.mp4'),
        ((pose_model, '99', '--out', str(out)), 'cannot open camera'),
        ((pose_model, str(tmp_path / 'absent.mp4'), '--json', str(js)),
         'absent.mp4'),
        ((bare, IMAGE, '--json', str(js)), 'metadata'),
        ((pose_model, IMAGE), '--out and/or --json'),
    ]
    for args, message in cases:
        code, log = run_cli(*args)
        assert code == 2 and message in log, (args, log)
    assert out.read_bytes() == b'previous video'
    assert js.read_text() == '[]'


def test_failure_midway_leaves_no_half_written_video(pose_model, tmp_path,
                                                     sample_image):
    from mmpose_light_runtime.cli import add_pipeline_arguments, run
    import argparse
    frames = [sample_image] * 5
    video = write_video(str(tmp_path / 'in.avi'), frames)
    out, js = tmp_path / 'out.avi', tmp_path / 'out.json'
    out.write_bytes(b'previous video')
    calls = []

    def detector(image):
        calls.append(1)
        if len(calls) == 3:
            return np.array([[0, 0, np.nan, 10]])
        return gt_boxes()

    parser = argparse.ArgumentParser()
    add_pipeline_arguments(parser)
    args = parser.parse_args([video, '--out', str(out), '--json', str(js)])
    with pytest.raises(ValueError, match='finite'):
        run(args, TopdownEstimator(pose_model), detector)
    assert len(calls) == 3
    assert out.read_bytes() == b'previous video'
    assert not js.exists()
    assert sorted(os.listdir(tmp_path)) == ['in.avi', 'out.avi']

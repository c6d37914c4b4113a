"""The pose page in headless Chromium, for the browser tests and benchmark.

The page (``mmpose_light_runtime/web``) is served by
``mmpose_light_runtime.serve`` from a thread of this process; Node runs
``web/test/browser/drive.mjs``, which drives the system's Chromium through
``playwright-core`` (from ``web/node_modules``: ``npm ci --prefix web``)
and writes what the page computed as JSON.
"""
import base64
import contextlib
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import Dict, Iterator, List, Optional

import numpy as np

from .models import ROOT, SAMPLE_DIR

WEB = osp.join(ROOT, 'web')
SAMPLE_IMAGE_ID = 196141
SAMPLE_IMAGE = osp.join(SAMPLE_DIR, 'coco', '000000196141.jpg')
#: (w, h) input of :func:`fixed_detector`
DETECTOR_SIZE = (64, 64)
DRIVER = osp.join(WEB, 'test', 'browser', 'drive.mjs')
ORT_DIR = osp.join(WEB, 'node_modules', 'onnxruntime-web', 'dist')


def export_coco_model(name: str, onnx_file: str) -> str:
    """Export a benchmarked model (random weights, BatchNorm calibrated)
    with COCO's keypoint metadata (sigmas, flip pairs, skeleton and
    colours), as a trained model's file carries it."""
    from mmpose.datasets import CocoDataset
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from .models import build_model, export_model
    model, hw = build_model(name, calibrate=True)
    model.dataset_meta = parse_pose_metainfo(CocoDataset.METAINFO)
    export_model(model, hw, onnx_file)
    return onnx_file


def chromium_path() -> Optional[str]:
    """The system Chromium: ``$CHROMIUM``, else ``chromium`` or
    ``chromium-browser`` on the PATH; None where there is none."""
    if os.environ.get('CHROMIUM'):
        return os.environ['CHROMIUM']
    return shutil.which('chromium') or shutil.which('chromium-browser')


def missing_tools() -> List[str]:
    """What the browser tests need and this machine lacks."""
    missing = []
    if shutil.which('node') is None:
        missing.append('node (Node.js 20)')
    if chromium_path() is None:
        missing.append('chromium (apt install chromium)')
    for package in ('playwright-core', 'onnxruntime-web'):
        if not osp.isdir(osp.join(WEB, 'node_modules', package)):
            missing.append(f'{package} (npm ci --prefix web)')
    return missing


def require_tools(parser) -> None:
    """``parser.error`` naming what the page's tools lack, if anything."""
    missing = missing_tools()
    if missing:
        parser.error('needs ' + ', '.join(missing) +
                     ' (tools/setup_web_env.sh)')


@contextlib.contextmanager
def serve(pose: Optional[str] = None,
          detector: Optional[str] = None) -> Iterator[str]:
    """Serve the page on a free port of 127.0.0.1; yields its URL."""
    from mmpose_light_runtime.serve import make_server

    server = make_server(pose, detector, port=0, ort_dir=ORT_DIR,
                         quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f'http://127.0.0.1:{server.server_address[1]}/'
    finally:
        server.shutdown()
        server.server_close()


def drive(url: str,
          steps: List[dict],
          camera: Optional[str] = None,
          timeout: float = 300.) -> List[dict]:
    """Run ``steps`` on the page (see drive.mjs) and return its outputs.

    Raises:
        RuntimeError: If the driver fails, with its output.
    """
    with tempfile.TemporaryDirectory(prefix='web-drive-') as folder:
        job = osp.join(folder, 'job.json')
        out = osp.join(folder, 'out.json')
        with open(job, 'w') as f:
            json.dump(dict(url=url, steps=steps, camera=camera,
                           chromium=chromium_path(),
                           timeoutMs=int(timeout * 1000 * 0.9)), f)
        proc = subprocess.run(['node', DRIVER, job, out], cwd=WEB,
                              capture_output=True, text=True,
                              timeout=timeout)
        outputs = []
        if osp.isfile(out):
            with open(out) as f:
                outputs = json.load(f)
        if proc.returncode != 0:
            raise RuntimeError(
                f'the browser driver failed ({proc.returncode}):\n'
                f'{proc.stdout}\n{proc.stderr}\n'
                f'page outputs so far: {json.dumps(outputs)[:3000]}')
        return outputs


def frame_images(output: dict) -> List[np.ndarray]:
    """The frames a page run captured, as BGR images."""
    images = []
    for frame in output['frames']:
        rgba = np.frombuffer(base64.b64decode(frame['data']), np.uint8)
        rgba = rgba.reshape(frame['height'], frame['width'], 4)
        images.append(np.ascontiguousarray(rgba[..., 2::-1]))
    return images


def poses_arrays(poses: dict) -> Dict[str, np.ndarray]:
    """A page result (nested lists) as arrays."""
    return dict(
        keypoints=np.asarray(poses['keypoints'],
                             np.float64).reshape(-1, *np.shape(
                                 poses['keypoints'])[1:] or (0, 2)),
        keypoint_scores=np.asarray(poses['keypointScores'], np.float64),
        bboxes=np.asarray(poses['bboxes'], np.float64).reshape(-1, 4),
        scores=np.asarray(poses['scores'], np.float64),
        track_ids=np.asarray(poses['trackIds'], np.int64))


def write_y4m(path: str, frames: List[np.ndarray], fps: int = 10) -> str:
    """Frames (BGR, even sizes) as a YUV4MPEG2 4:2:0 file, the format of
    Chromium's fake camera."""
    height, width = frames[0].shape[:2]
    import cv2
    with open(path, 'wb') as f:
        f.write(f'YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 '
                'C420jpeg\n'.encode())
        for frame in frames:
            f.write(b'FRAME\n')
            f.write(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes())
    return path


def train_and_export(config: str, folder: str) -> str:
    """Train a sample config with MMPose's tools/train.py and export it
    with tools/export_onnx.py; the ONNX file."""
    work_dir = osp.join(folder, osp.splitext(osp.basename(config))[0])
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'train.py'),
                    config, '--work-dir', work_dir], check=True,
                   capture_output=True, cwd=folder)
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        checkpoint = f.read().strip()
    onnx_file = work_dir + '.onnx'
    subprocess.run([sys.executable, osp.join(ROOT, 'tools', 'export_onnx.py'),
                    config, checkpoint, onnx_file], check=True,
                   capture_output=True, cwd=folder)
    return onnx_file


def gt_boxes() -> np.ndarray:
    """The sample image's annotated people (x1, y1, x2, y2)."""
    with open(osp.join(SAMPLE_DIR, 'coco', 'test_coco.json')) as f:
        coco = json.load(f)
    xywh = np.array([a['bbox'] for a in coco['annotations']
                     if a['image_id'] == SAMPLE_IMAGE_ID], np.float64)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)


def detector_meta(score_thr: float = 0.3) -> dict:
    return dict(
        version=1, input_name='input', output_names=['boxes', 'scores'],
        input_size=list(DETECTOR_SIZE),
        preprocess=dict(mean=[103.53, 116.28, 123.675],
                        std=[57.375, 57.12, 58.395], to_rgb=False,
                        pad_value=114.),
        postprocess=dict(score_thr=score_thr, nms_pre=1000, iou_thr=0.65,
                         max_per_img=100, min_bbox_size=0))


def save_onnx(path: str, nodes, inputs, outputs, inits=(),
              metadata=None) -> str:
    from onnx import helper, save
    model = helper.make_model(
        helper.make_graph(nodes, osp.basename(path), inputs, outputs,
                          list(inits)),
        opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    save(model, path)
    return path


def fixed_detector(path: str, image_shape) -> str:
    """A detector file in ``tools/export_detector.py``'s format whose
    network returns the sample's people (each twice, the copy shifted, for
    NMS) in its input's pixels, with scores that follow the input's mean
    (so its letterbox and normalisation show)."""
    from onnx import TensorProto, helper, numpy_helper
    from mmpose_light_runtime.meta import DETECTOR_META_KEY
    height, width = image_shape[:2]
    ratio = min(DETECTOR_SIZE[0] / width, DETECTOR_SIZE[1] / height)
    boxes = gt_boxes()
    boxes = np.concatenate([boxes, boxes + [3, -2, 3, -2]]) * ratio
    scores = np.concatenate([np.linspace(0.9, 0.6, len(gt_boxes())),
                             np.full(len(gt_boxes()), 0.5)])
    nodes = [
        helper.make_node('ReduceMean', ['input'], ['mean'], keepdims=0),
        helper.make_node('Mul', ['mean', 'small'], ['shift']),
        helper.make_node('Add', ['fixed_scores', 'shift'], ['scores']),
        helper.make_node('Identity', ['fixed_boxes'], ['boxes']),
    ]
    inits = [numpy_helper.from_array(boxes.astype(np.float32)[None],
                                     'fixed_boxes'),
             numpy_helper.from_array(scores.astype(np.float32)[None],
                                     'fixed_scores'),
             numpy_helper.from_array(np.float32(0.01), 'small')]
    return save_onnx(
        path, nodes,
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [1, 3, DETECTOR_SIZE[1],
                                        DETECTOR_SIZE[0]])],
        [helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                       [1, len(boxes), 4]),
         helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                       [1, len(boxes)])],
        inits, {DETECTOR_META_KEY: detector_meta()})

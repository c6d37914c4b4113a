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
import tempfile
import threading
from typing import Dict, Iterator, List, Optional, Tuple

import numpy as np

from .models import ROOT

WEB = osp.join(ROOT, 'web')
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


def input_px_difference(page: dict, result, input_size: Tuple[int, int],
                        padding: float = 1.25) -> float:
    """The largest keypoint difference between a page result and a
    runtime ``PoseResult`` of the same poses (same order), in pixels at
    the model's input size (each pose's image pixels times input width
    over its crop's width)."""
    from mmpose_light_runtime.preprocess import (bbox_xyxy_to_center_scale,
                                                 fix_aspect_ratio)
    page = poses_arrays(page)
    if not len(result):
        return 0.
    _, scales = bbox_xyxy_to_center_scale(result.bboxes, padding)
    width, height = input_size
    scales = fix_aspect_ratio(scales, width / height)
    per_px = np.array([width, height]) / scales  # input px per image px
    diff = np.abs(page['keypoints'] - result.keypoints) * per_px[:, None]
    return float(diff.max())


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

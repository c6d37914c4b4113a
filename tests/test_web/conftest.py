"""Fixtures of the browser tests: the tools they need, the models the page
and the Python runtime both run, and the inputs.

The browser tests need Node 20, the system's Chromium and ``npm ci
--prefix web`` (``tools/setup_web_env.sh``); without them they are skipped,
unless ``MMPOSE_LIGHT_REQUIRE_WEB=1`` (``make test`` sets it), where they
fail instead.
"""
import cv2
import numpy as np
import pytest
from web_cases import IMAGE, POSE_MODELS, fixed_detector, require_web


@pytest.fixture(scope='session')
def web_models(tmp_path_factory):
    """The three pose models (random weights, BatchNorm calibrated) and the
    fixed-box detector."""
    require_web()
    from benchlib.web import export_coco_model
    folder = tmp_path_factory.mktemp('web-models')
    models = {
        kind: export_coco_model(name, str(folder / f'{kind}.onnx'))
        for kind, name in POSE_MODELS.items()
    }
    models['detector'] = fixed_detector(str(folder / 'detector.onnx'),
                                        cv2.imread(IMAGE).shape)
    return models


@pytest.fixture(scope='session')
def web_inputs(tmp_path_factory):
    """The sample image as PNG (lossless: both sides decode the same
    pixels), a short VP8 video of it moving, and the same frames as a
    .y4m file for Chromium's fake camera."""
    from benchlib.web import write_y4m
    folder = tmp_path_factory.mktemp('web-inputs')
    image = cv2.imread(IMAGE)
    png = str(folder / 'sample.png')
    cv2.imwrite(png, image)
    height, width = (s // 2 * 2 for s in image.shape[:2])
    frames = []
    for t in range(8):
        matrix = np.float32([[1, 0, 4 * t], [0, 1, -2 * t]])
        frames.append(cv2.warpAffine(image, matrix, (width, height)))
    webm = str(folder / 'moving.webm')
    writer = cv2.VideoWriter(webm, cv2.VideoWriter_fourcc(*'VP80'), 10,
                             (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return dict(image=png, video=webm, frames=frames,
                camera=write_y4m(str(folder / 'camera.y4m'), frames))

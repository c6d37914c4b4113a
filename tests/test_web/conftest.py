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
from web_cases import RANDOM, TRAINED, require_web


@pytest.fixture(scope='session')
def web_models(tmp_path_factory):
    """The three pose models (web_cases.TRAINED and RANDOM) and the
    fixed-box detector."""
    require_web()
    from benchlib.web import (SAMPLE_IMAGE, export_coco_model,
                              fixed_detector, train_and_export)
    folder = tmp_path_factory.mktemp('web-models')
    models = {
        kind: export_coco_model(name, str(folder / f'{kind}.onnx'))
        for kind, name in RANDOM.items()
    }
    for kind, config in TRAINED.items():
        models[kind] = train_and_export(config, str(folder))
    models['detector'] = fixed_detector(str(folder / 'detector.onnx'),
                                        cv2.imread(SAMPLE_IMAGE).shape)
    return models


@pytest.fixture(scope='session')
def web_inputs(tmp_path_factory):
    """The sample image as PNG (lossless: both sides decode the same
    pixels), a short VP8 video of it moving, and the same frames as a
    .y4m file for Chromium's fake camera."""
    from benchlib.web import SAMPLE_IMAGE, write_y4m
    folder = tmp_path_factory.mktemp('web-inputs')
    image = cv2.imread(SAMPLE_IMAGE)
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

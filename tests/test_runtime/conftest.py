"""Fixtures of the runtime tests, which run without PyTorch.

CI runs ``tests/test_runtime`` in an environment with only the runtime's
requirements (and pytest and onnx, to build test models); with
``MMPOSE_LIGHT_RUNTIME_ONLY=1`` set there, the session first checks that
torch, mmcv, mmengine and mmpose cannot be imported, so that these tests
cannot pass by leaning on them.
"""
import importlib
import os

import numpy as np
import pytest
from tiny_models import IMAGE, pose_graph, pose_meta, save_model


def pytest_sessionstart(session):
    if os.environ.get('MMPOSE_LIGHT_RUNTIME_ONLY') != '1':
        return
    for name in ('torch', 'mmcv', 'mmengine', 'mmpose'):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        raise pytest.UsageError(
            f'MMPOSE_LIGHT_RUNTIME_ONLY=1, but {name!r} imports: the runtime '
            'tests must run where only the runtime is installed')


@pytest.fixture(scope='session')
def pose_model(tmp_path_factory) -> str:
    """The tiny heatmap pose model, with the runtime's metadata."""
    path = str(tmp_path_factory.mktemp('models') / 'tiny_pose.onnx')
    return save_model(pose_graph(), path, pose_meta())


@pytest.fixture(scope='session')
def sample_image() -> np.ndarray:
    from mmpose_light_runtime import read_image
    return read_image(IMAGE)

import importlib.util
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def load_tool():
    """Import a script of ``tools/`` as a module: ``load_tool('demo')``."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(
            f'{name}_tool', osp.join(ROOT, 'tools', f'{name}.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load

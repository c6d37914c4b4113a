import importlib.util
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# tests/installed checks the built wheels in an environment of their own
# (tools/check_wheels.sh), not this clone
collect_ignore = ['installed']
# the benchmarks' library (tools/benchmarks/benchlib) and tests/helpers.py
sys.path[:0] = [osp.join(ROOT, 'tools', 'benchmarks'), osp.dirname(__file__)]


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

"""The page's JavaScript modules against the Python runtime.

The fixtures of :mod:`fixtures` (the Python runtime's results on fixed-seed
inputs) are written to a temporary folder and ``node --test web/test/unit/``
compares the JavaScript modules of ``runtime/mmpose_light_runtime/web/``
with them. Without ``node`` on the PATH the tests are skipped, unless
``MMPOSE_LIGHT_REQUIRE_WEB=1``, which makes that a failure.
"""
import json
import os
import os.path as osp
import shutil
import subprocess

import pytest

from fixtures import write_fixtures

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
UNIT_TESTS = 'web/test/unit/'
FIXTURES_VARIABLE = 'MMPOSE_LIGHT_WEB_FIXTURES'
# a cold start of node on a small machine takes seconds; all tests take ~2
TIMEOUT = 300


@pytest.fixture(scope='module')
def node() -> str:
    """The ``node`` executable; skip (or fail, if required) without it."""
    node = shutil.which('node')
    if node is None:
        if os.environ.get('MMPOSE_LIGHT_REQUIRE_WEB') == '1':
            pytest.fail('node is not on the PATH, but '
                        'MMPOSE_LIGHT_REQUIRE_WEB=1 requires the tests of the '
                        'page\'s JavaScript modules: install Node.js 20 or '
                        'newer')
        pytest.skip('node is not on the PATH: the tests of the page\'s '
                    'JavaScript modules need Node.js 20 or newer')
    return node


def _run_node(node: str, fixtures, *tests: str) -> subprocess.CompletedProcess:
    """``node --test`` on ``tests`` (all unit tests by default), from the
    repository root, with the fixtures folder in the environment (none if
    ``fixtures`` is None)."""
    env = dict(os.environ)
    env.pop(FIXTURES_VARIABLE, None)
    if fixtures is not None:
        env[FIXTURES_VARIABLE] = str(fixtures)
    return subprocess.run([node, '--test', *(tests or [UNIT_TESTS])],
                          cwd=ROOT,
                          env=env,
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=TIMEOUT)


@pytest.fixture(scope='module')
def fixtures_dir(node, tmp_path_factory):
    """The fixtures, written once for the module (once node is found)."""
    folder = tmp_path_factory.mktemp('web_fixtures')
    write_fixtures(str(folder))
    return folder


def test_javascript_matches_the_python_runtime(node, fixtures_dir):
    result = _run_node(node, fixtures_dir)
    assert result.returncode == 0, (
        f'node --test {UNIT_TESTS} failed (exit code {result.returncode}):\n'
        f'{result.stdout}')


def test_a_wrong_fixture_value_fails(node, fixtures_dir, tmp_path):
    """The suite can fail: one decayed score off by a millionth of itself,
    above the tolerance of 1e-9, is caught."""
    folder = tmp_path / 'perturbed'
    shutil.copytree(fixtures_dir, folder)
    path = folder / 'nms.json'
    data = json.loads(path.read_text())
    case = next(c for c in data['matrix_nms'] if c['decayed'])
    case['decayed'][0] *= 1 + 1e-6
    path.write_text(json.dumps(data))
    result = _run_node(node, folder, UNIT_TESTS + 'nms.test.mjs')
    assert result.returncode != 0, (
        'node --test passed although a fixture value was changed:\n'
        f'{result.stdout}')
    assert 'decayed scores: element 0' in result.stdout, result.stdout


def test_missing_fixtures_variable_fails_clearly(node):
    result = _run_node(node, None, UNIT_TESTS + 'nms.test.mjs')
    assert result.returncode != 0, result.stdout
    assert f'{FIXTURES_VARIABLE} is not set' in result.stdout, result.stdout

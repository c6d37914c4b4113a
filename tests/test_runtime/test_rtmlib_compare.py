"""tools/benchmarks/rtmlib_compare.py on a tiny SimCC model: its table,
its JSON with the CPU, and rtmlib skipped cleanly where it is missing."""
import json
import sys

import numpy as np
import pytest

from mmpose_light_runtime.timing import cpu_info
from tiny_models import INPUT_SIZE, pose_meta, save_model

COLUMNS = ('| threads | people | ours ms | rtmlib ms | ours / rtmlib | '
           'max kpt diff px |')


@pytest.fixture(scope='module')
def tool():
    # tests/conftest.py puts tools/benchmarks on the path
    import rtmlib_compare
    return rtmlib_compare


@pytest.fixture(scope='module')
def simcc_model(tmp_path_factory) -> str:
    """(N, 3, 64, 48) -> SimCC x (N, 17, 96) and y (N, 17, 128): a
    stride-4 conv, flattened, then one MatMul per axis."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(0)
    width, height = INPUT_SIZE
    cells = (height // 4) * (width // 4)
    inits = [
        numpy_helper.from_array(
            rng.normal(0, 0.1, (17, 3, 4, 4)).astype(np.float32), 'w'),
        numpy_helper.from_array(np.array([0, 17, -1], np.int64), 'shape'),
        numpy_helper.from_array(
            rng.normal(0, 0.1, (cells, width * 2)).astype(np.float32), 'wx'),
        numpy_helper.from_array(
            rng.normal(0, 0.1, (cells, height * 2)).astype(np.float32),
            'wy')
    ]
    nodes = [
        helper.make_node('Conv', ['input', 'w'], ['maps'], strides=[4, 4]),
        helper.make_node('Reshape', ['maps', 'shape'], ['flat']),
        helper.make_node('MatMul', ['flat', 'wx'], ['simcc_x']),
        helper.make_node('MatMul', ['flat', 'wy'], ['simcc_y'])
    ]
    graph = helper.make_graph(
        nodes, 'tiny_simcc', [
            helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                          ['batch', 3, height, width])
        ], [
            helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                          ['batch', 17, size * 2])
            for name, size in (('simcc_x', width), ('simcc_y', height))
        ], inits)
    meta = pose_meta(output_names=['simcc_x', 'simcc_y'],
                     codec=dict(type='SimCCLabel',
                                input_size=list(INPUT_SIZE),
                                simcc_split_ratio=2.0,
                                sigma=[4.9, 5.66],
                                use_dark=False))
    path = str(tmp_path_factory.mktemp('simcc') / 'tiny_simcc.onnx')
    return save_model(graph, path, meta)


def run(tool, model, out, capsys):
    assert tool.main([
        '--model', model, '--people', '1', '3', '--threads', 'default',
        '1', '--rounds', '2', '--warmup', '0', '--json', out
    ]) == 0
    text = capsys.readouterr().out
    with open(out) as f:
        report = json.load(f)
    return text, report


def check_report(text, report):
    cpu = cpu_info()
    assert cpu['model'] in text and ' '.join(cpu['flags']) in text
    assert report['cpu'] == cpu
    lines = text.splitlines()
    start = lines.index(COLUMNS) + 2
    table = lines[start:start + 4]
    assert start + 4 == len(lines) or not lines[start + 4]
    assert [line.split(' | ')[:2] for line in table] == [
        ['| default', '1'], ['| default', '3'], ['| 1', '1'], ['| 1', '3']
    ]
    assert [(r['threads'], r['people']) for r in report['rows']] == [
        ('default', 1), ('default', 3), ('1', 1), ('1', 3)
    ]
    return table


def test_without_rtmlib(tool, simcc_model, tmp_path, capsys, monkeypatch):
    # a None entry makes ``import rtmlib`` raise ImportError
    monkeypatch.setitem(sys.modules, 'rtmlib', None)
    text, report = run(tool, simcc_model, str(tmp_path / 'r.json'), capsys)
    assert 'rtmlib is not installed (pip install --no-deps rtmlib tqdm)' \
        in text
    table = check_report(text, report)
    assert report['rtmlib'] is None
    # ours measured, rtmlib's cells empty
    for line, row in zip(table, report['rows']):
        assert line.endswith('| - | - | - |')
        assert row['ours_ms'] > 0 and 'ratio' not in row


def test_with_rtmlib(tool, simcc_model, tmp_path, capsys):
    pytest.importorskip('rtmlib')
    text, report = run(tool, simcc_model, str(tmp_path / 'r.json'), capsys)
    check_report(text, report)
    for row in report['rows']:
        assert row['ratio'] == pytest.approx(row['ours_ms'] /
                                             row['rtmlib_ms'])
        # the same pixels through the same network: the same keypoints
        assert row['max_keypoint_diff'] < 1e-3


def test_rejects_a_heatmap_model(tool, pose_model, tmp_path):
    with pytest.raises(ValueError, match='rtmlib.*decodes SimCC'):
        tool.main(['--model', pose_model, '--rounds', '1'])

"""tools/benchmark.py in --quick mode on two small models: outputs, their
columns and values that follow from the definitions (no timed asserts)."""
import csv
import json
import os
import os.path as osp
import sys

import pytest

from benchlib import (COLUMNS, available_engines,
                      build_model, print_report)
from benchlib import get_complexity

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
OURS, STOCK = 'MobilePoseNet-256x192-deploy', 'RTMPose-t'


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('benchmark')


@pytest.fixture(scope='module')
def run(tool, tmp_path_factory):
    out_dir = str(tmp_path_factory.mktemp('benchmark'))
    # ONNX for ours only: covers both the exported and the skipped path
    code = tool.main([
        '--quick', '--models', OURS, STOCK, '--reference', STOCK,
        '--skip-onnx', STOCK, '--out-dir', out_dir
    ])
    assert code == 0
    with open(osp.join(out_dir, 'benchmark.json')) as f:
        result = json.load(f)
    rows = {row['model']: row for row in result['rows']}
    return out_dir, result, rows


def test_writes_outputs_atomically(tool, run):
    out_dir, _, _ = run
    assert sorted(os.listdir(out_dir)) == [
        'benchmark.csv', 'benchmark.json', 'benchmark.png'
    ]
    with open(osp.join(out_dir, 'benchmark.png'), 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_csv_matches_json(tool, run):
    out_dir, result, rows = run
    with open(osp.join(out_dir, 'benchmark.csv'), newline='') as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == list(COLUMNS)
        csv_rows = list(reader)
    assert [r['model'] for r in csv_rows] == [OURS, STOCK]
    for r in csv_rows:
        assert int(r['params']) == rows[r['model']]['params']
        assert float(r['torch_b1_1t_ms']) == pytest.approx(
            rows[r['model']]['torch_b1_1t_ms'])
    assert csv_rows[1]['ort_b1_1t_ms'] == ''
    assert list(result['columns']) == list(COLUMNS)


@pytest.mark.parametrize('name', [OURS, STOCK])
def test_size_matches_counter(run, name):
    _, _, rows = run
    model, hw = build_model(name)
    params, flops = get_complexity(model, (3, *hw))
    assert (rows[name]['params'], rows[name]['flops']) == (params, flops)
    assert rows[name]['input'] == f'{hw[0]}x{hw[1]}'


def test_measured_values_are_sane(tool, run):
    _, result, rows = run
    assert result['reference'] == STOCK
    assert set(result['matmul_peak_gmacs']) == {'b1_1t', 'b1_all', 'b32'}
    assert all(v > 0 for v in result['matmul_peak_gmacs'].values())
    for name, row in rows.items():
        for key in ('torch_b1_1t_ms', 'torch_b1_all_ms', 'torch_b32_ips',
                    'torch_b1_1t_peak_frac', 'mem_b32_mb'):
            assert row[key] > 0, (name, key)
        assert row['mem_b1_mb'] >= 0
        # the peak fraction follows from FLOPs, latency and the peak
        peak = result['matmul_peak_gmacs']['b1_1t'] * 1e9
        expected = row['flops'] / (row['torch_b1_1t_ms'] / 1e3) / peak
        assert row['torch_b1_1t_peak_frac'] == pytest.approx(expected)
    ours = rows[OURS]
    assert ours['ours'] and not rows[STOCK]['ours']
    assert ours['ap_reported'] == 66.2 and rows[STOCK]['ap_reported'] == 68.2
    for key in ('ort_b1_1t_ms', 'ort_b1_all_ms', 'ort_b32_ips'):
        assert ours[key] > 0
    assert ours['onnx_max_abs_err'] < 1e-3
    assert ours['ort_speedup_b1_1t'] == pytest.approx(
        ours['torch_b1_1t_ms'] / ours['ort_b1_1t_ms'])
    assert rows[STOCK]['ort_b1_1t_ms'] is None
    assert rows[STOCK]['ort_speedup_b1_1t'] is None
    assert rows[STOCK]['note'] == 'ONNX skipped'


def test_int8_and_openvino_columns(run):
    _, result, rows = run
    ours, stock = rows[OURS], rows[STOCK]
    engines = available_engines()
    assert result['engines'] == engines
    for key in ('ort_int8_b1_1t_ms', 'ort_int8_b1_all_ms',
                'ort_int8_b32_ips'):
        assert ours[key] > 0
        assert stock[key] is None
    assert ours['int8_speedup_b1_1t'] == pytest.approx(
        ours['ort_b1_1t_ms'] / ours['ort_int8_b1_1t_ms'])
    assert ours['int8_speedup_b32'] == pytest.approx(
        ours['ort_int8_b32_ips'] / ours['ort_b32_ips'])
    # the heatmap head's final conv stays float
    assert ours['int8_float_nodes'] == '/final_layer/Conv'
    # INT8 is not compared with the fp32 peak
    assert 'ort_int8_b1_1t_peak_frac' not in COLUMNS
    if 'ov' not in engines:
        assert ours['ov_b1_1t_ms'] is None
        return
    for key in ('ov_b1_1t_ms', 'ov_int8_b1_1t_ms', 'ov_b32_ips',
                'ov_int8_b32_ips'):
        assert ours[key] > 0
    assert ours['ov_vs_ort_b1_1t'] == pytest.approx(
        ours['ort_b1_1t_ms'] / ours['ov_b1_1t_ms'])
    assert ours['ov_int8_vs_ort_b1_1t'] == pytest.approx(
        ours['ort_b1_1t_ms'] / ours['ov_int8_b1_1t_ms'])
    peak = result['matmul_peak_gmacs']['b1_1t'] * 1e9
    assert ours['ov_b1_1t_peak_frac'] == pytest.approx(
        ours['flops'] / (ours['ov_b1_1t_ms'] / 1e3) / peak)


def test_ratios_to_reference(run):
    _, _, rows = run
    ref, ours = rows[STOCK], rows[OURS]
    for key in ('params_vs_ref', 'flops_vs_ref', 'torch_b1_1t_vs_ref',
                'torch_b32_vs_ref'):
        assert ref[key] == 1.0
    assert ours['params_vs_ref'] == ours['params'] / ref['params']
    assert ours['torch_b1_1t_vs_ref'] == pytest.approx(
        ref['torch_b1_1t_ms'] / ours['torch_b1_1t_ms'])
    # the reference has no ONNX Runtime figures, so there is no ratio
    assert ours['ort_b1_1t_vs_ref'] is None


def test_progress_and_table(capsys, run):
    # run() printed before capsys of this test existed; rerun the report
    _, result, rows = run
    print_report(result)
    out = capsys.readouterr().out
    assert 'Size and batch-1 latency' in out
    assert 'INT8 and OpenVINO: batch 1, 1 thread' in out
    assert f'Ratios: vs reference {STOCK}' in out
    assert OURS in out and STOCK in out
    # measurements only: verdicts belong in the README
    assert 'Goal' not in out and ' met' not in out
    # which CPU, with its vector extensions, in the table and the JSON
    machine = result['machine']
    assert f'Machine: {machine["cpu"]} (' in out
    assert isinstance(machine['cpu_flags'], list)
    assert machine['logical_cores'] >= 1


def test_prints_progress(tool, tmp_path, capsys):
    code = tool.main([
        '--quick', '--rounds', '1', '--models', STOCK, '--skip-onnx',
        '--out-dir',
        str(tmp_path)
    ])
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith('CPU: ')
    assert 'thread(s)' in out.splitlines()[0]
    for line in (f'[1/1] {STOCK}: build', f'[1/1] {STOCK}: params and FLOPs',
                 '[stage 1/3] batch 1, 1 thread(s)', '[stage 3/3] batch 32',
                 f'peak memory of {STOCK} measured'):
        assert line in out


@pytest.mark.parametrize('argv, message', [
    (['--models', 'Nope'], "invalid choice: 'Nope'"),
    (['--models', OURS, '--reference', STOCK], 'is not among --models'),
    (['--models', OURS, OURS], 'twice'),
    (['--rounds', '0'], '--rounds must be >= 1'),
    (['--engines', 'tensorrt'], "invalid choice: 'tensorrt'"),
])
def test_bad_arguments(tool, capsys, argv, message):
    with pytest.raises(SystemExit) as exc:
        tool.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_unknown_model_to_build():
    with pytest.raises(ValueError, match="unknown model 'Nope'"):
        build_model('Nope')


def test_default_reference(tool):
    assert tool.parse_args([]).engines == available_engines()
    assert tool.parse_args(['--models', OURS, STOCK]).reference == STOCK
    assert tool.parse_args(['--models', OURS]).reference == OURS
    args = tool.parse_args(['--models', OURS, STOCK, '--skip-onnx'])
    assert args.skip_onnx == [OURS, STOCK]


def test_openvino_engines_need_openvino(tool, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, 'openvino', None)
    assert tool.parse_args([]).engines == ['torch', 'ort', 'ort_int8']
    with pytest.raises(SystemExit):
        tool.parse_args(['--engines', 'ov'])
    assert 'OpenVINO is not installed' in capsys.readouterr().err

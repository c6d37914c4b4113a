"""The benchmark library: timing harness, memory probe, report writer."""
import json
import os
import stat

import numpy as np
import pytest
import torch

from benchlib import (MODELS_TABLE, compare_latency,
                      csv_bytes, format_table,
                      markdown_table, memory_probe_available,
                      peak_growth_mib, timing_parser,
                      write_report)


def test_timing_sets_torch_threads_and_no_grad():
    seen = []

    def probe():
        seen.append((torch.get_num_threads(), torch.is_grad_enabled()))

    before = torch.get_num_threads()
    times = compare_latency({'probe': probe}, rounds=2, warmup=1, threads=1)
    assert seen == [(1, False)] * 3
    assert torch.get_num_threads() == before
    assert list(times) == ['probe']


def test_timing_parser_options():
    parser = timing_parser('A benchmark', rounds=30)
    args = parser.parse_args([])
    assert (args.rounds, args.threads) == (30, 1)
    args = parser.parse_args(['--rounds', '2', '--threads', '4'])
    assert (args.rounds, args.threads) == (2, 4)
    # a benchmark adds its own options to the same parser
    parser.add_argument('--quick', action='store_true')
    assert parser.parse_args(['--quick']).quick


@pytest.mark.skipif(not memory_probe_available(), reason='needs Linux')
def test_memory_probe_sees_an_allocation():
    size = 64 * 2**20  # 64 MiB, touched
    grown = peak_growth_mib(lambda: np.ones(size // 8))
    assert 60 <= grown < 80
    assert peak_growth_mib(lambda: None) < 4


def test_tables():
    text = format_table(('model', 'ms'), [('a', '1.0'), ('long name', '12.5')])
    assert text.splitlines() == [
        'model        ms', '---------  ----', 'a           1.0',
        'long name  12.5'
    ]
    assert markdown_table(('a', 'b'), [('1', '2')]).splitlines() == [
        '| a | b |', '|---|---|', '| 1 | 2 |'
    ]
    assert csv_bytes([{'a': 1, 'b': None}], ['a', 'b']) == b'a,b\r\n1,\r\n'


def test_report_files_are_complete_with_normal_permissions(tmp_path):
    old = tmp_path / 'bench.json'
    old.write_text('old')
    umask = os.umask(0o022)
    try:
        paths = write_report(str(tmp_path), 'bench', {'rows': [1]},
                             [{'a': 1}], ['a'], png=b'\x89PNG')
    finally:
        os.umask(umask)
    assert sorted(os.listdir(tmp_path)) == [
        'bench.csv', 'bench.json', 'bench.png'
    ]
    assert json.loads(old.read_text()) == {'rows': [1]}
    for path in paths.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_model_table_points_at_configs():
    for name, spec in MODELS_TABLE.items():
        assert spec.config.startswith('mmpose::') or os.path.isfile(
            spec.config), name
        assert spec.form in ('-', 'train', 'deploy')

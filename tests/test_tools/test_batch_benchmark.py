"""tools/benchmarks/batch.py on a tiny model and a tiny archive: every
engine gives the results of the first run, and a seeded worker-kill trial
passes."""
import pytest

pytest.importorskip('ray')


def test_batch_benchmark_runs_every_engine(tmp_path, capsys):
    import batch as bench
    from test_runtime.tiny_models import pose_graph, pose_meta, save_model
    model = save_model(pose_graph(), str(tmp_path / 'tiny.onnx'),
                       pose_meta())
    result = bench.main(['--model', model, '--videos', '2', '--frames', '5',
                         '--fault-seeds', '1'])
    out = capsys.readouterr().out
    assert out.startswith('CPU: ')
    assert [r['run'] for r in result['rows']] == [
        '1 process, 1 thread', '1 process, default threads',
        '2 local processes, 1 thread each', '2 Ray workers, 1 thread each'
    ]
    assert all(r['frames'] == 10 and r['same'] for r in result['rows'])
    assert result['rows'][-1]['startup'] > 0
    assert result['fault_passed'] == result['fault_trials'] == 1
    assert 'all once, equal to the run without faults' in out

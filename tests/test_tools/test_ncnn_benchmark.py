"""tools/benchmarks/ncnn_vs_onnxruntime.py on a tiny model: one run
converts it in fp32 and fp16, times every engine and prints both
tables."""
import pytest

pytest.importorskip('ncnn')


def test_benchmark_times_every_engine(tmp_path, capsys):
    import ncnn_vs_onnxruntime as bench
    from test_runtime.tiny_models import pose_graph, pose_meta, save_model
    model = save_model(pose_graph(), str(tmp_path / 'tiny.onnx'),
                       pose_meta())
    result = bench.main(['--onnx', model, '--rounds', '2', '--threads', '1',
                         '2', '--crops', '1', '3', '--settle-ms', '0'])
    out = capsys.readouterr().out
    assert out.startswith('CPU: ')
    assert [(r['threads'], r['crops']) for r in result['timing']] == [
        (1, 1), (1, 3), (2, 1), (2, 3)]
    for row in result['timing']:
        assert row['ort_ms'] > 0
        assert row['ncnn fp32'] > 0 and row['ncnn fp16'] > 0
        # crops spread over threads: only with several crops and threads
        assert ('ncnn fp32 spread' in row) == (row == result['timing'][-1])
    assert [(r['precision'], r['keypoint_px']) for r in result['fidelity']
            ] == [('fp32', 0.), ('fp16', pytest.approx(0, abs=2))]
    assert 'ncnn time / ONNX Runtime time' in out

"""tools/benchmarks/int8.py's sample split; ort_profile.py and
lpb_upsample.py on MobilePoseNet."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from benchlib import build_model, export_model
from benchlib import get_complexity


@pytest.fixture(scope='module')
def int8_tool(load_tool):
    return load_tool('benchmarks/int8')


@pytest.fixture(scope='module')
def profile_tool(load_tool):
    return load_tool('benchmarks/ort_profile')


@pytest.fixture(scope='module')
def mobileposenet(tmp_path_factory):
    model, hw = build_model('MobilePoseNet-256x192-train', calibrate=True)
    path = str(tmp_path_factory.mktemp('mpn') / 'mpn.onnx')
    export_model(model, hw, path)
    return model, hw, path


def test_split_keeps_calibration_and_measurement_apart(int8_tool, tmp_path):
    split = int8_tool.make_split(str(tmp_path / 'split'))
    calib = sorted(os.listdir(split['calib']))
    held_out = sorted(os.listdir(split['held_out']))
    assert held_out == list(int8_tool.HELD_OUT)
    assert not set(calib) & set(held_out)
    assert len(calib) == 5 + len(int8_tool.CALIB_COCO)
    with open(split['calib_dets']) as f:
        dets = json.load(f)
    with open(osp.join(int8_tool.MPII, 'test_mpii.json')) as f:
        mpii = json.load(f)
    # one square box per MPII person, centred on its annotation
    for det, ann in zip(dets, mpii):
        x, y, w, h = det['bbox']
        assert det['image_id'] == int(ann['image'][:-4])
        assert (x + w / 2, y + h / 2) == pytest.approx(ann['center'])
        assert w == h == pytest.approx(200 * ann['scale'])


def test_profile_counts_and_times_every_layer(profile_tool, mobileposenet,
                                              capsys):
    model, hw, path = mobileposenet
    macs = profile_tool.node_macs(path)
    total = sum(v for k, v in macs.items() if not k.endswith('_nchwc'))
    # the graph's multiply-adds are MMEngine's count, less what MMEngine
    # adds for pooling and elementwise ops
    _, flops = get_complexity(model, (3, *hw))
    assert 0.95 * flops <= total <= flops
    result = profile_tool.profile(path, runs=2, threads=1)
    assert result['run_ms'] > 0
    # the export holds the LPBs' deploy form: no transposed convolution
    assert 'Conv' in result['op_type'].values()
    assert 'ConvTranspose' not in result['op_type'].values()
    # the profiler's trace is removed
    assert os.listdir(osp.dirname(path)) == ['mpn.onnx']
    profile_tool.report('MobilePoseNet', result, macs, top=3)
    out = capsys.readouterr().out
    assert 'op type' in out and 'Conv' in out
    # the network per crop at each batch size
    per_crop = profile_tool.time_batches(path, [1, 3], rounds=2, threads=1)
    assert list(per_crop) == [1, 3]
    assert all(ms > 0 for ms in per_crop.values())
    # a batch of 3 costs about 3 crops, not 1 (its time is divided by 3)
    assert 0.3 < per_crop[3] / per_crop[1] < 3


def test_lpb_forms_give_the_same_heatmaps(load_tool, mobileposenet,
                                          tmp_path):
    import onnx
    import onnxruntime as ort

    from mmpose_light_runtime import TopdownEstimator
    tool = load_tool('benchmarks/lpb_upsample')
    model, hw, _ = mobileposenet
    files = tool.export_forms(model, hw, str(tmp_path))
    ops = {
        form: {node.op_type for node in onnx.load(path).graph.node}
        for form, path in files.items()
    }
    assert 'ConvTranspose' in ops['training']
    assert 'ConvTranspose' not in ops['deploy']
    # both carry the runtime's metadata
    for path in files.values():
        assert TopdownEstimator(path).input_size == (hw[1], hw[0])
    x = np.random.default_rng(0).normal(size=(2, 3, *hw)).astype(np.float32)
    want, got = (
        ort.InferenceSession(files[form],
                             providers=['CPUExecutionProvider']).run(
                                 None, {'input': x})[0]
        for form in ('training', 'deploy'))
    assert got.shape == want.shape == (2, 17, hw[0] // 4, hw[1] // 4)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()


def test_lpb_upsample_prints_both_forms(load_tool, capsys):
    tool = load_tool('benchmarks/lpb_upsample')
    assert tool.main(['--rounds', '1', '--no-int8']) == 0
    out = capsys.readouterr().out
    rows = {line.split('  ')[0] for line in out.splitlines()}
    assert {'PyTorch eager', 'ONNX Runtime'} <= rows
    assert 'INT8' not in out.split('x: ')[0]
    error = float(out.split('relative error ')[1].split(' ')[0])
    assert error <= 1e-5


def test_lpb_attention_times_both_gates(load_tool, capsys):
    """The gates really differ (the hard gate is the previous default, not
    the paper's), and the table has both engines."""
    tool = load_tool('benchmarks/lpb_attention')
    gates = list(tool.GATES.values())
    assert gates[0]['act_cfg'][1]['type'] == 'Sigmoid'
    assert gates[1]['act_cfg'][1]['type'] == 'HSigmoid'
    assert tool.main(['--rounds', '1']) == 0
    out = capsys.readouterr().out
    assert out.startswith('CPU: ')
    for engine in ('float', 'INT8'):
        row = next(ln for ln in out.splitlines() if ln.startswith(engine))
        assert float(row.split()[-1]) > 0
    from mmpose_light.models.layers import lpb
    assert lpb.SE_CFG is gates[0]  # restored after the run

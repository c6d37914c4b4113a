"""tools/benchmarks/int8.py's sample split; ort_profile.py and
lpb_upsample.py on MobilePoseNet."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from mmpose_light.benchmarking import build_model, export_model
from mmpose_light.utils import get_complexity


@pytest.fixture(scope='module')
def int8_tool(load_tool):
    return load_tool('benchmarks/int8')


@pytest.fixture(scope='module')
def profile_tool(load_tool):
    return load_tool('benchmarks/ort_profile')


@pytest.fixture(scope='module')
def mobileposenet(tmp_path_factory):
    model, hw = build_model('MobilePoseNet-256x192', calibrate=True)
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
    assert 'ConvTranspose' in result['op_type'].values()
    # the profiler's trace is removed
    assert os.listdir(osp.dirname(path)) == ['mpn.onnx']
    profile_tool.report('MobilePoseNet', result, macs, top=3)
    out = capsys.readouterr().out
    assert 'op type' in out and 'ConvTranspose' in out


def test_sub_pixel_lpb_gives_the_same_heatmaps(load_tool, mobileposenet,
                                               tmp_path):
    import onnx
    import onnxruntime as ort
    tool = load_tool('benchmarks/lpb_upsample')
    _, hw, path = mobileposenet
    graph = onnx.load(path)
    tool.to_sub_pixel(graph, tool.LPB.format(1), graph.graph.output[0].name)
    tool.to_sub_pixel(graph, tool.LPB.format(0),
                      tool.LPB.format(0) + '/Add_output_0')
    onnx.checker.check_model(graph)
    assert 'ConvTranspose' not in {n.op_type for n in graph.graph.node}
    rewritten = str(tmp_path / 'sub_pixel.onnx')
    onnx.save(graph, rewritten)
    x = np.random.default_rng(0).normal(size=(2, 3, *hw)).astype(np.float32)
    want, got = (
        ort.InferenceSession(f, providers=['CPUExecutionProvider']).run(
            None, {'input': x})[0] for f in (path, rewritten))
    assert got.shape == want.shape == (2, 17, hw[0] // 4, hw[1] // 4)
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    with pytest.raises(ValueError, match='the LPB layout this prototype'):
        tool.to_sub_pixel(graph, tool.LPB.format(1), 'heatmaps')

"""Pose models exported to ONNX, converted to ncnn and checked against
ONNX Runtime: MobilePoseNet (its deployed LPB's 6-D phase interleave
rewritten for ncnn), RepNet-A deployed with the RLE head, RTMPose-t
(SimCC) and SimpleBaseline (transposed convolutions), in fp32 and fp16.
The detectors' conversions are in test_detector_export.py."""
import os.path as osp

import numpy as np
import pytest

from benchlib import build_model, export_model
from mmpose_light_runtime import TopdownEstimator

ncnn_export = pytest.importorskip('mmpose_light_runtime.ncnn_export')
pytest.importorskip('ncnn')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')


def _rank6_reshapes(path: str) -> int:
    import onnx
    from onnx import numpy_helper
    model = onnx.load(path)
    shapes = {
        i.name: numpy_helper.to_array(i)
        for i in model.graph.initializer
    }
    shapes.update({
        n.output[0]: numpy_helper.to_array(n.attribute[0].t)
        for n in model.graph.node if n.op_type == 'Constant'
    })
    return sum(1 for n in model.graph.node if n.op_type == 'Reshape'
               and len(shapes.get(n.input[1], ())) == 6)


@pytest.fixture(scope='module')
def simple_baseline(tmp_path_factory):
    model, hw = build_model('SimpleBaseline-MNv2', calibrate=True)
    path = str(tmp_path_factory.mktemp('sbl') / 'simplebaseline.onnx')
    export_model(model, hw, path)
    return path


@pytest.mark.parametrize('kind', ['heatmap', 'regression', 'simcc'])
def test_pose_models_convert_in_fp32(exports, kind, tmp_path, samples):
    result = ncnn_export.export_ncnn(exports[kind]['path'],
                                     str(tmp_path / kind), images=[SAMPLE])
    check = result['check']
    assert result['kind'] == 'pose' and result['precision'] == 'fp32'
    # MobilePoseNet's deployed LPBs: every 6-D interleave rewritten
    assert result['rewrites'] == _rank6_reshapes(exports[kind]['path'])
    assert (result['rewrites'] > 0) == (kind == 'heatmap')
    assert check['max_keypoint_px'] <= 0.5 and check['max_score'] <= 1e-3
    assert check['crops'] == 12
    # the runtime on the ncnn files: the poses of ONNX Runtime
    path, image, boxes = samples[0]
    ours = TopdownEstimator(result['files'][0]).predict(image, boxes)
    reference = TopdownEstimator(exports[kind]['path']).predict(image, boxes)
    scale = np.maximum(boxes[:, 2:] - boxes[:, :2], 1).max(1) * 1.25 / 256
    distance = np.linalg.norm(ours.keypoints - reference.keypoints, axis=-1)
    assert (distance / scale[:, None]).max() <= 0.5
    np.testing.assert_allclose(ours.scores, reference.scores, atol=1e-3)


def test_simple_baseline_converts(simple_baseline, tmp_path):
    result = ncnn_export.export_ncnn(simple_baseline, str(tmp_path / 'sbl'),
                                     images=[SAMPLE])
    layers = open(result['files'][0]).read()
    assert 'Deconvolution' in layers
    assert result['check']['max_keypoint_px'] <= 0.5


def test_mobileposenet_converts_in_fp16(exports, tmp_path):
    result = ncnn_export.export_ncnn(exports['heatmap']['path'],
                                     str(tmp_path / 'fp16'), images=[SAMPLE],
                                     fp16=True)
    assert result['precision'] == 'fp16'
    assert result['check']['max_keypoint_px'] <= 2.


def test_tool_runs_as_a_user_runs_it(exports, tmp_path):
    """``python tools/export_ncnn.py MODEL.onnx``: checked on the bundled
    samples by default; an ONNX file without metadata is refused."""
    import subprocess
    import sys
    tool = osp.join(ROOT, 'tools', 'export_ncnn.py')
    done = subprocess.run(
        [sys.executable, tool, exports['simcc']['path'], '--out',
         str(tmp_path / 'rtmpose')], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert 'ncnn vs ONNX Runtime on 12 crops of 4 image(s)' in done.stdout
    assert osp.isfile(tmp_path / 'rtmpose.ncnn.bin')

    import onnx
    model = onnx.load(exports['simcc']['path'])
    del model.metadata_props[:]
    bare = str(tmp_path / 'bare.onnx')
    onnx.save(model, bare)
    done = subprocess.run([sys.executable, tool, bare], capture_output=True,
                          text=True)
    assert done.returncode == 2
    assert "has no 'mmpose_light'" in done.stderr and '--meta' in done.stderr
    assert not osp.exists(tmp_path / 'bare.ncnn.param')

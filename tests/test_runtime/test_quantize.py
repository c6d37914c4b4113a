"""INT8 quantization of a small two-layer pose model: calibration on the
runtime's own crops, what stays float, the metadata, fidelity, bad input."""
import json
import os
import os.path as osp
import sys

import numpy as np
import pytest

from mmpose_light_runtime import DetectionFile, TopdownEstimator
from mmpose_light_runtime.meta import META_KEY
from mmpose_light_runtime.quantize import (QUANT_KEY, calibration_crops,
                                           compare_poses, default_float_nodes,
                                           quantize_model, quantized_nodes)
from mmpose_light_runtime.timing import cpu_info
from tiny_models import (INPUT_SIZE, ROOT, SAMPLE, gt_boxes, pose_meta,
                         save_model)

onnx = pytest.importorskip('onnx')

MPII = osp.join(ROOT, 'data', 'sample', 'mpii')
DETS = osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')


def two_layer_graph(seed: int = 0):
    """(N, 3, 64, 48) -> heatmaps (N, 17, 16, 12): conv 4x4 stride 2, ReLU,
    conv 3x3 stride 2."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.1, (8, 3, 4, 4)).astype(np.float32)
    b1 = rng.normal(0, 0.1, 8).astype(np.float32)
    w2 = rng.normal(0, 0.3, (17, 8, 3, 3)).astype(np.float32)
    width, height = INPUT_SIZE
    return helper.make_graph(
        [
            helper.make_node('Conv', ['input', 'w1', 'b1'], ['c1'],
                             strides=[2, 2], pads=[1, 1, 1, 1],
                             name='conv1'),
            helper.make_node('Relu', ['c1'], ['r1'], name='relu1'),
            helper.make_node('Conv', ['r1', 'w2'], ['heatmaps'],
                             strides=[2, 2], pads=[1, 1, 1, 1],
                             name='final'),
        ], 'two_layer_pose',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       ['batch', 3, height, width])],
        [helper.make_tensor_value_info(
            'heatmaps', TensorProto.FLOAT,
            ['batch', 17, height // 4, width // 4])],
        [numpy_helper.from_array(w1, 'w1'),
         numpy_helper.from_array(b1, 'b1'),
         numpy_helper.from_array(w2, 'w2')])


@pytest.fixture(scope='module')
def float_model(tmp_path_factory):
    path = tmp_path_factory.mktemp('quantize') / 'two_layer.onnx'
    return save_model(two_layer_graph(), str(path), pose_meta())


@pytest.fixture(scope='module')
def quantized(float_model, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('quantize') / 'two_layer_int8.onnx')
    info = quantize_model(float_model, out, MPII)
    return out, info


def metadata(path: str) -> dict:
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def test_the_last_layer_stays_float_by_default(float_model, quantized):
    assert default_float_nodes(onnx.load(float_model)) == ['final']
    out, info = quantized
    assert info['float_nodes'] == ['final']
    assert info['num_quantized'] == 1
    graph = onnx.load(out).graph
    producers = {o: n for n in graph.node for o in n.output}
    inits = {i.name: i for i in graph.initializer}
    convs = {n.name: n for n in graph.node if n.op_type == 'Conv'}
    # conv1: INT8 weights, one scale per output channel
    dq = producers[convs['conv1'].input[1]]
    assert dq.op_type == 'DequantizeLinear'
    weight, scale = inits[dq.input[0]], inits[dq.input[1]]
    assert weight.data_type == onnx.TensorProto.INT8
    assert list(scale.dims) == [8]
    # final: its float weight feeds it directly
    assert convs['final'].input[1] in inits
    assert inits[convs['final'].input[1]].data_type == \
        onnx.TensorProto.FLOAT


def test_output_carries_the_input_metadata(float_model, quantized):
    out, info = quantized
    before, after = metadata(float_model), metadata(out)
    assert after[META_KEY] == before[META_KEY]
    stored = json.loads(after[QUANT_KEY])
    assert stored == info['meta']
    assert stored['float_nodes'] == ['final']
    assert stored['calibration'] == dict(method='minmax', crops=5)
    assert stored['weight_bits']['chosen'] == info['weight_bits']
    assert stored['weight_bits']['asked'] == 'auto'
    assert set(stored['weight_bits']['calib_distance']) == {'7', '8'}
    # the CPU that chose the range, by its INT8 kernels' extensions
    cpu = cpu_info()
    assert stored['weight_bits']['cpu'] == dict(model=cpu['model'],
                                                flags=cpu['flags'])
    assert oct(os.stat(out).st_mode & 0o777) != '0o600'


def test_calibration_uses_the_runtime_crops(float_model, quantized,
                                            sample_image):
    estimator = TopdownEstimator(float_model)
    # whole frames of the five MPII images, one crop each
    crops = calibration_crops(estimator, MPII)
    assert crops.shape == (5, 3, 64, 48)
    # the input's range is that of those crops, not of noise
    out, _ = quantized
    graph = onnx.load(out).graph
    inits = {
        i.name: onnx.numpy_helper.to_array(i)
        for i in graph.initializer
    }
    q = next(n for n in graph.node
             if n.op_type == 'QuantizeLinear' and n.input[0] == 'input')
    scale, zero = inits[q.input[1]], inits[q.input[2]]
    low, high = min(crops.min(), 0), max(crops.max(), 0)
    np.testing.assert_allclose(scale, (high - low) / 255, rtol=1e-5)
    assert abs(int(zero) - round(-low / scale)) <= 1
    # boxes from a detection file: the best-scored ones of each image,
    # cropped as preprocess crops them
    dets = DetectionFile(DETS)
    crops = calibration_crops(estimator, osp.join(SAMPLE,
                                                  '000000196141.jpg'),
                              dets, max_crops=3)
    boxes, scores = dets(None, 196141)
    best = boxes[np.argsort(-scores, kind='stable')[:3]]
    np.testing.assert_array_equal(
        crops, estimator.preprocess(sample_image, best)[0])
    # every image takes part: 4 images, 8 crops, 2 from each
    assert len(calibration_crops(estimator, SAMPLE, dets, 8)) == 8


def test_int8_model_runs_in_the_runtime(float_model, quantized,
                                        sample_image):
    out, _ = quantized
    int8 = TopdownEstimator(out, num_threads=1)
    ref = TopdownEstimator(float_model, num_threads=1)
    result = int8.predict(sample_image, gt_boxes())
    assert result.keypoints.shape == (5, 17, 2)
    fidelity = compare_poses(ref, int8, SAMPLE, DetectionFile(DETS, 0.3))
    assert fidelity['num_images'] == 4
    assert fidelity['num_poses'] == len(fidelity['oks']) == 33
    assert fidelity['distances'].shape == (33 * 17, )
    assert 0 < fidelity['mean_oks'] <= 1
    assert fidelity['mean_distance'] == pytest.approx(
        fidelity['distances'].mean())
    assert 0 < fidelity['output_rel_err'][0] < 0.1


def int8_weights(path: str) -> np.ndarray:
    graph = onnx.load(path).graph
    inits = {i.name: i for i in graph.initializer}
    producers = {o: n for n in graph.node for o in n.output}
    conv = next(n for n in graph.node if n.name == 'conv1')
    dq = producers[conv.input[1]]
    return onnx.numpy_helper.to_array(inits[dq.input[0]])


def test_weight_bits(float_model, quantized, tmp_path):
    out, info = quantized
    # auto keeps the range whose keypoints lie closer to the float ones
    distance = info['calib_distance']
    assert set(distance) == {7, 8}
    assert info['weight_bits'] == min(distance, key=distance.get)
    for bits, limit in ((8, 127), (7, 64)):
        path = str(tmp_path / f'int8_{bits}.onnx')
        fixed = quantize_model(float_model, path, MPII, weight_bits=bits)
        assert fixed['weight_bits'] == bits
        assert list(fixed['calib_distance']) == [bits]
        assert fixed['calib_distance'][bits] == pytest.approx(
            distance[bits])
        weights = int8_weights(path)
        # symmetric per channel: each channel's largest weight at the limit
        peaks = np.abs(weights.astype(int)).reshape(len(weights), -1).max(1)
        assert peaks.max() <= limit and peaks.min() >= limit - 1
    with pytest.raises(ValueError, match="`weight_bits` should be 8, 7"):
        quantize_model(float_model, str(tmp_path / 'x.onnx'), MPII,
                       weight_bits=4)


def test_compare_poses_of_a_model_with_itself(float_model):
    ref = TopdownEstimator(float_model)
    same = compare_poses(ref, TopdownEstimator(float_model), SAMPLE,
                         DetectionFile(DETS, 0.3))
    assert same['max_distance'] == 0
    np.testing.assert_allclose(same['oks'], 1)
    assert same['output_rel_err'] == [0]


def test_openvino_runs_the_int8_model(float_model, quantized, sample_image):
    pytest.importorskip('openvino')
    out, _ = quantized
    ort = TopdownEstimator(out, num_threads=1)
    ov = TopdownEstimator(out, backend='openvino', num_threads=1)
    fidelity = compare_poses(ort, ov, SAMPLE, DetectionFile(DETS, 0.3))
    assert fidelity['mean_oks'] > 0.9


def test_refuses_an_already_quantized_model(quantized, tmp_path):
    out, _ = quantized
    with pytest.raises(ValueError, match='is already quantized'):
        quantize_model(out, str(tmp_path / 'again.onnx'), MPII)


def test_refuses_a_model_without_metadata(tmp_path):
    bare = save_model(two_layer_graph(), str(tmp_path / 'bare.onnx'))
    with pytest.raises(ValueError, match="has no 'mmpose_light' metadata"):
        quantize_model(bare, str(tmp_path / 'out.onnx'), MPII)


def test_refuses_calibration_without_crops(float_model, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='holds no image'):
        quantize_model(float_model, str(tmp_path / 'out.onnx'), str(empty))
    with pytest.raises(ValueError, match='no calibration images'):
        quantize_model(float_model, str(tmp_path / 'out.onnx'), [])
    # the MPII images are not in the COCO detection file
    with pytest.raises(ValueError, match='no person box in the 5 '
                       'calibration image'):
        quantize_model(float_model, str(tmp_path / 'out.onnx'), MPII,
                       DetectionFile(DETS))
    with pytest.raises(ValueError, match=r"`float_nodes` \['nope'\]"):
        quantize_model(float_model, str(tmp_path / 'out.onnx'), MPII,
                       float_nodes=['nope'])
    assert os.listdir(tmp_path) == ['empty']


def test_failure_keeps_an_existing_output(float_model, tmp_path,
                                          monkeypatch):
    out = tmp_path / 'model_int8.onnx'
    out.write_bytes(b'previous model')
    import onnxruntime.quantization as ort_quantization

    def half_written(model_input, model_output, *args, **kwargs):
        with open(model_output, 'wb') as f:
            f.write(b'half')
        raise RuntimeError('disk full')

    monkeypatch.setattr(ort_quantization, 'quantize_static', half_written)
    with pytest.raises(RuntimeError, match='disk full'):
        quantize_model(float_model, str(out), MPII)
    assert out.read_bytes() == b'previous model'
    assert os.listdir(tmp_path) == ['model_int8.onnx']


def test_missing_onnx_names_the_extra(float_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'onnx', None)
    with pytest.raises(ImportError,
                       match=r'pip install "mmpose-light-runtime\[quantize\]"'
                       ):
        quantize_model(float_model, str(tmp_path / 'out.onnx'), MPII)


def test_quantized_nodes_lists_qdq_operators(float_model, quantized):
    assert quantized_nodes(onnx.load(float_model)) == []
    model = onnx.load(quantized[0])
    qdq = [n.name for n in model.graph.node
           if n.op_type in ('QuantizeLinear', 'DequantizeLinear')]
    assert quantized_nodes(model) == qdq and len(qdq) >= 4

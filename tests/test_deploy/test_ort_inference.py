"""The ONNX Runtime top-down pipeline: the same keypoints as MMPose's
``inference_topdown``, decoders equal to MMPose's codecs, Matrix-OKS-NMS,
no torch in the pipeline, the command line tool and bad input."""
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import onnx
import pytest
from mmpose.codecs import MSRAHeatmap, RegressionLabel, UDPHeatmap

from mmpose_light.deploy import META_KEY, OrtTopdownEstimator, read_image
from mmpose_light.deploy.ort_inference import (decode_msra_heatmaps,
                                               decode_regression,
                                               decode_udp_heatmaps,
                                               rescore_poses)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
DET_FILE = osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')


@pytest.mark.parametrize('kind', ['heatmap', 'regression'])
def test_keypoints_match_inference_topdown(models, estimators, samples, kind):
    from mmpose.apis import inference_topdown
    model, estimator = models[kind], estimators[kind]
    worst, normalised = 0., []
    for _, image, boxes in samples:
        expected = inference_topdown(model, image, boxes)
        keypoints = np.concatenate(
            [s.pred_instances.keypoints for s in expected])
        scores = np.concatenate(
            [s.pred_instances.keypoint_scores for s in expected])
        pred = estimator.predict(image, boxes, nms=None)
        np.testing.assert_array_equal(pred['keep'], np.arange(len(boxes)))
        np.testing.assert_array_equal(pred['bboxes'], boxes)
        assert pred['keypoints'].shape == keypoints.shape
        normalised.append((pred['keypoints'] - boxes[:, None, :2]) /
                          (boxes[:, None, 2:] - boxes[:, None, :2]))
        worst = max(worst, np.abs(pred['keypoints'] - keypoints).max())
        np.testing.assert_allclose(pred['keypoint_scores'],
                                   scores,
                                   rtol=0,
                                   atol=1e-3 * np.abs(scores).max())
    assert worst < 0.5
    # the poses depend on the crops (not a constant network), so the
    # comparison above is not vacuous
    assert np.ptp(np.concatenate(normalised), axis=0).max() > 0.05


def random_heatmaps(rng, num, num_kpts, height, width):
    """Gaussian peaks (some at the border) on noise; the last keypoint of
    the first instance has no positive value."""
    ys, xs = np.mgrid[:height, :width]
    heatmaps = rng.uniform(0, 0.05, (num, num_kpts, height, width))
    centers = rng.uniform(-0.5, [width - 0.5, height - 0.5],
                          (num, num_kpts, 2))
    centers[0, :4] = [[0, 0], [width - 1, height - 1], [1, 5], [6, 1]]
    heatmaps += np.exp(-((xs - centers[..., :1, None])**2 +
                         (ys - centers[..., 1:, None])**2) / 8)
    heatmaps[0, -1] = -rng.uniform(0.1, 1, (height, width))
    return heatmaps.astype(np.float32)


@pytest.mark.parametrize('unbiased', [False, True])
def test_msra_decoding_matches_mmpose(unbiased):
    codec = MSRAHeatmap((48, 64), (12, 16), sigma=2, unbiased=unbiased)
    heatmaps = random_heatmaps(np.random.default_rng(0), 3, 17, 16, 12)
    keypoints, scores = decode_msra_heatmaps(
        heatmaps,
        dict(input_size=[48, 64],
             heatmap_size=[12, 16],
             unbiased=unbiased,
             blur_kernel_size=11))
    for n in range(3):
        expected, expected_scores = codec.decode(heatmaps[n])
        np.testing.assert_allclose(keypoints[n], expected[0], atol=1e-4)
        np.testing.assert_allclose(scores[n], expected_scores[0])


@pytest.mark.parametrize('heatmap_type', ['gaussian', 'combined'])
def test_udp_decoding_matches_mmpose(heatmap_type):
    codec = UDPHeatmap((48, 64), (12, 16),
                       heatmap_type=heatmap_type,
                       sigma=2,
                       radius_factor=0.0546875)
    rng = np.random.default_rng(1)
    heatmaps = random_heatmaps(rng, 2, 5, 16, 12)
    if heatmap_type == 'combined':
        offsets = rng.uniform(-1, 1, (2, 10, 16, 12)).astype(np.float32)
        heatmaps = np.stack([heatmaps, offsets[:, ::2], offsets[:, 1::2]],
                            axis=2).reshape(2, 15, 16, 12)
    keypoints, scores = decode_udp_heatmaps(
        heatmaps,
        dict(input_size=[48, 64],
             heatmap_size=[12, 16],
             heatmap_type=heatmap_type,
             radius_factor=0.0546875,
             blur_kernel_size=11))
    for n in range(2):
        expected, expected_scores = codec.decode(heatmaps[n])
        np.testing.assert_allclose(keypoints[n], expected[0], atol=1e-3)
        np.testing.assert_allclose(scores[n], expected_scores[0])


def test_regression_decoding_matches_mmpose():
    logits = np.random.default_rng(2).normal(size=(3, 17, 4))
    sigmoided = logits.copy()
    sigmoided[..., 2:] = 1 / (1 + np.exp(-logits[..., 2:]))
    expected, expected_scores = RegressionLabel((192, 256)).decode(sigmoided)
    keypoints, scores = decode_regression(logits,
                                          dict(input_size=[192, 256]),
                                          sigmoid_sigma=True)
    np.testing.assert_allclose(keypoints, expected)
    np.testing.assert_allclose(scores, expected_scores)
    keypoints, scores = decode_regression(logits[..., :2],
                                          dict(input_size=[192, 256]))
    np.testing.assert_allclose(keypoints, expected)
    np.testing.assert_array_equal(scores, np.ones((3, 17)))


def test_rescoring_follows_coco_metric():
    kpt_scores = np.array([[0.9, 0.1, 0.5], [0.1, 0.1, 0.1]])
    bbox_scores = np.array([0.8, 1.0])
    np.testing.assert_allclose(rescore_poses(kpt_scores, bbox_scores),
                               [0.8 * 0.7, 0.])
    np.testing.assert_allclose(
        rescore_poses(kpt_scores, bbox_scores, 'bbox_rle'),
        [0.8 + 0.5 + 0.9, 1.0 + 0.1 + 0.1])
    with pytest.raises(ValueError, match='bogus'):
        rescore_poses(kpt_scores, bbox_scores, 'bogus')


def test_matrix_oks_nms_decays_duplicates(estimators, samples):
    estimator = estimators['regression']
    _, image, boxes = samples[0]
    far = boxes[0] + np.array([3000, 0, 3000, 0], dtype=np.float32)
    boxes = np.stack([boxes[0], boxes[0], far])
    bbox_scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    plain = estimator.predict(image, boxes, bbox_scores, nms=None)
    np.testing.assert_array_equal(plain['keypoints'][0], plain['keypoints'][1])
    s0, s1, s2 = plain['scores']
    assert s0 > s1 > s2

    pred = estimator.predict(image, boxes, bbox_scores)
    # the duplicate (OKS 1 with the best pose) decays by exp(-sigma * 1)
    # and falls below the far pose, which nothing overlaps
    np.testing.assert_array_equal(pred['keep'], [0, 2, 1])
    np.testing.assert_allclose(pred['scores'], [s0, s2, s1 * np.exp(-2.)],
                               rtol=1e-6)
    np.testing.assert_array_equal(pred['bboxes'], boxes[[0, 2, 1]])
    np.testing.assert_array_equal(pred['keypoints'],
                                  plain['keypoints'][[0, 2, 1]])

    thr = (s1 * np.exp(-2.) + min(s2, s1)) / 2
    pred = estimator.predict(image,
                             boxes,
                             bbox_scores,
                             nms=dict(kernel='gaussian',
                                      sigma=2.0,
                                      score_thr=thr))
    np.testing.assert_array_equal(pred['keep'], [0, 2])


def test_pipeline_runs_without_torch(estimators, exports, samples, tmp_path):
    path, image, boxes = samples[1]
    expected = estimators['heatmap'].predict(image, boxes, nms=None)
    out = str(tmp_path / 'keypoints.npy')
    script = f'''
import importlib.util, sys
import numpy as np
sys.modules['torch'] = None  # any import of torch now fails
spec = importlib.util.spec_from_file_location(
    'ort_pipeline', {osp.join(ROOT, 'mmpose_light', 'deploy',
                              'ort_inference.py')!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
estimator = module.OrtTopdownEstimator({exports['heatmap']['path']!r}, 1)
image = module.read_image({path!r})
boxes = np.array({boxes.tolist()!r}, dtype=np.float32)
np.save({out!r}, estimator.predict(image, boxes, nms=None)['keypoints'])
'''
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    np.testing.assert_array_equal(np.load(out), expected['keypoints'])


def test_tool_with_boxes_and_detections(estimators, exports, samples,
                                        tmp_path, load_tool):
    tool = load_tool('ort_inference')
    onnx_file = exports['regression']['path']
    path, image, boxes = samples[2]
    out = str(tmp_path / 'boxes.json')
    tool.main([onnx_file, path, '--bboxes'] +
              [','.join(map(str, b))
               for b in boxes.tolist()] + ['--out', out, '--no-nms'])
    with open(out) as f:
        result = json.load(f)
    expected = estimators['regression'].predict(image,
                                                boxes.astype(np.float64),
                                                nms=None)
    np.testing.assert_allclose(
        [inst['keypoints'] for inst in result['instances']],
        expected['keypoints'])
    assert len(result['keypoint_names']) == 17

    path, image, _ = samples[0]
    with open(DET_FILE) as f:
        dets = [d for d in json.load(f) if d['image_id'] == 785]
    out = str(tmp_path / 'dets.json')
    tool.main([onnx_file, path, '--det-file', DET_FILE, '--out', out])
    with open(out) as f:
        result = json.load(f)
    assert result['image_id'] == 785
    instances = result['instances']
    assert sorted(inst['input_index']
                  for inst in instances) == list(range(len(dets)))
    scores = [inst['score'] for inst in instances]
    assert scores == sorted(scores, reverse=True)
    first = dets[instances[0]['input_index']]
    x, y, w, h = first['bbox']
    np.testing.assert_allclose(instances[0]['bbox'], [x, y, x + w, y + h])
    assert instances[0]['bbox_score'] == pytest.approx(first['score'])


def test_tool_bad_input_writes_nothing(exports, samples, tmp_path, load_tool):
    tool = load_tool('ort_inference')
    onnx_file = exports['regression']['path']
    path = samples[0][0]
    out = str(tmp_path / 'out.json')
    not_image = tmp_path / 'broken.jpg'
    not_image.write_text('not an image')
    with pytest.raises(ValueError, match='broken.jpg'):
        tool.main(
            [onnx_file,
             str(not_image), '--bboxes', '0,0,10,10', '--out', out])
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        tool.main([
            onnx_file,
            str(tmp_path / 'missing.jpg'), '--bboxes', '0,0,10,10', '--out',
            out
        ])
    with pytest.raises(ValueError, match="'1,2,3'"):
        tool.main([onnx_file, path, '--bboxes', '1,2,3', '--out', out])
    with pytest.raises(ValueError, match='image id 1 '):
        tool.main([
            onnx_file, path, '--det-file', DET_FILE, '--image-id', '1',
            '--out', out
        ])
    with pytest.raises(ValueError, match=r'x2 > x1'):
        tool.main([onnx_file, path, '--bboxes', '10,0,5,10', '--out', out])
    assert os.listdir(tmp_path) == ['broken.jpg']


def test_predict_rejects_bad_input(estimators, samples):
    estimator = estimators['heatmap']
    _, image, boxes = samples[0]
    with pytest.raises(ValueError, match='empty'):
        estimator.predict(image, np.zeros((0, 4)))
    with pytest.raises(ValueError, match='empty'):
        estimator.predict(image, [])
    with pytest.raises(ValueError, match=r'\(N, 4\)'):
        estimator.predict(image, boxes[0])
    with pytest.raises(ValueError, match='rows \\[1\\]'):
        estimator.predict(image, [[0, 0, 10, 10], [5, 5, 5, 9]])
    with pytest.raises(ValueError, match='rows \\[0\\]'):
        estimator.predict(image, [[0, 0, np.nan, 10]])
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        estimator.predict(image[..., 0], boxes)
    with pytest.raises(TypeError, match='numpy array'):
        estimator.predict(image.tolist(), boxes)
    with pytest.raises(ValueError, match='bbox_scores'):
        estimator.predict(image, boxes, bbox_scores=np.ones(len(boxes) + 1))
    with pytest.raises(ValueError, match='thr'):
        estimator.predict(image, boxes, nms=dict(thr=0.5))


def test_read_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.png'):
        read_image(str(tmp_path / 'nothing.png'))
    empty = tmp_path / 'empty.png'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.png'):
        read_image(str(empty))


def test_estimator_rejects_foreign_onnx(exports, tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.onnx'):
        OrtTopdownEstimator(str(tmp_path / 'nope.onnx'))
    model = onnx.load(exports['heatmap']['path'])
    meta = json.loads(model.metadata_props[0].value)

    del model.metadata_props[:]
    bare = str(tmp_path / 'bare.onnx')
    onnx.save(model, bare)
    with pytest.raises(ValueError, match=META_KEY):
        OrtTopdownEstimator(bare)

    entry = model.metadata_props.add()
    entry.key = META_KEY
    entry.value = json.dumps(dict(meta, input_size=[96, 128]))
    resized = str(tmp_path / 'resized.onnx')
    onnx.save(model, resized)
    with pytest.raises(ValueError, match='128, 96'):
        OrtTopdownEstimator(resized)

    model.metadata_props[0].value = json.dumps(dict(meta, version=99))
    future = str(tmp_path / 'future.onnx')
    onnx.save(model, future)
    with pytest.raises(ValueError, match='version 99'):
        OrtTopdownEstimator(future)

    model.metadata_props[0].value = json.dumps(
        dict(meta, codec=dict(type='SimCCLabel')))
    simcc = str(tmp_path / 'simcc.onnx')
    onnx.save(model, simcc)
    with pytest.raises(ValueError, match='SimCCLabel'):
        OrtTopdownEstimator(simcc)

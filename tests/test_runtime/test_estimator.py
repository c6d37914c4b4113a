"""TopdownEstimator on the tiny model: batching, empty input, flip test,
bad input."""
import json
import subprocess
import sys

import numpy as np
import pytest

from mmpose_light_runtime import PoseResult, TopdownEstimator
from mmpose_light_runtime.codecs import decode_msra_heatmaps
from tiny_models import (FLIP_INDICES, IMAGE_ID, ROOT, gt_boxes, pose_graph,
                         pose_meta, save_model)


def test_importing_the_runtime_imports_no_training_stack():
    code = ('import sys, mmpose_light_runtime, mmpose_light_runtime.cli; '
            'print(sorted(m for m in ("torch", "mmcv", "mmengine", "mmpose")'
            ' if m in sys.modules))')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == '[]'


def test_one_batch_for_all_crops(pose_model, sample_image):
    estimator = TopdownEstimator(pose_model, num_threads=1)
    calls = []
    run = estimator.backend.run
    estimator.backend.run = lambda x: calls.append(x.shape) or run(x)
    boxes = gt_boxes()
    result = estimator.predict(sample_image, boxes)
    assert calls == [(len(boxes), 3, 64, 48)]
    assert result.keypoints.shape == (len(boxes), 17, 2)
    assert result.keypoints.dtype == np.float32
    # keypoints lie in their padded boxes
    centers = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * 1.25 / 2
    inside = np.abs(result.keypoints - centers[:, None]) <= \
        np.maximum(half, half[:, ::-1] * 0.75)[:, None] + 1
    assert inside.all()
    # one pose per box, in box order: a box alone gives its row
    alone = estimator.predict(sample_image, boxes[2:3])
    np.testing.assert_allclose(alone.keypoints[0], result.keypoints[2],
                               atol=1e-4)


def test_no_box_is_an_empty_result(pose_model, sample_image):
    result = TopdownEstimator(pose_model).predict(sample_image,
                                                  np.zeros((0, 4)))
    assert isinstance(result, PoseResult) and len(result) == 0
    assert result.keypoints.shape == (0, 17, 2)
    assert result.keypoint_scores.shape == (0, 17)
    assert result.to_coco(1) == []


def test_flip_test_averages_with_the_mirrored_crops(pose_model,
                                                    sample_image):
    plain = TopdownEstimator(pose_model)
    flip = TopdownEstimator(pose_model, flip_test=True)
    boxes = gt_boxes()[:3]
    inputs, centers, scales = plain.preprocess(sample_image, boxes)
    heatmaps = plain.backend.run(inputs)[0]
    mirrored = plain.backend.run(
        np.ascontiguousarray(inputs[..., ::-1]))[0][:, FLIP_INDICES, :, ::-1]
    expected, _ = decode_msra_heatmaps((heatmaps + mirrored) / 2,
                                       plain.meta['codec'])
    expected = (expected / np.array(plain.input_size) * scales[:, None] +
                centers[:, None] - 0.5 * scales[:, None])
    result = flip.predict(sample_image, boxes)
    np.testing.assert_allclose(result.keypoints, expected, atol=1e-4)
    assert not np.allclose(result.keypoints,
                           plain.predict(sample_image, boxes).keypoints)


@pytest.mark.parametrize('boxes, message', [
    (np.ones((2, 3)), r'shape \(N, 4\)'),
    ([[0, 0, np.nan, 10]], 'finite'),
    ([[10, 10, 5, 20]], 'x2 > x1'),
])
def test_bad_boxes_are_named(pose_model, sample_image, boxes, message):
    with pytest.raises(ValueError, match=message):
        TopdownEstimator(pose_model).predict(sample_image, boxes)


def test_bad_images_and_scores(pose_model, sample_image):
    estimator = TopdownEstimator(pose_model)
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        estimator.predict(sample_image[..., 0], gt_boxes())
    with pytest.raises(ValueError, match='bbox_scores'):
        estimator.predict(sample_image, gt_boxes(), [1.0])


def test_model_files_without_our_metadata_are_refused(tmp_path):
    bare = save_model(pose_graph(), str(tmp_path / 'bare.onnx'))
    with pytest.raises(ValueError, match="no 'mmpose_light' metadata"):
        TopdownEstimator(bare)
    old = save_model(pose_graph(), str(tmp_path / 'old.onnx'),
                     pose_meta(version=1))
    with pytest.raises(ValueError, match='version 1'):
        TopdownEstimator(old)
    wrong_size = save_model(pose_graph(input_size=(64, 64)),
                            str(tmp_path / 'size.onnx'), pose_meta())
    with pytest.raises(ValueError, match='expects'):
        TopdownEstimator(wrong_size)
    codec = dict(pose_meta()['codec'], type='IntegralRegressionLabel')
    odd = save_model(pose_graph(), str(tmp_path / 'codec.onnx'),
                     pose_meta(codec=codec))
    with pytest.raises(ValueError, match='IntegralRegressionLabel'):
        TopdownEstimator(odd)
    broken = tmp_path / 'broken.onnx'
    broken.write_bytes(b'not onnx')
    with pytest.raises(ValueError, match='broken.onnx'):
        TopdownEstimator(str(broken))
    with pytest.raises(FileNotFoundError, match='absent.onnx'):
        TopdownEstimator(str(tmp_path / 'absent.onnx'))


def test_coco_results_format(pose_model, sample_image):
    result = TopdownEstimator(pose_model).predict(sample_image,
                                                  gt_boxes()[:2], [0.9, 0.5])
    entries = result.to_coco(IMAGE_ID)
    assert [e['image_id'] for e in entries] == [IMAGE_ID] * 2
    assert all(e['category_id'] == 1 for e in entries)
    assert len(entries[0]['keypoints']) == 17 * 3
    np.testing.assert_allclose(
        np.array(entries[1]['keypoints']).reshape(17, 3)[:, :2],
        result.keypoints[1], atol=1e-3)
    x1, y1, x2, y2 = gt_boxes()[1]
    np.testing.assert_allclose(entries[1]['bbox'], [x1, y1, x2 - x1, y2 - y1])
    json.dumps(entries)  # plain JSON types

"""ONNX person detectors: files of tools/export_detector.py (boxes and
person scores of every prior, post-processed here) and MMDeploy's
end-to-end files (``dets`` and ``labels``), and files that are neither."""
import numpy as np
import pytest

from mmpose_light_runtime import OnnxDetector, TopdownEstimator
from mmpose_light_runtime.detectors import box_nms
from tiny_models import (DETECTOR_SIZE as SIZE, detector_graph, detector_meta,
                         save_detector, save_model)

# boxes in the 64x64 input's pixels: 0 and 1 overlap by IoU 0.6, 2 lies
# apart, 3 is scored low, 4 is 0.5 px tall
BOXES = [[4, 4, 24, 44], [9, 4, 29, 44], [40, 10, 60, 30], [30, 30, 50, 50],
         [10, 20, 30, 20.5]]
SCORES = [0.9, 0.8, 0.7, 0.1, 0.95]


def test_box_nms_follows_mmcv():
    boxes = np.array(BOXES[:3], float)
    scores = np.array(SCORES[:3])
    # 0 and 1: intersection 15 * 40, union 2 * 20 * 40 - 15 * 40
    assert box_nms(boxes, scores, 0.5).tolist() == [0, 2]
    assert box_nms(boxes, scores, 0.7).tolist() == [0, 1, 2]
    # an IoU equal to the threshold does not suppress (MMCV: iou > thr)
    iou = 15 * 40 / (2 * 20 * 40 - 15 * 40)
    assert box_nms(boxes, scores, iou).tolist() == [0, 1, 2]
    assert box_nms(boxes, scores, 0.7, max_num=2).tolist() == [0, 1]
    # the best-scored box comes first whatever the input order
    assert box_nms(boxes[::-1], scores[::-1], 0.5).tolist() == [2, 0]
    # two empty boxes: NaN IoU suppresses nothing
    empty = np.zeros((2, 4))
    assert box_nms(empty, np.array([0.5, 0.4]), 0.5).tolist() == [0, 1]
    assert box_nms(np.zeros((0, 4)), np.zeros(0), 0.5).shape == (0, )


def test_exported_detector_post_processing(tmp_path):
    # a black frame twice as wide as tall: scale 64 / 128 = 0.5 per axis,
    # the frame fills the top half of the input
    frame = np.zeros((64, 128, 3), np.uint8)
    model = save_detector(tmp_path / 'det.onnx', BOXES, SCORES,
                          detector_meta(iou_thr=0.5, min_bbox_size=1))
    detector = OnnxDetector(model)
    assert detector.format == 'mmpose_light'
    assert detector.input_size == SIZE and detector.score_thr == 0.3
    boxes, scores = detector(frame)
    # 1 is suppressed by 0, 3 is below the threshold, 4 is 1 px tall in
    # the frame (min_bbox_size 1 keeps only boxes larger than that); box 0
    # reaches below the frame and is clipped
    np.testing.assert_allclose(
        boxes, [[8, 8, 48, 64], [80, 20, 120, 60]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9, 0.7], atol=1e-6)

    # NMS settings from the file: a looser threshold keeps box 1, a cap of
    # one keeps the best box only, nms_pre one keeps the best candidate
    loose = save_detector(tmp_path / 'loose.onnx', BOXES, SCORES,
                          detector_meta(iou_thr=0.7, min_bbox_size=None))
    assert len(OnnxDetector(loose)(frame)[0]) == 4
    capped = save_detector(tmp_path / 'capped.onnx', BOXES, SCORES,
                           detector_meta(max_per_img=1))
    assert OnnxDetector(capped)(frame)[1].tolist() == pytest.approx([0.95])
    pre = save_detector(tmp_path / 'pre.onnx', BOXES, SCORES,
                        detector_meta(nms_pre=2, min_bbox_size=1))
    # the two best candidates are 4 and 0; 4 is then too small
    assert OnnxDetector(pre)(frame)[1].tolist() == pytest.approx([0.9])
    # the caller's threshold wins over the file's: box 3 comes in
    boxes, _ = OnnxDetector(model, score_thr=0.05)(frame)
    np.testing.assert_allclose(boxes[:, 0], [8, 80, 60], atol=1e-4)


def test_exported_detector_preprocessing(tmp_path):
    meta = detector_meta()
    meta['preprocess'] = dict(mean=[10., 20., 30.], std=[2., 2., 2.],
                              to_rgb=True, pad_value=50.)
    model = save_detector(tmp_path / 'det.onnx', BOXES, SCORES, meta)
    detector = OnnxDetector(model)
    frame = np.zeros((32, 64, 3), np.uint8)
    frame[..., 0] = 100  # blue
    inputs, scale = detector.preprocess(frame)
    np.testing.assert_array_equal(scale, [1, 1])
    # RGB order: the blue channel comes last; the bottom half is padding
    np.testing.assert_allclose(inputs[0, :, 0, 0], [-5, -10, 35])
    np.testing.assert_allclose(inputs[0, :, 40, 0], [20, 15, 10])
    # explicit arguments win over the file's settings
    plain = OnnxDetector(model, mean=None, std=None, to_rgb=False,
                         pad_value=0.)
    inputs, _ = plain.preprocess(frame)
    np.testing.assert_allclose(inputs[0, :, 0, 0], [100, 0, 0])
    np.testing.assert_allclose(inputs[0, :, 40, 0], [0, 0, 0])


def test_resize_follows_mmcv_imrescale(tmp_path):
    model = save_detector(tmp_path / 'det.onnx', BOXES, SCORES,
                          detector_meta())
    detector = OnnxDetector(model)
    # 64 / 123 * 45 = 23.41: 23 rows, so y is scaled by 23 / 45, not by
    # the ratio 64 / 123
    inputs, scale = detector.preprocess(np.full((45, 123, 3), 255, np.uint8))
    np.testing.assert_allclose(scale, [64 / 123, 23 / 45])
    assert (inputs[0, 0, 22] == 255).all() and (inputs[0, 0, 23] == 0).all()


def test_mmdeploy_end_to_end_file(tmp_path):
    # dets in the input's pixels: a frame of 128x96 is scaled by 0.5
    dets = np.array([[10, 10, 30, 40, 0.9], [0, 0, 20, 20, 0.8],
                     [5, 5, 25, 25, 0.2], [40, 8, 62, 30, 0.6]])
    labels = np.array([0, 2, 0, 0])
    model = save_model(detector_graph(dets, labels, SIZE),
                       str(tmp_path / 'end2end.onnx'))
    detector = OnnxDetector(model)
    assert detector.format == 'mmdeploy' and detector.input_size == SIZE
    np.testing.assert_allclose(detector.mean, [103.53, 116.28, 123.675])
    boxes, scores = detector(np.zeros((96, 128, 3), np.uint8))
    # the non-person (label 2) and the box below 0.3 are dropped
    np.testing.assert_allclose(boxes, [[20, 20, 60, 80], [80, 16, 124, 60]])
    np.testing.assert_allclose(scores, [0.9, 0.6], atol=1e-6)
    assert len(OnnxDetector(model, score_thr=0.1)(
        np.zeros((96, 128, 3), np.uint8))[0]) == 3


def test_files_that_are_no_detector_are_named(tmp_path, pose_model):
    # neither our metadata nor MMDeploy's outputs
    other = save_detector(tmp_path / 'other.onnx', BOXES, SCORES, None)
    with pytest.raises(ValueError, match='mmpose_light_detector.*'
                       "MMDeploy's end-to-end 'dets'"):
        OnnxDetector(other)
    with pytest.raises(ValueError, match='is a pose model'):
        OnnxDetector(pose_model)
    # a detector given as the pose model
    detector = save_detector(tmp_path / 'det.onnx', BOXES, SCORES,
                             detector_meta())
    with pytest.raises(ValueError, match='is a person detector'):
        TopdownEstimator(detector)
    # metadata of another version, or without its settings
    newer = save_detector(tmp_path / 'newer.onnx', BOXES, SCORES,
                          dict(detector_meta(), version=99))
    with pytest.raises(ValueError, match='version 99'):
        OnnxDetector(newer)
    meta = detector_meta()
    del meta['postprocess']['iou_thr']
    partial = save_detector(tmp_path / 'partial.onnx', BOXES, SCORES, meta)
    with pytest.raises(ValueError, match=r"lacks \['postprocess.iou_thr'\]"):
        OnnxDetector(partial)
    meta = dict(detector_meta(), output_names=['boxes', 'person_scores'])
    renamed = save_detector(tmp_path / 'renamed.onnx', BOXES, SCORES, meta)
    with pytest.raises(ValueError, match="lacks the outputs"):
        OnnxDetector(renamed)

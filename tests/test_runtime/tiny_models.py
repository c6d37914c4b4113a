"""Tiny ONNX models and sample data for the runtime tests.

The pose and detection models are graphs built with ``onnx.helper``, with
the runtime's metadata: a seeded random stride-4 convolution whose heatmap
maxima depend on the crop's content, and a detector in MMDeploy's output
format that returns fixed boxes.
"""
import json
import os.path as osp

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
IMAGE = osp.join(SAMPLE, '000000196141.jpg')
IMAGE_ID = 196141

COCO_SIGMAS = [
    .026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107,
    .107, .087, .087, .089, .089
]
FLIP_INDICES = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
SKELETON = [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11],
            [6, 12], [5, 6], [5, 7], [6, 8], [7, 9], [8, 10]]

# the tiny pose model: 64x48 crops, 16x12 heatmaps
INPUT_SIZE = (48, 64)
HEATMAP_SIZE = (12, 16)


def pose_meta(**overrides) -> dict:
    """Runtime metadata of the tiny heatmap model."""
    meta = dict(
        version=2,
        input_name='input',
        output_names=['heatmaps'],
        input_size=list(INPUT_SIZE),
        codec=dict(
            type='MSRAHeatmap',
            input_size=list(INPUT_SIZE),
            heatmap_size=list(HEATMAP_SIZE),
            sigma=2,
            unbiased=False,
            blur_kernel_size=11),
        sigmoid_sigma=False,
        output_keypoint_indices=None,
        test_cfg=dict(flip_mode='heatmap', shift_heatmap=False),
        preprocess=dict(
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            swap_channels=True,
            bbox_padding=1.25,
            use_udp=False),
        rescore=dict(score_mode='bbox_keypoint', keypoint_score_thr=0.2),
        dataset_meta=dict(
            dataset_name='coco',
            num_keypoints=17,
            sigmas=COCO_SIGMAS,
            flip_indices=FLIP_INDICES,
            skeleton_links=SKELETON,
            skeleton_link_colors=[[0, 255, 0]] * len(SKELETON),
            keypoint_colors=[[255, 128, 0]] * 17),
        extra=None)
    meta.update(overrides)
    return meta


def save_model(graph, path: str, meta=None) -> str:
    from onnx import helper, save
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    if meta is not None:
        entry = model.metadata_props.add()
        entry.key = 'mmpose_light'
        entry.value = json.dumps(meta)
    save(model, path)
    return path


def pose_graph(seed: int = 0, input_size=INPUT_SIZE):
    """(N, 3, h, w) -> heatmaps (N, 17, h / 4, w / 4): a stride-4 conv."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(seed)
    weight = rng.normal(0, 0.1, (17, 3, 4, 4)).astype(np.float32)
    width, height = input_size
    return helper.make_graph(
        [helper.make_node('Conv', ['input', 'w'], ['heatmaps'],
                          strides=[4, 4])],
        'tiny_pose',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       ['batch', 3, height, width])],
        [helper.make_tensor_value_info(
            'heatmaps', TensorProto.FLOAT,
            ['batch', 17, height // 4, width // 4])],
        [numpy_helper.from_array(weight, 'w')])


def detector_graph(dets: np.ndarray, labels: np.ndarray, size,
                   output_names=('dets', 'labels')):
    """A detector in MMDeploy's format returning fixed ``dets``/``labels``
    (the input only takes part through a zero-weighted term)."""
    from onnx import TensorProto, helper, numpy_helper
    width, height = size
    dets = dets.astype(np.float32)[None]
    nodes = [
        helper.make_node('ReduceMean', ['input'], ['mean'], keepdims=0),
        helper.make_node('Mul', ['mean', 'zero'], ['nothing']),
        helper.make_node('Add', ['boxes', 'nothing'], [output_names[0]]),
        helper.make_node('Identity', ['classes'], [output_names[1]]),
    ]
    inits = [
        numpy_helper.from_array(np.float32(0), 'zero'),
        numpy_helper.from_array(dets, 'boxes'),
        numpy_helper.from_array(labels.astype(np.int64)[None], 'classes'),
    ]
    return helper.make_graph(
        nodes, 'tiny_detector',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [1, 3, height, width])],
        [helper.make_tensor_value_info(output_names[0], TensorProto.FLOAT,
                                       [1, len(dets[0]), 5]),
         helper.make_tensor_value_info(output_names[1], TensorProto.INT64,
                                       [1, len(dets[0])])], inits)


def gt_boxes(image_id: int = IMAGE_ID) -> np.ndarray:
    """Ground-truth person boxes (x1, y1, x2, y2) of a sample image."""
    with open(osp.join(SAMPLE, 'test_coco.json')) as f:
        coco = json.load(f)
    xywh = np.array([
        ann['bbox'] for ann in coco['annotations']
        if ann['image_id'] == image_id
    ], dtype=np.float64)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def write_moving_video(image: np.ndarray, folder, shift, num_frames: int,
                       fps: float, rng=None):
    """A video of ``image`` moving by ``shift`` (x, y) pixels per frame,
    and a COCO detection file of its ground-truth boxes moved alike; with
    ``rng``, the boxes come in another order every frame.

    Returns:
        tuple[str, str]: The video's and the detection file's paths.
    """
    import cv2
    path = str(folder / 'moving.avi')
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (width, height))
    dets = []
    for t in range(num_frames):
        matrix = np.float32([[1, 0, shift[0] * t], [0, 1, shift[1] * t]])
        writer.write(cv2.warpAffine(image, matrix, (width, height)))
        boxes = gt_boxes() + np.tile(np.asarray(shift) * t, 2)
        if rng is not None:
            boxes = rng.permutation(boxes)
        for x1, y1, x2, y2 in boxes:
            dets.append(dict(image_id=t, category_id=1, score=0.9,
                             bbox=[x1, y1, x2 - x1, y2 - y1]))
    writer.release()
    det_file = folder / 'moving_dets.json'
    det_file.write_text(json.dumps(dets))
    return path, str(det_file)


DETECTOR_SIZE = (64, 64)  # (w, h) of the tiny detectors' input


def detector_meta(**postprocess) -> dict:
    cfg = dict(score_thr=0.3, nms_pre=1000, iou_thr=0.5, max_per_img=100,
               min_bbox_size=0)
    cfg.update(postprocess)
    return dict(
        version=1,
        input_name='input',
        output_names=['boxes', 'scores'],
        input_size=list(DETECTOR_SIZE),
        preprocess=dict(mean=None, std=None, to_rgb=False, pad_value=0.),
        postprocess=cfg)


def exported_graph(boxes: np.ndarray, scores: np.ndarray):
    """Fixed ``boxes`` (1, P, 4) and ``scores`` (1, P), plus the input's
    mean brightness on every score, so that preprocessing shows."""
    from onnx import TensorProto, helper, numpy_helper
    width, height = DETECTOR_SIZE
    nodes = [
        helper.make_node('ReduceMean', ['input'], ['mean'], keepdims=0),
        helper.make_node('Add', ['fixed_scores', 'mean'], ['scores']),
        helper.make_node('Identity', ['fixed_boxes'], ['boxes']),
    ]
    inits = [
        numpy_helper.from_array(boxes.astype(np.float32)[None],
                                'fixed_boxes'),
        numpy_helper.from_array(scores.astype(np.float32)[None],
                                'fixed_scores'),
    ]
    return helper.make_graph(
        nodes, 'tiny_exported_detector',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [1, 3, height, width])],
        [helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                       [1, len(boxes), 4]),
         helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                       [1, len(boxes)])], inits)


def save_detector(path, boxes, scores, meta):
    from onnx import helper, save

    from mmpose_light_runtime.meta import DETECTOR_META_KEY
    model = helper.make_model(
        exported_graph(np.asarray(boxes, float), np.asarray(scores, float)),
        opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    if meta is not None:
        entry = model.metadata_props.add()
        entry.key = DETECTOR_META_KEY
        entry.value = json.dumps(meta)
    save(model, str(path))
    return str(path)

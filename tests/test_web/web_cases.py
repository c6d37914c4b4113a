"""Models, inputs and checks shared by the browser tests and their
fixtures."""
import json
import os
import os.path as osp

import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
IMAGE_ID = 196141
IMAGE = osp.join(SAMPLE, '000000196141.jpg')
#: Where the browser tests keep their screenshots.
ARTIFACTS = os.environ.get('MMPOSE_LIGHT_ARTIFACTS',
                           osp.join(ROOT, 'web', 'test-results'))
#: The models the page is compared on: one per codec the page decodes.
POSE_MODELS = {
    'heatmap': 'MobilePoseNet-256x192-deploy',
    'simcc': 'RTMPose-t',
    'rle': 'RepNet-A-deploy',
}
DETECTOR_SIZE = (64, 64)


def require_web() -> None:
    """Skip (or fail, with MMPOSE_LIGHT_REQUIRE_WEB=1) without the tools."""
    from benchlib.web import missing_tools
    missing = missing_tools()
    if not missing:
        return
    message = ('the browser tests need ' + ', '.join(missing) +
               ' (tools/setup_web_env.sh installs them)')
    if os.environ.get('MMPOSE_LIGHT_REQUIRE_WEB') == '1':
        pytest.fail(message)
    pytest.skip(message)


def gt_boxes() -> np.ndarray:
    """The sample image's annotated people (x1, y1, x2, y2)."""
    with open(osp.join(SAMPLE, 'test_coco.json')) as f:
        coco = json.load(f)
    xywh = np.array([a['bbox'] for a in coco['annotations']
                     if a['image_id'] == IMAGE_ID], np.float64)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)


def detector_meta(score_thr: float = 0.3) -> dict:
    return dict(
        version=1, input_name='input', output_names=['boxes', 'scores'],
        input_size=list(DETECTOR_SIZE),
        preprocess=dict(mean=[103.53, 116.28, 123.675],
                        std=[57.375, 57.12, 58.395], to_rgb=False,
                        pad_value=114.),
        postprocess=dict(score_thr=score_thr, nms_pre=1000, iou_thr=0.65,
                         max_per_img=100, min_bbox_size=0))


def save_onnx(path: str, nodes, inputs, outputs, inits=(),
              metadata=None) -> str:
    from onnx import helper, save
    model = helper.make_model(
        helper.make_graph(nodes, osp.basename(path), inputs, outputs,
                          list(inits)),
        opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    save(model, path)
    return path


def fixed_detector(path: str, image_shape) -> str:
    """A detector file in ``tools/export_detector.py``'s format whose
    network returns the sample's people (each twice, the copy shifted, for
    NMS) in its input's pixels, with scores that follow the input's mean
    (so its letterbox and normalisation show)."""
    from onnx import TensorProto, helper, numpy_helper
    from mmpose_light_runtime.meta import DETECTOR_META_KEY
    height, width = image_shape[:2]
    ratio = min(DETECTOR_SIZE[0] / width, DETECTOR_SIZE[1] / height)
    boxes = gt_boxes()
    boxes = np.concatenate([boxes, boxes + [3, -2, 3, -2]]) * ratio
    scores = np.concatenate([np.linspace(0.9, 0.6, len(gt_boxes())),
                             np.full(len(gt_boxes()), 0.5)])
    nodes = [
        helper.make_node('ReduceMean', ['input'], ['mean'], keepdims=0),
        helper.make_node('Mul', ['mean', 'small'], ['shift']),
        helper.make_node('Add', ['fixed_scores', 'shift'], ['scores']),
        helper.make_node('Identity', ['fixed_boxes'], ['boxes']),
    ]
    inits = [numpy_helper.from_array(boxes.astype(np.float32)[None],
                                     'fixed_boxes'),
             numpy_helper.from_array(scores.astype(np.float32)[None],
                                     'fixed_scores'),
             numpy_helper.from_array(np.float32(0.01), 'small')]
    return save_onnx(
        path, nodes,
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [1, 3, DETECTOR_SIZE[1],
                                        DETECTOR_SIZE[0]])],
        [helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                       [1, len(boxes), 4]),
         helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                       [1, len(boxes)])],
        inits, {DETECTOR_META_KEY: detector_meta()})

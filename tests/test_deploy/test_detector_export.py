"""Person detectors exported without MMDeploy: RTMDet and YOLOX from
MMDetection's stock configs and an MMPose person detector config, random
weights with BatchNorm statistics from the sample images; the runtime's
boxes after NMS against MMDetection's own inference; bad inputs."""
import glob
import json
import os.path as osp

import cv2
import numpy as np
import onnx
import pytest
import torch
from mmengine.config import ConfigDict
from torch import nn

import mmpose_light  # noqa: F401  (compat fixes)
from mmpose_light.deploy import (check_detector, export_detector,
                                 init_person_detector)
from mmpose_light_runtime import OnnxDetector, read_image
from mmpose_light_runtime.meta import DETECTOR_META_KEY

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
IMAGES = sorted(glob.glob(osp.join(ROOT, 'data', 'sample', 'coco',
                                   '*.jpg')))
SIZE = 320


def _package_dir(name: str) -> str:
    module = __import__(name)
    return osp.join(osp.dirname(module.__file__), '.mim')


MMDET = osp.join(_package_dir('mmdet'), 'configs')
MMPOSE_DET = osp.join(_package_dir('mmpose'), 'demo', 'mmdetection_cfg')
CONFIGS = dict(
    rtmdet_tiny=osp.join(MMDET, 'rtmdet', 'rtmdet_tiny_8xb32-300e_coco.py'),
    yolox_tiny=osp.join(MMDET, 'yolox', 'yolox_tiny_8xb8-300e_coco.py'),
    rtmdet_nano_person=osp.join(MMPOSE_DET,
                                'rtmdet_nano_320-8xb32_coco-person.py'))
# random weights score every prior alike; these thresholds keep tens to a
# few hundred person boxes per image (YOLOX: only where person is the best
# of 80 classes, about one prior in 80)
SCORE_THR = dict(rtmdet_tiny=0.55, yolox_tiny=0.1, rtmdet_nano_person=0.55)


def moving_video(folder) -> str:
    """Four frames of a sample image moving 3 px right and 2 px down a
    frame."""
    image = read_image(IMAGES[0])
    video = str(folder / 'moving.avi')
    height, width = image.shape[:2]
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             (width, height))
    for t in range(4):
        shift = np.float32([[1, 0, 3 * t], [0, 1, 2 * t]])
        writer.write(cv2.warpAffine(image, shift, (width, height)))
    writer.release()
    return video


def calibrate_on_samples(model: nn.Module) -> nn.Module:
    """BatchNorm statistics from one forward pass of the sample images,
    resized to the input size and normalised as the model does."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    images = [
        torch.from_numpy(cv2.resize(read_image(p), (SIZE, SIZE))).permute(
            2, 0, 1) for p in IMAGES
    ]
    inputs = model.data_preprocessor(dict(inputs=images), False)['inputs']
    model.train()
    with torch.no_grad():
        model._forward(inputs)
    return model.eval()


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Per config: a checkpoint of random weights and sample-image
    BatchNorm statistics, with the class names MMDetection saves."""
    folder = tmp_path_factory.mktemp('detectors')
    saved = {}
    for name, config in CONFIGS.items():
        torch.manual_seed(0)
        model = calibrate_on_samples(init_person_detector(config))
        path = str(folder / f'{name}.pth')
        classes = model.cfg.test_dataloader.dataset.get('metainfo', {}).get(
            'classes') or model.dataset_meta['classes']
        torch.save(
            dict(state_dict=model.state_dict(),
                 meta=dict(dataset_meta=dict(classes=list(classes)))), path)
        saved[name] = path
    return saved


@pytest.fixture(scope='module')
def exported(checkpoints, tmp_path_factory):
    folder = tmp_path_factory.mktemp('onnx')
    results = {}
    for name, config in CONFIGS.items():
        model = init_person_detector(config, checkpoints[name])
        path = str(folder / f'{name}.onnx')
        result = export_detector(model, path, images=IMAGES[:2],
                                 input_size=(SIZE, SIZE),
                                 score_thr=SCORE_THR[name])
        results[name] = dict(path=path, result=result, model=model)
    return results


@pytest.mark.parametrize('name', list(CONFIGS))
def test_boxes_match_mmdet(exported, name):
    result = exported[name]['result']
    check = result['check']
    # the check compared real boxes, and found them equal
    assert check['boxes'] >= 10
    assert check['box_rel_err'] <= 1e-3 and check['score_rel_err'] <= 1e-3
    meta = result['meta']
    assert meta['input_size'] == [SIZE, SIZE]
    assert meta['model']['person_label'] == 0
    assert meta['postprocess']['score_thr'] == SCORE_THR[name]
    # the file carries the metadata the runtime reads
    model = onnx.load(exported[name]['path'])
    stored = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert stored[DETECTOR_META_KEY] == meta
    assert [o.name for o in model.graph.output] == ['boxes', 'scores']


def test_metadata_follows_each_config(exported):
    rtmdet = exported['rtmdet_tiny']['result']['meta']
    yolox = exported['yolox_tiny']['result']['meta']
    person = exported['rtmdet_nano_person']['result']['meta']
    assert rtmdet['model']['num_classes'] == 80
    assert person['model']['num_classes'] == 1
    # RTMDet normalises BGR with ImageNet statistics; YOLOX feeds raw BGR
    assert rtmdet['preprocess']['mean'] == pytest.approx(
        [103.53, 116.28, 123.675])
    assert not rtmdet['preprocess']['to_rgb']
    assert yolox['preprocess']['mean'] is None
    assert rtmdet['preprocess']['pad_value'] == 114
    assert rtmdet['postprocess'] == dict(
        score_thr=SCORE_THR['rtmdet_tiny'], nms_pre=30000, iou_thr=0.65,
        max_per_img=300, min_bbox_size=0)
    assert person['postprocess']['iou_thr'] == 0.6
    assert person['postprocess']['max_per_img'] == 100
    # YOLOX: no pre-NMS top-k, no cap, no size filter
    assert yolox['postprocess'] == dict(
        score_thr=SCORE_THR['yolox_tiny'], nms_pre=None, iou_thr=0.65,
        max_per_img=None, min_bbox_size=None)


def test_80_class_detector_keeps_persons_only(exported):
    """MMDetection finds boxes of other classes above the threshold too;
    the export returns its person boxes only."""
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope

    from mmpose_light.deploy.detector_export import _letterbox
    entry = exported['rtmdet_tiny']
    model = entry['model']
    image = read_image(IMAGES[0])
    ours = OnnxDetector(entry['path'])(image)[0]
    # MMDetection's test pipeline at the export's input size
    pipeline = _letterbox(model.cfg, (SIZE, SIZE))['pipeline']
    pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
    with DefaultScope.overwrite_default_scope('mmdet'):
        data = Compose(pipeline)(dict(img=image, img_id=0))
    saved = model.bbox_head.test_cfg
    model.bbox_head.test_cfg = ConfigDict(
        saved, score_thr=SCORE_THR['rtmdet_tiny'], nms_pre=10**9,
        max_per_img=10**9)
    try:
        with torch.no_grad():
            pred = model.test_step(
                dict(inputs=[data['inputs']],
                     data_samples=[data['data_samples']]))[0].pred_instances
    finally:
        model.bbox_head.test_cfg = saved
    height, width = image.shape[:2]
    boxes = pred.bboxes.numpy().copy()
    boxes[:, 0::2] = boxes[:, 0::2].clip(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clip(0, height)
    inside = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    labels = pred.labels.numpy()[inside]
    assert (labels != 0).sum() > len(ours) > 0
    assert len(ours) == (labels == 0).sum()


def test_the_check_fails_on_another_model(exported, checkpoints):
    """A file checked against a detector with other weights fails: the
    check compares boxes, not just that the export ran."""
    from mmpose_light.deploy.detector_export import _letterbox
    entry = exported['rtmdet_nano_person']
    model = init_person_detector(CONFIGS['rtmdet_nano_person'],
                                 checkpoints['rtmdet_nano_person'])
    with torch.no_grad():
        for conv in model.bbox_head.rtm_reg:
            conv.bias.add_(0.5)
    pipeline = _letterbox(model.cfg, (SIZE, SIZE))['pipeline']
    try:
        result = check_detector(entry['path'], model, IMAGES[:1], pipeline)
    except RuntimeError as error:
        assert 'person box' in str(error)
    else:
        assert result['box_rel_err'] > 1e-3


def test_tool_exports_and_keeps_old_file_on_bad_input(load_tool,
                                                      checkpoints, tmp_path):
    tool = load_tool('export_detector')
    out = tmp_path / 'det.onnx'
    result = tool.main([
        CONFIGS['rtmdet_nano_person'], checkpoints['rtmdet_nano_person'],
        str(out), '--images', IMAGES[0], '--input-size', str(SIZE),
        '--score-thr', str(SCORE_THR['rtmdet_nano_person'])
    ])
    assert result['check']['boxes'] > 0
    assert OnnxDetector(str(out)).format == 'mmpose_light'
    before = out.read_bytes()

    # a pose config is not a detector
    pose_config = osp.join(
        ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap', 'coco',
        'td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py')
    with pytest.raises(ValueError, match='not an MMDetection single-stage '
                       "detector config.*'TopdownPoseEstimator'"):
        tool.main([pose_config, checkpoints['rtmdet_tiny'], str(out)])
    # a detector without a person class (MMPose's hand detector)
    hand = osp.join(MMPOSE_DET, 'rtmdet_nano_320-8xb32_hand.py')
    hand_checkpoint = str(tmp_path / 'hand.pth')
    torch.save(
        dict(state_dict=init_person_detector(hand).state_dict(),
             meta=dict(dataset_meta=dict(classes=['hand']))),
        hand_checkpoint)
    with pytest.raises(ValueError, match=r"no person class.*\['hand'\]"):
        tool.main([hand, hand_checkpoint, str(out), '--images', IMAGES[0]])
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'det.onnx', 'hand.pth']


def test_bad_arguments_are_named(exported, tmp_path):
    model = exported['rtmdet_tiny']['model']
    out = str(tmp_path / 'det.onnx')
    with pytest.raises(ValueError, match='should be square'):
        export_detector(model, out, input_size=(320, 256))
    with pytest.raises(ValueError, match='`score_thr`'):
        export_detector(model, out, score_thr=1.5)
    with pytest.raises(TypeError, match='single-stage detector'):
        export_detector(nn.Conv2d(3, 3, 1), out)
    with pytest.raises(FileNotFoundError, match='nowhere.jpg'):
        export_detector(model, out, images=['nowhere.jpg'])
    assert not osp.exists(out)


def test_exported_detector_drives_the_runtime_on_video(exported, tmp_path):
    """Video in, tracked and smoothed poses out: the exported detector gives
    the boxes of ``mmpose-light-runtime --det-model ... --track --smooth``.
    """
    from mmpose_light_runtime.cli import main
    from test_runtime.tiny_models import pose_graph, pose_meta, save_model
    pose_model = save_model(pose_graph(), str(tmp_path / 'pose.onnx'),
                            pose_meta())
    video = moving_video(tmp_path)
    det_model = exported['rtmdet_nano_person']['path']

    def run(out, *options):
        main([pose_model, video, '--det-model', det_model, '--track',
              *options, '--det-score-thr',
              str(SCORE_THR['rtmdet_nano_person']), '--nms', 'none', '--json',
              str(out), '--no-progress'])
        return json.loads(out.read_text())

    poses = run(tmp_path / 'poses.json', '--smooth')
    raw = run(tmp_path / 'raw.json')
    # the same tracks; a track's first keypoints pass as they are, and the
    # filter moves those of the tracks that go on (on random weights, few
    # do: the detector's 100 boxes change from frame to frame)
    assert [(p['image_id'], p['track_id']) for p in poses] == \
        [(p['image_id'], p['track_id']) for p in raw]
    moved = {
        p['image_id']
        for p, q in zip(poses, raw) if p['keypoints'] != q['keypoints']
    }
    assert moved and 0 not in moved
    frames = sorted({p['image_id'] for p in poses})
    assert frames == [0, 1, 2, 3]
    # one pose per box the detector finds in the first frame, each with
    # its own track id
    capture = cv2.VideoCapture(video)
    ok, frame = capture.read()
    capture.release()
    assert ok
    boxes, _ = OnnxDetector(
        det_model, score_thr=SCORE_THR['rtmdet_nano_person'])(frame)
    first = [p for p in poses if p['image_id'] == 0]
    assert len(first) == len(boxes) > 0
    np.testing.assert_allclose(
        sorted(p['bbox'][0] for p in first), sorted(boxes[:, 0]),
        atol=1e-3)
    assert all('track_id' in p for p in poses)
    assert len({p['track_id'] for p in first}) == len(first)
    # ids carry over: the last frame reuses ids of the first
    later = {p['track_id'] for p in poses if p['image_id'] == 3}
    assert later & {p['track_id'] for p in first}


def test_candidate_check_allows_threshold_flips_only():
    """A candidate on one side only passes where its score lies within the
    tolerance of the threshold; anywhere else it fails, and so does a
    shifted box."""
    from mmpose_light.deploy.detector_export import _match_candidates
    boxes = np.array([[10., 10, 50, 90], [60, 10, 100, 90],
                      [5, 5, 30, 40]])
    scores = np.array([0.9, 0.9, 0.3004])
    ours = (boxes[:2] + 1e-3, scores[:2] - 2e-4)
    result = _match_candidates(ours, (boxes, scores), 0.3, 1e-3)
    assert result['threshold_flips'] == 1
    assert result['box_rel_err'] == pytest.approx(1e-3 / 100)
    assert result['score_rel_err'] == pytest.approx(2e-4 / 0.9)
    with pytest.raises(RuntimeError, match='MMDetection has one scored '
                       '0.9000 that the export lacks'):
        _match_candidates((boxes[1:], scores[1:]), (boxes, scores), 0.3,
                          1e-3)
    shifted = boxes.copy()
    shifted[0] += 5
    assert _match_candidates((shifted, scores), (boxes, scores), 0.3,
                             1e-3)['box_rel_err'] == pytest.approx(0.05)


def test_nms_check_follows_mmdet_on_tied_scores(exported):
    """Two overlapping boxes of exactly equal score: NMS keeps whichever
    it visits first, and MMDetection's sort does not say which. The check
    visits them in MMDetection's order; a box kept against an overlap
    still fails."""
    from mmpose_light.deploy.detector_export import _nms_as_mmdet
    detector = OnnxDetector(exported['rtmdet_tiny']['path'])
    boxes = np.array([[0., 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]])
    scores = np.array([1., 1., 0.5])
    for mmdet_keep in ([0, 2], [1, 2]):
        keep = _nms_as_mmdet(detector, boxes, scores, np.array(mmdet_keep))
        assert sorted(keep.tolist()) == mmdet_keep
    # MMDetection keeping both overlapping boxes is not NMS
    keep = _nms_as_mmdet(detector, boxes, scores, np.array([0, 1, 2]))
    assert sorted(keep.tolist()) != [0, 1, 2]


def test_noise_calibrated_rtmdet_with_tied_scores_passes(tmp_path):
    """mmdet's stock RTMDet-tiny with random weights and BatchNorm
    statistics from one batch of noise, as a new user tries it: thousands
    of its scores saturate to exactly 1.0, so which of two tied boxes NMS
    keeps is arbitrary; comparing the final boxes refused it. The check
    compares candidates before NMS and NMS on identical inputs, and
    passes."""
    torch.manual_seed(1)
    model = init_person_detector(CONFIGS['rtmdet_tiny'])
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None
    model.train()
    with torch.no_grad():
        model._forward(torch.randn(
            2, 3, 640, 640, generator=torch.Generator().manual_seed(1)))
    model.eval()
    result = export_detector(model, str(tmp_path / 'det.onnx'),
                             images=IMAGES)
    check = result['check']
    assert check['boxes'] > 100 and check['candidates'] > check['boxes']
    assert check['box_rel_err'] <= 1e-3 and check['score_rel_err'] <= 1e-3


@pytest.mark.parametrize('name', ['rtmdet_tiny', 'yolox_tiny'])
def test_detectors_convert_to_ncnn(exported, name, tmp_path):
    """RTMDet and YOLOX exports convert to ncnn, checked against ONNX
    Runtime on every prior, and the runtime's detector on ncnn keeps the
    boxes it keeps on ONNX Runtime."""
    pytest.importorskip('ncnn')
    from mmpose_light_runtime.ncnn_export import export_ncnn
    result = export_ncnn(exported[name]['path'], str(tmp_path / name),
                         images=IMAGES)
    check = result['check']
    assert result['kind'] == 'detector'
    assert check['priors'] == len(IMAGES) * (
        (SIZE // 8)**2 + (SIZE // 16)**2 + (SIZE // 32)**2)
    assert check['max_box_rel'] <= 1e-3 and check['max_score'] <= 1e-3
    assert check['boxes'] > 0
    image = read_image(IMAGES[0])
    ours = OnnxDetector(result['files'][0])(image)
    reference = OnnxDetector(exported[name]['path'])(image)
    assert len(ours[0]) == len(reference[0]) > 0
    np.testing.assert_allclose(ours[0], reference[0], atol=0.5)
    np.testing.assert_allclose(ours[1], reference[1], atol=1e-3)


def test_video_on_ncnn_detector_and_pose_without_onnxruntime(
        exported, exports, tmp_path, monkeypatch):
    """MobilePoseNet and an RTMDet person detector, both converted to
    ncnn, drive the runtime's command on a video with tracking and
    smoothing; no ONNX Runtime session is created."""
    pytest.importorskip('ncnn')
    import onnxruntime

    from mmpose_light_runtime.cli import main
    from mmpose_light_runtime.ncnn_export import export_ncnn
    det = export_ncnn(exported['rtmdet_nano_person']['path'],
                      str(tmp_path / 'det'), images=IMAGES[:1])['files'][0]
    pose = export_ncnn(exports['heatmap']['path'], str(tmp_path / 'pose'),
                       images=IMAGES[:1])['files'][0]
    video = moving_video(tmp_path)

    def no_session(*args, **kwargs):
        raise AssertionError('an ONNX Runtime session was created')

    monkeypatch.setattr(onnxruntime, 'InferenceSession', no_session)
    out = tmp_path / 'poses.json'
    main([pose, video, '--det-model', det, '--track', '--smooth',
          '--det-score-thr', str(SCORE_THR['rtmdet_nano_person']),
          '--json', str(out), '--out', str(tmp_path / 'out.avi'),
          '--no-progress'])
    poses = json.loads(out.read_text())
    assert {p['image_id'] for p in poses} == {0, 1, 2, 3}
    assert all(p['track_id'] >= 0 for p in poses)
    assert osp.getsize(tmp_path / 'out.avi') > 0

"""The pose page in headless Chromium against the Python runtime.

The page and :class:`~mmpose_light_runtime.PosePipeline` run the same
models (one per codec) with the same detector on the same pixels: the
sample image (PNG, decoded alike on both sides), the frames of a video and
of Chromium's fake camera as the page decoded them (the page keeps each
frame's pixels; browsers and OpenCV convert video colours differently, so
the pipelines are compared on the frames the page saw). Tracking and
smoothing are on. Keypoints must agree within 0.5 px at the model's input
size, with the same people and track ids.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from web_cases import ARTIFACTS, POSE_MODELS, TRAINED

from mmpose_light_runtime import (OnnxDetector, PosePipeline,
                                  TopdownEstimator)
from mmpose_light_runtime.pipeline import DEFAULT_NMS

BOUND_PX = 0.5
DET_INTERVAL = 2
# random weights score keypoints low: keep every pose through the NMS, so
# that the comparison has people in every frame
NMS_THR = 0.
# and draw every keypoint
KPT_THR = 0.
QUERY = (f'?capture=1&detInterval={DET_INTERVAL}&nmsThr={NMS_THR}'
         f'&kptThr={KPT_THR}')


def python_results(pose: str, detector: str, frames, times,
                   det_interval: int = DET_INTERVAL, flip_test: bool = False):
    """The runtime's poses of ``frames`` (BGR) as one video."""
    pipeline = PosePipeline(TopdownEstimator(pose, flip_test=flip_test),
                            OnnxDetector(detector),
                            nms=dict(DEFAULT_NMS, score_thr=NMS_THR),
                            det_interval=det_interval, tracking=True,
                            smoothing=True)
    return [pipeline(frame, None, time) for frame, time in zip(frames, times)]


def tied(estimator, frame, bbox, k: int, page_kpt, rel: float = 1e-3):
    """Whether keypoint ``k`` of the page lies where the runtime's own
    output is within ``rel`` of its maximum: two best bins (SimCC) or cells
    (heatmaps) that the engines' float rounding may order either way. A
    random network's flat outputs have such ties; a trained one's peaks
    do not."""
    codec = estimator.meta['codec']
    if codec['type'] not in ('SimCCLabel', 'MSRAHeatmap'):
        return False
    inputs, centers, scales = estimator.preprocess(frame, bbox[None])
    outputs = estimator.infer(inputs)
    width, height = estimator.input_size
    point = ((np.asarray(page_kpt) - centers[0] + 0.5 * scales[0]) /
             scales[0] * [width, height])
    if codec['type'] == 'SimCCLabel':
        ratio = codec.get('simcc_split_ratio', 2.0)
        values = [outputs[0][0, k], outputs[1][0, k]]
        bins = np.round(point * ratio).astype(int)
        return all(
            vals.max() - vals[np.clip(b, 0, len(vals) - 1)] <=
            rel * max(abs(vals.max()), 1.) for vals, b in zip(values, bins))
    heatmap = outputs[0][0, k]
    peak = rel * max(abs(heatmap.max()), 1.)
    cell = np.round(point * np.asarray(codec['heatmap_size']) /
                    [width, height]).astype(int)
    x, y = np.clip(cell, 0, [heatmap.shape[1] - 1, heatmap.shape[0] - 1])
    if heatmap.max() - heatmap[y, x] <= peak:
        return True
    # the quarter-pixel step towards the higher neighbour, between two
    # nearly equal ones
    y, x = np.unravel_index(heatmap.argmax(), heatmap.shape)
    padded = np.pad(heatmap, 1)
    return bool(abs(padded[y + 1, x + 2] - padded[y + 1, x]) <= peak
                or abs(padded[y + 2, x + 1] - padded[y, x + 1]) <= peak)


def compare(page_results, results, estimator, frames, what: str):
    """Assert the page's poses equal the runtime's: the same people and
    track ids, boxes and keypoint scores, and keypoints within BOUND_PX at
    the model's input size but for ties (:func:`tied`).

    A tie's keypoint goes on into the next frames (their boxes when the
    detector skips frames, the smoother's state), where the two pipelines
    then rightly differ: frames after the first tie are not compared.

    Returns:
        tuple[float, int, int, int]: The largest keypoint difference
        (input px) of the keypoints that are not ties, the number of ties,
        of keypoints compared, and of frames compared.
    """
    from benchlib.web import poses_arrays
    from mmpose_light_runtime.preprocess import (bbox_xyxy_to_center_scale,
                                                 fix_aspect_ratio)
    assert len(page_results) == len(results), what
    worst, ties, total = 0., 0, 0
    width, height = estimator.input_size
    thr = estimator.meta['rescore'].get('keypoint_score_thr', 0.2)
    compared = 0
    for index, (page, result) in enumerate(zip(page_results, results)):
        if ties:
            break
        compared += 1
        poses = poses_arrays(page['poses'])
        where = f'{what}, frame {index}'
        assert len(poses['scores']) == len(result), where
        np.testing.assert_array_equal(poses['track_ids'], result.track_ids,
                                      err_msg=where)
        # boxes carried from the poses of the frame before move with them
        np.testing.assert_allclose(poses['bboxes'], result.bboxes,
                                   atol=0.05, err_msg=where)
        # two engines' float rounding, amplified by random weights
        np.testing.assert_allclose(poses['keypoint_scores'],
                                   result.keypoint_scores, rtol=5e-3,
                                   atol=1e-3, err_msg=where)
        # a keypoint score at the rescoring threshold may count on one
        # side only; the NMS decay then passes it on to the poses below
        clear = ~np.any(np.abs(result.keypoint_scores - thr) < 1e-3, axis=1)
        np.testing.assert_allclose(poses['scores'][clear],
                                   result.scores[clear], rtol=0.1,
                                   atol=1e-3, err_msg=where)
        if not len(result):
            continue
        _, scales = bbox_xyxy_to_center_scale(
            result.bboxes, estimator.bbox_padding)
        scales = fix_aspect_ratio(scales, width / height)
        per_px = np.array([width, height]) / scales
        diff = np.abs(poses['keypoints'] - result.keypoints).max(-1) * \
            per_px.max(-1)[:, None]
        # a random regression head's keypoints may lie far outside the
        # crop, where a relative rounding error is many pixels: compare
        # the keypoints within a crop's size of it
        centers = (result.bboxes[:, :2] + result.bboxes[:, 2:]) / 2
        inside = np.all(np.abs(result.keypoints - centers[:, None]) <
                        scales[:, None], axis=-1)
        diff[~inside] = 0
        total += int(inside.sum())
        for n, k in zip(*np.nonzero(diff > BOUND_PX)):
            assert tied(estimator, frames[index], result.bboxes[n], k,
                        poses['keypoints'][n, k]), (
                f'{where}: pose {n} keypoint {k} is {diff[n, k]:.3f} px '
                'from the runtime\'s, and no tie')
            ties += 1
            diff[n, k] = 0
        worst = max(worst, float(diff.max()))
    assert ties <= 0.02 * total, f'{what}: {ties} ties of {total}'
    return worst, ties, total, compared


def keep_difference(kind: str, source: str, found: tuple) -> None:
    """Keep compare()'s figures beside the screenshots."""
    worst, ties, total, frames = found
    with open(osp.join(ARTIFACTS, f'difference-{kind}-{source}.json'),
              'w') as f:
        json.dump(dict(model=kind, input=source, largest_px=worst,
                       ties=ties, keypoints=total, frames=frames), f)


@pytest.fixture(scope='module')
def page_runs(web_models, web_inputs):
    """Per model: the page's outputs on the image, the video and the
    camera, and the screenshot of the image."""
    from benchlib.web import drive, serve
    os.makedirs(ARTIFACTS, exist_ok=True)
    runs = {}
    for kind in POSE_MODELS:
        shot = osp.join(ARTIFACTS, f'page-{kind}.png')
        with serve(web_models[kind], web_models['detector']) as url:
            outputs = drive(url, [
                dict(do='open', query=QUERY),
                dict(do='file', path=web_inputs['image']),
                dict(do='screenshot', path=shot),
                dict(do='file', path=web_inputs['video'], capture=True),
                dict(do='camera', frames=6, capture=True),
                dict(do='open', query=QUERY + '&flip=1'),
                dict(do='file', path=web_inputs['image']),
            ], camera=web_inputs['camera'], timeout=600.)
        runs[kind] = dict(zip(['open', 'image', 'shot', 'video', 'camera',
                               'open_flip', 'image_flip'], outputs),
                          screenshot=shot)
    return runs


@pytest.mark.parametrize('kind', POSE_MODELS)
def test_image_equals_runtime(kind, page_runs, web_models, web_inputs):
    run = page_runs[kind]
    assert run['open']['state'] == 'ready', run['open']
    assert run['open']['engine']['name'] == 'wasm'
    assert run['open']['engine']['isolated'] is True
    image = run['image']
    assert image['state'] == 'done', image['message']
    frame = cv2.imread(web_inputs['image'])
    results = python_results(web_models[kind], web_models['detector'],
                             [frame], [0.])
    assert len(results[0]) >= 4  # the sample's people, less what NMS took
    worst = compare(image['results'], results,
                    TopdownEstimator(web_models[kind]), [frame],
                    f'{kind} image')
    keep_difference(kind, 'image', worst)


@pytest.mark.parametrize('kind', POSE_MODELS)
def test_flip_test_equals_runtime(kind, page_runs, web_models, web_inputs):
    """The page's flip test (?flip=1) against ``flip_test=True``."""
    run = page_runs[kind]['image_flip']
    assert run['state'] == 'done', run['message']
    frame = cv2.imread(web_inputs['image'])
    results = python_results(web_models[kind], web_models['detector'],
                             [frame], [0.], flip_test=True)
    plain = page_runs[kind]['image']['results'][0]['poses']['keypoints']
    assert not np.allclose(run['results'][0]['poses']['keypoints'], plain)
    estimator = TopdownEstimator(web_models[kind], flip_test=True)
    keep_difference(kind, 'image-flip',
                    compare(run['results'], results, estimator, [frame],
                            f'{kind} image, flip test'))


@pytest.mark.parametrize('kind', POSE_MODELS)
@pytest.mark.parametrize('source', ['video', 'camera'])
def test_frames_equal_runtime(kind, source, page_runs, web_models,
                              web_inputs):
    from benchlib.web import frame_images
    run = page_runs[kind][source]
    assert run['state'] == 'done', run['message']
    assert len(run['results']) >= 5, 'the page skipped frames'
    frames = frame_images(run)
    times = [entry['time'] for entry in run['results']]
    assert np.all(np.diff(times) > 0)
    results = python_results(web_models[kind], web_models['detector'],
                             frames, times)
    worst = compare(run['results'], results,
                    TopdownEstimator(web_models[kind]), frames,
                    f'{kind} {source}')
    keep_difference(kind, source, worst)
    # the frames are the video's: close to what OpenCV decodes
    if source == 'video':
        reader = cv2.VideoCapture(web_inputs['video'])
        ok, first = reader.read()
        reader.release()
        assert ok and first.shape == frames[0].shape
        assert np.abs(first.astype(int) - frames[0]).mean() < 3


@pytest.mark.parametrize('kind', POSE_MODELS)
def test_screenshot_shows_skeletons(kind, page_runs, web_models):
    """The canvas shows each confident keypoint in its dataset colour."""
    run = page_runs[kind]
    shot = cv2.imread(run['screenshot'])
    assert shot is not None, run['screenshot']
    width, height = run['image']['canvas']
    # the element's screenshot may round its height up by a pixel
    assert abs(shot.shape[0] - height) <= 1 and shot.shape[1] == width
    colors = np.asarray(TopdownEstimator(web_models[kind]).dataset_meta[
        'keypoint_colors'])
    poses = run['image']['results'][0]['poses']
    boxes = np.asarray(poses['bboxes'])
    # a person drawn later (box, label, links) may cover this one
    covered = [bool(np.any(
        (boxes[i + 1:, :2] < boxes[i, 2:]).all(1)
        & (boxes[i + 1:, 2:] > boxes[i, :2]).all(1)))
        for i in range(len(boxes))]
    # in drawing order: pose by pose, a pose's keypoints after its links
    points = [(x, y, colors[k], covered[i]) for i, (kpts, scores) in
              enumerate(zip(poses['keypoints'], poses['keypointScores']))
              for k, ((x, y), score) in enumerate(zip(kpts, scores))
              if score > KPT_THR]
    radius = max(2, round(3 * max(width, height) / 640))
    checked = matched = 0
    for index, (x, y, rgb, under) in enumerate(points):
        col, row = int(round(x)), int(round(y))
        if under or not (0 <= col < shot.shape[1]
                         and 0 <= row < shot.shape[0]):
            continue
        checked += 1
        pixel = shot[row, col][::-1].astype(int)
        # its own colour, or that of a keypoint drawn over it later
        later = [c for (x2, y2, c, _) in points[index:]
                 if np.hypot(x2 - x, y2 - y) <= radius + 1]
        matched += any(np.abs(pixel - c).max() <= 8 for c in later)
    assert checked > 0, 'no keypoint drawn'
    # antialiased edges of neighbouring keypoints blend a few; a random
    # network's limbs cross everywhere
    share = 0.95 if kind in TRAINED else 0.75
    assert matched >= share * checked, (matched, checked)


def bad_models(folder) -> dict:
    """Model files that the page must refuse with a clear message."""
    from onnx import TensorProto, helper

    from benchlib.web import save_onnx
    io = ([helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                         [1, 3, 64, 48])],
          [helper.make_tensor_value_info('out', TensorProto.FLOAT,
                                         [1, 3, 64, 48])])
    return dict(
        no_meta=save_onnx(str(folder / 'no_meta.onnx'),
                          [helper.make_node('Relu', ['input'], ['out'])],
                          *io),
        unknown_op=save_onnx(
            str(folder / 'unknown_op.onnx'),
            [helper.make_node('Mystery', ['input'], ['out'],
                              domain='com.example')], *io),
        not_onnx=str(folder / 'not_onnx.onnx'))


def test_bad_inputs_name_the_problem(web_models, web_inputs, tmp_path):
    """Each bad input shows its message, and the page still works."""
    from benchlib.web import drive, serve
    bad = bad_models(tmp_path)
    with open(bad['not_onnx'], 'wb') as f:
        f.write(b'\x08\x07this is not a model' * 10)
    broken_video = str(tmp_path / 'broken.webm')
    with open(broken_video, 'wb') as f:
        f.write(os.urandom(4096))
    mp4v = str(tmp_path / 'mp4v.mp4')
    writer = cv2.VideoWriter(mp4v, cv2.VideoWriter_fourcc(*'mp4v'), 10,
                             (64, 48))
    for _ in range(3):
        writer.write(np.zeros((48, 64, 3), np.uint8))
    writer.release()
    with serve(web_models['heatmap'], web_models['detector']) as url:
        outputs = drive(url, [
            dict(do='open'),
            dict(do='file', input='#pose-file', path=bad['no_meta']),
            dict(do='file', input='#pose-file',
                 path=web_models['detector']),
            dict(do='file', input='#det-file', path=web_models['heatmap']),
            dict(do='file', input='#pose-file', path=bad['unknown_op']),
            dict(do='file', input='#pose-file', path=bad['not_onnx']),
            dict(do='file', path=broken_video),
            dict(do='file', path=mp4v),
            dict(do='file', path=web_inputs['image']),
        ], camera='deny')
    messages = [out.get('message') or '' for out in outputs[1:8]]
    assert "has no 'mmpose_light' metadata" in messages[0]
    assert 'is a person detector' in messages[1]
    assert 'is a pose model' in messages[2]
    assert 'cannot run unknown_op.onnx' in messages[3]
    assert 'com.example::Mystery' in messages[3]
    assert 'not_onnx.onnx is not an ONNX' in messages[4]
    assert 'cannot decode' in messages[5]
    assert 'cannot decode' in messages[6]
    # the served models stay loaded: the image still runs
    last = outputs[8]
    assert last['state'] == 'done' and last['message'] is None
    assert len(last['results'][0]['poses']['scores']) >= 4


def test_denied_camera_says_so(web_models):
    from benchlib.web import drive, serve
    with serve(web_models['heatmap']) as url:
        outputs = drive(url, [dict(do='open'), dict(do='camera')],
                        camera='deny')
    assert outputs[1]['state'] == 'error'
    assert 'no camera' in outputs[1]['message']

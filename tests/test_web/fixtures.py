"""Fixtures for the tests of the page's JavaScript modules.

:func:`write_fixtures` runs the Python runtime (the spec of
``runtime/mmpose_light_runtime/web/*.js``) on fixed-seed inputs and writes
what it gets as JSON files, which ``web/test/unit/*.test.mjs`` read from
the folder in ``MMPOSE_LIGHT_WEB_FIXTURES`` and compare with the JavaScript
results.

Numeric arrays that are large or must keep their exact float32 bits (NaN
included) are stored as ``{"dtype", "shape", "zlib_b64"}``: their
little-endian bytes, compressed (:func:`encode_array`); small float64
arrays are plain JSON lists, which round-trip exactly. The sample image is
``image.rgba.zlib`` (RGBA bytes, as a canvas gives them), its size in
``image.json``.
"""
import base64
import json
import os
import os.path as osp
import zlib
from types import SimpleNamespace
from typing import Any, Dict, List

import cv2
import numpy as np

from mmpose_light_runtime import codecs, nms, preprocess
from mmpose_light_runtime.detectors import OnnxDetector, box_nms
from mmpose_light_runtime.smoothing import (DEFAULT_SMOOTHING, PoseSmoother,
                                            one_euro_step)
from mmpose_light_runtime.structures import PoseResult
from mmpose_light_runtime.tracker import (PoseTracker, bboxes_from_poses,
                                          box_iou)

__all__ = ['write_fixtures', 'encode_array', 'SAMPLE_IMAGE']

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The image the warp and letterbox cases crop and resize.
SAMPLE_IMAGE = osp.join(ROOT, 'data', 'sample', 'coco', '000000196141.jpg')

_DTYPES = ('uint8', 'int32', 'float32', 'float64')


def encode_array(array: np.ndarray) -> Dict[str, Any]:
    """An array as JSON: its dtype, shape and its bytes, zlib-compressed
    and base64-encoded.

    Args:
        array (np.ndarray): uint8, int32, float32 or float64 (int64 is
            stored as int32).

    Returns:
        dict: ``{"dtype", "shape", "zlib_b64"}``; the bytes are
        little-endian, in C order.
    """
    array = np.asarray(array)
    if array.dtype == np.int64:
        array = array.astype(np.int32)
    if array.dtype.name not in _DTYPES:
        raise ValueError(f'cannot encode dtype {array.dtype}')
    data = np.ascontiguousarray(array, array.dtype.newbyteorder('<'))
    return dict(dtype=array.dtype.name,
                shape=list(array.shape),
                zlib_b64=base64.b64encode(zlib.compress(
                    data.tobytes())).decode('ascii'))


def _dump(folder: str, name: str, value: Any) -> None:
    with open(osp.join(folder, name), 'w') as file:
        json.dump(value, file, allow_nan=False, separators=(',', ':'))


def _rgba(image: np.ndarray) -> np.ndarray:
    """BGR (H, W, 3) to RGBA (H, W, 4) bytes, alpha 255."""
    alpha = np.full(image.shape[:2] + (1, ), 255, np.uint8)
    return np.concatenate([image[..., ::-1], alpha], axis=-1)


# --------------------------------------------------------------- preprocess

def _preprocess_cases(image: np.ndarray) -> Dict[str, Any]:
    """Boxes to centre, scale, area, warp matrix and cv2 crop, inside and
    partly outside the image, with and without UDP; normalisation."""
    rng = np.random.default_rng(1)
    height, width = image.shape[:2]
    boxes = [[170.5, 40.25, 370.75, 410.5], [-60., -30., 150., 220.],
             [500., 300., 720., 470.], [0., 0., float(width),
                                        float(height)],
             [300.3, 200.7, 305.1, 212.9]]
    for _ in range(5):
        x1, y1 = rng.uniform([-100, -100], [width - 20, height - 20])
        w, h = rng.uniform(10, 400, 2)
        boxes.append([x1, y1, x1 + w, y1 + h])
    sizes = [(192, 256), (96, 128), (64, 64), (72, 96), (48, 64), (57, 41),
             (96, 72), (80, 80), (64, 48), (40, 56)]
    warps = []
    for i, box in enumerate(boxes):
        input_size = sizes[i % len(sizes)]
        padding = 1.25 if i % 3 else 1.1
        bbox = np.array([box], dtype=np.float64)
        centers, scales = preprocess.bbox_xyxy_to_center_scale(bbox, padding)
        fixed = preprocess.fix_aspect_ratio(scales,
                                            input_size[0] / input_size[1])
        area = preprocess.pose_areas(bbox, input_size, padding)[0]
        for use_udp in (False, True):
            matrix = preprocess.get_warp_matrix(centers[0], fixed[0],
                                                input_size, use_udp)
            crop = preprocess.crop_instances(image, centers, fixed,
                                             input_size, use_udp)[0]
            warps.append(
                dict(bbox=box,
                     padding=padding,
                     input_size=list(input_size),
                     use_udp=use_udp,
                     center=centers[0].tolist(),
                     scale=scales[0].tolist(),
                     fixed_scale=fixed[0].tolist(),
                     area=float(area),
                     matrix=np.asarray(matrix, np.float64).ravel().tolist(),
                     crop_bgr=encode_array(crop)))
    # matrices with rotation, shear and scale: the warp alone
    affine = []
    for _ in range(4):
        angle = rng.uniform(-np.pi, np.pi)
        zoom = rng.uniform(0.3, 3.0)
        cos, sin = np.cos(angle) * zoom, np.sin(angle) * zoom
        matrix = np.array([[cos, -sin + rng.uniform(-0.2, 0.2),
                            rng.uniform(-200, 200)],
                           [sin, cos, rng.uniform(-200, 200)]])
        size = (int(rng.integers(40, 120)), int(rng.integers(40, 120)))
        crop = cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR)
        affine.append(
            dict(matrix=matrix.ravel().tolist(),
                 size=list(size),
                 crop_bgr=encode_array(crop)))
    normalize = []
    crop = (rng.random((5, 7, 3)) * 256).astype(np.uint8)
    for mean, std in (([123.675, 116.28, 103.53], [58.395, 57.12, 57.375]),
                      (None, None), ([0.5, 100.25, 3.], [1., 2.5, 0.3])):
        for swap in (False, True):
            inputs = preprocess.normalize_crops(crop[None], mean, std, swap)
            normalize.append(
                dict(mean=mean,
                     std=std,
                     swap_channels=swap,
                     expected=encode_array(inputs[0])))
    return dict(warps=warps,
                affine=affine,
                normalize=dict(crop_bgr=encode_array(crop), cases=normalize))


# ------------------------------------------------------------------- codecs

def _heatmaps(rng: np.random.Generator, num: int, num_kpts: int,
              height: int, width: int, peaked: bool) -> np.ndarray:
    """Random (N, K, H, W) heatmaps with the cases decoding must get right:
    ties, all-negative and all-zero maps, maxima on and next to each
    border."""
    if peaked:
        ys, xs = np.mgrid[:height, :width]
        maps = np.empty((num, num_kpts, height, width))
        for index in np.ndindex(num, num_kpts):
            cx, cy = rng.uniform(-1, [width, height])
            sigma = rng.uniform(1, 3)
            maps[index] = np.exp(-((xs - cx)**2 + (ys - cy)**2) /
                                 (2 * sigma**2)) * rng.uniform(0.2, 1)
        maps += rng.normal(0, 0.01, maps.shape)
    else:
        maps = rng.normal(0, 1, (num, num_kpts, height, width))
    maps = maps.astype(np.float32)
    flat = maps.reshape(num * num_kpts, height, width)
    top = float(flat.max()) + 1
    flat[0] = -np.abs(flat[0]) - 0.1      # all negative: -1 location
    flat[1] = 0                           # all zero: -1 location
    flat[2, 3, 4] = flat[2, 7, 2] = top   # a tie: the first one wins
    # maxima on and next to each border
    spots = [(0, 0), (height - 1, width - 1), (0, 5), (height - 1, 3),
             (4, 0), (5, width - 1), (1, 1), (height - 2, width - 2),
             (2, 1), (1, width - 3), (height - 3, 2), (2, 2)]
    for i, (y, x) in enumerate(spots):
        m = 3 + i
        if m < len(flat):
            flat[m, y, x] = top
    # a plateau around the maximum: the refinement sees zero gradients
    if len(flat) > 3 + len(spots):
        flat[3 + len(spots), 6:9, 4:7] = top
    return maps


def _sigmoid_in(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.normal(0, 3, shape).astype(np.float32)


def _decoded(keypoints: np.ndarray, scores: np.ndarray) -> Dict[str, Any]:
    return dict(keypoints=encode_array(np.asarray(keypoints, np.float64)),
                scores=encode_array(np.asarray(scores, np.float64)))


def _codec_cases() -> Dict[str, Any]:
    """Decoding of each codec on random outputs, flip merging and pose
    rescoring."""
    rng = np.random.default_rng(2)
    flip_indices = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    dataset_meta = dict(flip_indices=flip_indices)
    decode = []

    def add(name, outputs, meta, merged=False):
        keypoints, scores = codecs.decode_outputs(outputs, meta, merged)
        decode.append(
            dict(name=name,
                 meta=meta,
                 merged=merged,
                 outputs=[encode_array(o) for o in outputs],
                 expected=_decoded(keypoints, scores)))

    msra = dict(type='MSRAHeatmap', input_size=[48, 64],
                heatmap_size=[12, 16], sigma=2)
    for peaked in (False, True):
        add(f'msra peaked={peaked}',
            [_heatmaps(rng, 2, 17, 16, 12, peaked)], dict(codec=msra))
    for kernel in (11, 7, 5):
        dark = dict(msra, unbiased=True, blur_kernel_size=kernel)
        add(f'msra dark k={kernel}',
            [_heatmaps(rng, 2, 17, 16, 12, True)], dict(codec=dark))
    odd = dict(type='MSRAHeatmap', input_size=[192, 256],
               heatmap_size=[48, 64], unbiased=True)
    add('msra dark default kernel, 48x64',
        [_heatmaps(rng, 1, 5, 64, 48, True)], dict(codec=odd))
    add('msra 3x3 maps', [rng.normal(0, 1, (1, 2, 3, 3)).astype(np.float32)],
        dict(codec=dict(msra, heatmap_size=[3, 3])))
    regression = dict(type='RegressionLabel', input_size=[192, 256])
    for dims, sigmoid in ((2, False), (4, True), (4, False)):
        coords = rng.uniform(-0.2, 1.2, (3, 17, dims)).astype(np.float32)
        if dims == 4 and sigmoid:
            coords[..., 2:] = _sigmoid_in(rng, (3, 17, 2))
        meta = dict(codec=regression, sigmoid_sigma=sigmoid)
        add(f'regression D={dims} sigmoid={sigmoid}', [coords], meta)
        if sigmoid:
            add(f'regression D={dims} sigmoid, merged', [coords], meta, True)
    for ratio in (2.0, 1.5):
        simcc = dict(type='SimCCLabel', input_size=[48, 64],
                     simcc_split_ratio=ratio, use_dark=False)
        x = rng.normal(0, 1, (2, 17, int(48 * ratio))).astype(np.float32)
        y = rng.normal(0, 1, (2, 17, int(64 * ratio))).astype(np.float32)
        x[0, 0] = -np.abs(x[0, 0]) - 0.5       # both maxima negative
        y[0, 1] = -np.abs(y[0, 1]) - 0.5       # one negative
        x[0, 2] = 0                            # zero: -1
        x[0, 3, [5, 9]] = x[0, 3].max() + 1    # ties
        y[1, 4, [0, -1]] = y[1, 4].max() + 1   # ties at the ends
        add(f'simcc ratio={ratio}', [x, y], dict(codec=simcc))

    merge = []

    def add_merge(name, outputs, flipped, meta):
        merged = codecs.merge_flipped_outputs(outputs, flipped, meta)
        keypoints, scores = codecs.decode_outputs(merged, meta, merged=True)
        merge.append(
            dict(name=name,
                 meta=meta,
                 outputs=[encode_array(o) for o in outputs],
                 flipped=[encode_array(o) for o in flipped],
                 merged=[encode_array(o) for o in merged],
                 expected=_decoded(keypoints, scores)))

    for shift in (False, True):
        meta = dict(codec=msra, dataset_meta=dataset_meta,
                    test_cfg=dict(flip_mode='heatmap', shift_heatmap=shift))
        add_merge(f'heatmap shift={shift}',
                  [_heatmaps(rng, 2, 17, 16, 12, True)],
                  [_heatmaps(rng, 2, 17, 16, 12, True)], meta)
    for shift, sigmoid in ((None, True), (False, False), (True, False)):
        test_cfg = {} if shift is None else dict(shift_coords=shift)
        meta = dict(codec=regression, dataset_meta=dataset_meta,
                    test_cfg=test_cfg, sigmoid_sigma=sigmoid)
        dims = 4 if sigmoid else 2
        outputs = [rng.uniform(0, 1, (2, 17, dims)).astype(np.float32)]
        flipped = [rng.uniform(0, 1, (2, 17, dims)).astype(np.float32)]
        if sigmoid:
            outputs[0][..., 2:] = _sigmoid_in(rng, (2, 17, 2))
            flipped[0][..., 2:] = _sigmoid_in(rng, (2, 17, 2))
        add_merge(f'regression shift={shift} sigmoid={sigmoid}', outputs,
                  flipped, meta)
    simcc = dict(type='SimCCLabel', input_size=[48, 64],
                 simcc_split_ratio=2.0)
    add_merge('simcc', [rng.normal(0, 1, (2, 17, 96)).astype(np.float32),
                        rng.normal(0, 1, (2, 17, 128)).astype(np.float32)],
              [rng.normal(0, 1, (2, 17, 96)).astype(np.float32),
               rng.normal(0, 1, (2, 17, 128)).astype(np.float32)],
              dict(codec=simcc, dataset_meta=dataset_meta, test_cfg=None))

    rescore = []
    for num_kpts in (17, 5, 133):
        scores = rng.uniform(0, 1, (6, num_kpts)).astype(np.float32)
        scores[0] = 0.1                       # none above the threshold
        scores[1, ::2] = np.float32(0.2)      # at the threshold: not counted
        scores[2, :3] = np.float32(0.5)
        bbox_scores = rng.uniform(0, 1, 6).astype(np.float32)
        expected = [
            dict(mode=mode,
                 thr=thr,
                 scores=codecs.rescore_poses(scores, bbox_scores, mode,
                                             thr).tolist())
            for mode in ('bbox', 'keypoint', 'bbox_rle', 'bbox_keypoint')
            for thr in (0.2, 0.5)
        ]
        rescore.append(
            dict(keypoint_scores=scores.tolist(),
                 bbox_scores=bbox_scores.tolist(),
                 expected=expected))
    return dict(decode=decode, merge=merge, rescore=rescore)


# ---------------------------------------------------------------------- nms

def _poses(rng: np.random.Generator, num: int, num_kpts: int,
           centres: int = 3) -> np.ndarray:
    """(N, K, 2) poses scattered around a few people, so that they
    overlap."""
    people = rng.uniform(50, 400, (centres, num_kpts, 2))
    which = rng.integers(0, centres, num)
    return people[which] + rng.normal(0, rng.uniform(1, 15, (num, 1, 1)),
                                      (num, num_kpts, 2))


def _nms_cases() -> Dict[str, Any]:
    """Matrix-OKS-NMS with each option, ties and zero areas, and the
    pairwise OKS."""
    rng = np.random.default_rng(3)
    cases = []

    def add(name, keypoints, keypoint_scores, scores, areas, **options):
        keep, decayed = nms.matrix_oks_nms(keypoints, keypoint_scores,
                                           scores, areas, **options)
        sigmas = options.pop('sigmas', None)
        cases.append(
            dict(name=name,
                 keypoints=keypoints.tolist(),
                 keypoint_scores=keypoint_scores.tolist(),
                 scores=scores.tolist(),
                 areas=areas.tolist(),
                 sigmas=None if sigmas is None else list(sigmas),
                 options=options,
                 keep=keep.tolist(),
                 decayed=decayed.tolist()))

    def random_set(num, num_kpts=17):
        keypoints = _poses(rng, num, num_kpts)
        keypoint_scores = rng.uniform(0, 1, (num, num_kpts))
        scores = rng.uniform(0, 1, num)
        areas = rng.uniform(500, 40000, num)
        return keypoints, keypoint_scores, scores, areas

    base = random_set(14)
    add('gaussian', *base)
    add('gaussian sigma=0.5, thr', *base, sigma=0.5, score_thr=0.2)
    add('linear', *base, kernel='linear')
    add('linear, vis_thr', *base, kernel='linear', vis_thr=0.4)
    add('gaussian, vis_thr', *base, vis_thr=0.6)
    add('pre_topk and max_num', *base, pre_topk=6, max_num=3)
    add('max_num', *base, max_num=5, score_thr=0.05)
    # ties: equal scores keep the input order; duplicates decay to 0
    keypoints, keypoint_scores, scores, areas = random_set(8)
    keypoints[3] = keypoints[1]
    areas[3] = areas[1]
    scores[[0, 2, 5]] = 0.5
    scores[[1, 3]] = 0.7
    add('ties and duplicates', keypoints, keypoint_scores, scores, areas)
    add('ties and duplicates, linear', keypoints, keypoint_scores, scores,
        areas, kernel='linear')
    # zero areas: identical poses have OKS 1, others 0
    keypoints, keypoint_scores, scores, areas = random_set(6)
    keypoints[4] = keypoints[0]
    areas[[0, 4, 5]] = 0
    add('zero areas', keypoints, keypoint_scores, scores, areas)
    add('zero areas, linear', keypoints, keypoint_scores, scores, areas,
        kernel='linear')
    add('K=5 with sigmas', *random_set(9, 5),
        sigmas=[0.05, 0.1, 0.02, 0.07, 0.089])
    add('one pose', *random_set(1))
    add('no pose', np.zeros((0, 17, 2)), np.zeros((0, 17)), np.zeros(0),
        np.zeros(0))
    # beyond DENSE_MAX_POSES the Python side skips far pairs
    many = random_set(80)
    many[0][40:] += 2000
    add('80 poses', *many)
    add('80 poses, linear, vis_thr', *many, kernel='linear', vis_thr=0.3)

    pairwise = []
    for name, (keypoints, keypoint_scores, _, areas), sigmas, vis_thr in (
            ('coco', random_set(7), None, None),
            ('vis_thr', random_set(7), None, 0.5),
            ('K=3 sigmas', random_set(5, 3), [0.1, 0.05, 0.2], None)):
        areas[2] = 0
        oks = nms.pairwise_oks(keypoints, areas, None if sigmas is None else
                               np.array(sigmas), keypoint_scores, vis_thr)
        pairwise.append(
            dict(name=name,
                 keypoints=keypoints.tolist(),
                 keypoint_scores=keypoint_scores.tolist(),
                 areas=areas.tolist(),
                 sigmas=sigmas,
                 vis_thr=vis_thr,
                 oks=oks.tolist()))
    return dict(matrix_nms=cases, pairwise_oks=pairwise,
                coco_sigmas=nms.COCO_SIGMAS.tolist())


# ------------------------------------------------------------------ tracker

def _result(keypoints, keypoint_scores, bboxes, areas,
            track_ids=None) -> PoseResult:
    num = len(keypoints)
    return PoseResult(
        keypoints=np.asarray(keypoints, np.float64),
        keypoint_scores=np.asarray(keypoint_scores, np.float64),
        bboxes=np.asarray(bboxes, np.float64),
        bbox_scores=np.ones(num),
        scores=np.ones(num),
        areas=np.asarray(areas, np.float64),
        track_ids=np.full(num, -1, np.int64)
        if track_ids is None else np.asarray(track_ids, np.int64))


def _as_json(result: PoseResult) -> Dict[str, Any]:
    return dict(keypoints=result.keypoints.tolist(),
                keypointScores=result.keypoint_scores.tolist(),
                bboxes=result.bboxes.tolist(),
                bboxScores=result.bbox_scores.tolist(),
                scores=result.scores.tolist(),
                areas=result.areas.tolist(),
                trackIds=result.track_ids.tolist())


def _people_video(rng: np.random.Generator,
                  num_frames: int) -> List[PoseResult]:
    """Frames of people walking, appearing, disappearing, coming back,
    crossing each other, with a duplicate pose and keypoints that jump."""
    num_kpts = 17
    template = rng.uniform([-40, -90], [40, 90], (num_kpts, 2))
    people = [
        # start position, velocity, frames present
        (np.array([100., 200.]), np.array([12., 1.]), range(0, num_frames)),
        (np.array([400., 210.]), np.array([-12., 0.]), range(0, num_frames)),
        (np.array([250., 420.]), np.array([2., -3.]),
         [f for f in range(num_frames) if f not in (4, 5)]),
        (np.array([600., 100.]), np.array([0., 4.]), range(7, num_frames)),
        (np.array([60., 500.]), np.array([1., 0.]),
         [f for f in range(num_frames) if f < 2 or f > 14]),
    ]
    frames = []
    for frame in range(num_frames):
        keypoints, scores, boxes = [], [], []
        for person, (start, velocity, present) in enumerate(people):
            if frame not in present:
                continue
            pose = start + velocity * frame + template * (
                1 + 0.1 * person) + rng.normal(0, 1.5, (num_kpts, 2))
            if person == 2 and frame == 8:
                pose = pose + rng.normal(0, 40, (num_kpts, 2))  # jumps
            score = rng.uniform(0.1, 1, num_kpts)
            low, high = pose.min(0), pose.max(0)
            keypoints.append(pose)
            scores.append(score)
            boxes.append(np.concatenate([low - 5, high + 5]))
        if frame == 6:  # a duplicate of the first pose
            keypoints.append(keypoints[0].copy())
            scores.append(scores[0].copy())
            boxes.append(boxes[0].copy())
        # the detector lists people in any order
        order = rng.permutation(len(keypoints))
        boxes_arr = np.array(boxes).reshape(-1, 4)[order]
        areas = np.prod(boxes_arr[:, 2:] - boxes_arr[:, :2], axis=1) * 1.5
        frames.append(
            _result(np.array(keypoints).reshape(-1, num_kpts, 2)[order],
                    np.array(scores).reshape(-1, num_kpts)[order], boxes_arr,
                    areas))
    frames.insert(10, _result(np.zeros((0, num_kpts, 2)),
                              np.zeros((0, num_kpts)), np.zeros((0, 4)),
                              np.zeros(0)))  # an empty frame
    return frames


def _tracker_cases() -> Dict[str, Any]:
    """Tracker sequences and the boxes from poses."""
    rng = np.random.default_rng(4)
    frames = _people_video(rng, 20)
    sequences = []
    for options in (dict(), dict(oks_thr=0.5, iou_thr=0.3, max_age=3),
                    dict(oks_thr=0.0, iou_thr=1.0, max_age=1),
                    dict(oks_thr=0.9, iou_thr=0.1, max_age=20)):
        tracker = PoseTracker(**options)
        ids = []
        for frame in frames:
            # a copy: the tracker sets the track ids in place
            result = tracker.update(frame.select(slice(None)))
            ids.append(result.track_ids.tolist())
        sequences.append(dict(options=options, track_ids=ids))
    boxes = []
    for kpt_thr, padding, max_resize in ((0.3, 1.25, 1.25), (0.8, 1.0, 2.0),
                                         (0.95, 1.5, 1.1)):
        for frame in frames[:12]:
            boxes.append(
                dict(result=_as_json(frame),
                     kpt_thr=kpt_thr,
                     padding=padding,
                     max_resize=max_resize,
                     expected=bboxes_from_poses(frame, kpt_thr, padding,
                                                max_resize).tolist()))
    # poses without extent keep their box; one confident keypoint: all
    flat = _result([[[5., 5.], [5., 5.], [5., 5.]],
                    [[1., 2.], [1., 9.], [1., 4.]],
                    [[1., 2.], [8., 9.], [3., 4.]]],
                   [[1, 1, 1], [1, 1, 1], [0.9, 0.1, 0.1]],
                   [[0, 0, 10, 10], [0, 0, 4, 12], [0, 0, 9, 9]], [1, 1, 1])
    boxes.append(
        dict(result=_as_json(flat),
             kpt_thr=0.3,
             padding=1.25,
             max_resize=1.25,
             expected=bboxes_from_poses(flat).tolist()))
    a = rng.uniform(0, 100, (5, 2))
    a = np.concatenate([a, a + rng.uniform(0, 60, (5, 2))], axis=1)
    b = rng.uniform(0, 100, (4, 2))
    b = np.concatenate([b, b + rng.uniform(0, 60, (4, 2))], axis=1)
    b[3] = [10, 10, 10, 20]  # empty
    iou = dict(a=a.tolist(), b=b.tolist(), expected=box_iou(a, b).tolist())
    return dict(frames=[_as_json(f) for f in frames],
                sequences=sequences,
                bboxes_from_poses=boxes,
                box_iou=iou,
                sigma_sequence=_tracker_sigma_sequence(rng))


def _tracker_sigma_sequence(rng: np.random.Generator) -> Dict[str, Any]:
    """A sequence of K=4 poses with custom sigmas."""
    sigmas = [0.05, 0.08, 0.1, 0.03]
    base = rng.uniform(100, 300, (3, 4, 2))
    frames, ids = [], []
    tracker = PoseTracker(sigmas=np.array(sigmas))
    for frame in range(6):
        keypoints = base + frame * 6 + rng.normal(0, 2, base.shape)
        order = rng.permutation(3)[:2 + frame % 2]
        keypoints = keypoints[order]
        boxes = np.concatenate([keypoints.min(1), keypoints.max(1)], axis=1)
        result = _result(keypoints, np.ones((len(order), 4)), boxes,
                         np.full(len(order), 3000.))
        frames.append(_as_json(result))
        ids.append(tracker.update(result).track_ids.tolist())
    return dict(sigmas=sigmas, frames=frames, track_ids=ids)


# ---------------------------------------------------------------- smoothing

def _smoothing_cases() -> Dict[str, Any]:
    """Smoother sequences: tracks starting, stopping and coming back,
    keypoints dropping below the threshold, untracked poses, timestamps
    given or not."""
    rng = np.random.default_rng(5)
    num_kpts = 6
    template = rng.uniform(-30, 30, (num_kpts, 2))
    frames = []
    timestamps = []
    t = 0.0
    for frame in range(16):
        keypoints, scores, ids = [], [], []
        for track in range(4):
            if track == 1 and 5 <= frame <= 7:
                continue                   # stops, then comes back
            if track == 3 and frame < 4:
                continue                   # starts later
            centre = np.array([100. + 80 * track, 200.]) + frame * np.array(
                [3. * (track - 1), 2.]) + rng.normal(0, 2, 2)
            pose = centre + template * (1 + 0.2 * track) + rng.normal(
                0, 1.0, (num_kpts, 2))
            score = rng.uniform(0.3, 1, num_kpts)
            if track == 0:
                score[frame % num_kpts] = 0.1  # one keypoint drops out
            if track == 2 and frame in (9, 10):
                score[:] = 0.05                # all keypoints drop out
            if track == 2 and frame == 12:
                score[:3] = 0.1                # half of them
            keypoints.append(pose)
            scores.append(score)
            ids.append(track)
        keypoints.append(rng.uniform(0, 500, (num_kpts, 2)))
        scores.append(rng.uniform(0, 1, num_kpts))
        ids.append(-1)                         # an untracked pose
        order = rng.permutation(len(ids))
        areas = rng.uniform(2000, 9000, len(ids))
        areas[0] = 0.5                         # below 1: sqrt(max(a, 1))
        frames.append(
            _result(np.array(keypoints)[order], np.array(scores)[order],
                    np.zeros((len(ids), 4)), areas,
                    np.array(ids)[order]))
        t += rng.uniform(0.02, 0.06)
        timestamps.append(None if frame in (3, 4, 11) else t)
    sequences = []
    for options in (dict(), dict(centre_beta=None),
                    dict(min_cutoff=1.0, beta=0.5, d_cutoff=1.0,
                         centre_beta=10.0, kpt_thr=0.5, fps=25.0),
                    dict(beta=0.0, centre_beta=0.0)):
        smoother = PoseSmoother(**options)
        smoothed = []
        for frame, stamp in zip(frames, timestamps):
            out = smoother.update(frame, stamp)
            smoothed.append(out.keypoints.tolist())
        sequences.append(
            dict(options={
                _camel(k): v
                for k, v in options.items()
            },
                 smoothed=smoothed))
    steps = []
    for dims, scale in ((2, 1.0), (2, [2.0, 0.5, 3.0]), (3, 7.0)):
        x, x_prev, dx_prev = rng.normal(0, 5, (3, 3, dims))
        dt = 0.04
        scale_arr = np.asarray(scale, np.float64)
        if scale_arr.ndim:
            scale_arr = scale_arr[:, None]
        new_x, new_dx = one_euro_step(x, x_prev, dx_prev, dt, 0.5, 2.0, 1.0,
                                      scale_arr)
        steps.append(
            dict(x=x.tolist(),
                 x_prev=x_prev.tolist(),
                 dx_prev=dx_prev.tolist(),
                 dt=dt,
                 scale=scale,
                 expected_x=new_x.tolist(),
                 expected_dx=new_dx.tolist()))
    return dict(frames=[_as_json(f) for f in frames],
                timestamps=timestamps,
                sequences=sequences,
                one_euro_steps=steps,
                defaults={_camel(k): v
                          for k, v in DEFAULT_SMOOTHING.items()})


def _camel(name: str) -> str:
    head, *rest = name.split('_')
    return head + ''.join(word.title() for word in rest)


# ---------------------------------------------------------------- detectors

def _detector_cases(image: np.ndarray) -> Dict[str, Any]:
    """Letterbox and resize against cv2, candidates, box NMS, clipping."""
    rng = np.random.default_rng(6)
    # (x, y, w, h) of parts of the image
    height, width = image.shape[:2]
    parts = dict(full=(0, 0, width, height),
                 even=(100, 50, 320, 240),
                 small=(200, 100, 120, 90),
                 tiny=(240, 150, 60, 45),
                 up2=(300, 50, 100, 80),
                 odd=(11, 7, 37, 53))
    letterbox = []
    for name, input_size, keep_output, settings in (
            ('full', (320, 320), False,
             dict(mean=(103.53, 116.28, 123.675),
                  std=(57.375, 57.12, 58.395), to_rgb=False,
                  pad_value=114.)),
            ('small', (120, 100), False, dict(mean=None, std=None,
                                              to_rgb=False, pad_value=0.)),
            ('full', (300, 200), False, dict(mean=None, std=None,
                                             to_rgb=True, pad_value=114.)),
            ('full', (160, 128), True,
             dict(mean=(0., 0., 0.), std=(255., 255., 255.), to_rgb=True,
                  pad_value=114.)),
            ('even', (160, 160), False, dict(mean=None, std=None,
                                             to_rgb=False, pad_value=114.)),
            ('tiny', (160, 160), False, dict(mean=None, std=None,
                                             to_rgb=False, pad_value=114.)),
            ('up2', (200, 200), False, dict(mean=None, std=None,
                                            to_rgb=False, pad_value=114.)),
            ('odd', (96, 96), True,
             dict(mean=(123.675, 116.28, 103.53),
                  std=(58.395, 57.12, 57.375), to_rgb=True,
                  pad_value=114.)),
    ):
        x, y, w, h = parts[name]
        sub = np.ascontiguousarray(image[y:y + h, x:x + w])
        detector = SimpleNamespace(
            input_size=input_size,
            pad_value=settings['pad_value'],
            to_rgb=settings['to_rgb'],
            mean=None if settings['mean'] is None else np.asarray(
                settings['mean'], np.float32),
            std=None if settings['std'] is None else np.asarray(
                settings['std'], np.float32))
        inputs, scale = OnnxDetector.preprocess(detector, sub)
        width, height = input_size
        ratio = min(width / sub.shape[1], height / sub.shape[0])
        size = (max(1, int(sub.shape[1] * ratio + 0.5)),
                max(1, int(sub.shape[0] * ratio + 0.5)))
        resized = cv2.resize(sub, size, interpolation=cv2.INTER_LINEAR)
        letterbox.append(
            dict(image=name,
                 offset=[x, y],
                 size=[sub.shape[1], sub.shape[0]],
                 input_size=list(input_size),
                 settings=settings,
                 scale=scale.tolist(),
                 resized_bgr=encode_array(resized),
                 input=encode_array(inputs[0]) if keep_output else None))

    candidates = []
    num = 60
    low = rng.uniform(0, 600, (num, 2))
    boxes = np.concatenate([low, low + rng.uniform(0, 80, (num, 2))],
                           axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, num).astype(np.float32)
    scores[[3, 9, 20]] = 0.75                     # ties
    scores[[4, 30]] = np.float32(0.3)             # at the threshold
    for cfg in (dict(score_thr=0.3, nms_pre=None, min_bbox_size=None),
                dict(score_thr=0.3, nms_pre=10, min_bbox_size=0),
                dict(score_thr=0.5, nms_pre=0, min_bbox_size=None),
                dict(score_thr=0.1, nms_pre=-1, min_bbox_size=30.)):
        scale = np.array([0.5, 0.4])
        detector = SimpleNamespace(output_names=['boxes', 'scores'],
                                   postprocess_cfg=dict(
                                       nms_pre=cfg['nms_pre'],
                                       min_bbox_size=cfg['min_bbox_size']),
                                   score_thr=cfg['score_thr'],
                                   model='fixture')
        found, found_scores, keep = OnnxDetector.candidates(
            detector, dict(boxes=boxes[None], scores=scores[None]), scale)
        candidates.append(
            dict(cfg={_camel(k): v
                      for k, v in cfg.items()},
                 scale=scale.tolist(),
                 expected_boxes=found.tolist(),
                 expected_scores=found_scores.tolist(),
                 expected_indices=keep.tolist()))

    nms_cases = []
    centres = rng.uniform(50, 500, (5, 2))
    num = 40
    low = centres[rng.integers(0, 5, num)] + rng.normal(0, 15, (num, 2))
    nms_boxes = np.concatenate([low, low + rng.uniform(30, 90, (num, 2))],
                               axis=1)
    nms_boxes[7] = nms_boxes[2]                   # duplicate
    nms_boxes[11] = [5, 5, 5, 40]                 # empty
    nms_boxes[12] = [5, 5, 5, 40]                 # empty, same
    nms_scores = rng.uniform(0, 1, num).astype(np.float32)
    nms_scores[[2, 7, 15]] = 0.9
    for iou_thr, max_num in ((0.5, -1), (0.3, 3), (0.0, -1), (0.65, 0),
                             (1.0, -1)):
        nms_cases.append(
            dict(iou_thr=iou_thr,
                 max_num=max_num,
                 expected=box_nms(nms_boxes, nms_scores, iou_thr,
                                  max_num).tolist()))

    dets = rng.uniform(-50, 700, (30, 4))
    dets[:, 2:] = dets[:, :2] + rng.uniform(-10, 100, (30, 2))
    dets_scores = rng.uniform(0, 1, 30).astype(np.float32)
    clipped = []
    for width, height in ((640, 427), (300, 200)):
        # as OnnxDetector.__call__
        full = np.concatenate([dets, dets_scores[:, None]], axis=1)
        full[:, 0:4:2] = full[:, 0:4:2].clip(0, width)
        full[:, 1:4:2] = full[:, 1:4:2].clip(0, height)
        full = full[(full[:, 2] > full[:, 0]) & (full[:, 3] > full[:, 1])]
        clipped.append(
            dict(width=width,
                 height=height,
                 expected_boxes=full[:, :4].tolist(),
                 expected_scores=full[:, 4].astype(np.float32).tolist()))
    return dict(letterbox=letterbox,
                candidates=dict(boxes=boxes.tolist(),
                                scores=scores.tolist(),
                                cases=candidates),
                box_nms=dict(boxes=nms_boxes.tolist(),
                             scores=nms_scores.tolist(),
                             cases=nms_cases),
                clip=dict(boxes=dets.tolist(),
                          scores=dets_scores.tolist(),
                          cases=clipped))


# ----------------------------------------------------------------- writing

def write_fixtures(folder: str) -> None:
    """Write every fixture file of the JavaScript unit tests.

    Args:
        folder (str): Where to write them (created if missing).
    """
    os.makedirs(folder, exist_ok=True)
    image = cv2.imread(SAMPLE_IMAGE, cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f'cannot read {SAMPLE_IMAGE!r}')
    height, width = image.shape[:2]
    with open(osp.join(folder, 'image.rgba.zlib'), 'wb') as file:
        file.write(zlib.compress(_rgba(image).tobytes()))
    _dump(folder, 'image.json',
          dict(file='image.rgba.zlib', width=width, height=height))
    _dump(folder, 'preprocess.json', _preprocess_cases(image))
    with np.errstate(invalid='ignore'):  # DARK on an all-zero map: NaN
        _dump(folder, 'codecs.json', _codec_cases())
    _dump(folder, 'nms.json', _nms_cases())
    _dump(folder, 'tracker.json', _tracker_cases())
    _dump(folder, 'smoothing.json', _smoothing_cases())
    _dump(folder, 'detectors.json', _detector_cases(image))

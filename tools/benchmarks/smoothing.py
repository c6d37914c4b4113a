"""Measure the runtime's keypoint smoothing on trajectories with a known
truth: jitter, error and the lag after a sudden jump, with and without the
one-euro filters.

Usage::

    python tools/benchmarks/smoothing.py [--frames 90] [--fps 30]
        [--noise 3] [--seeds 5] [--speeds 0 0.25 0.5 1] [--swings 0 20]
        [--params MIN_CUTOFF,BETA,D_CUTOFF[,CENTRE_BETA] ...]

The truth: every annotated pose of the bundled sample
(``data/sample/coco/test_coco.json``, its visible keypoints), moved along a
path of ``--frames`` frames at ``--fps``: a horizontal swing and a
smaller vertical one, over 3 seconds, whose peak speed is each of
``--speeds`` person heights per second (0: standing still; 1: a walk
across the picture), and at two thirds of the frames a sudden step of a
third of the person's height to the right. With each of ``--swings``
degrees, the limbs also move on their own as in a walk: elbows and wrists
turn about the shoulders, knees and ankles about the hips, by that many
degrees at 1 Hz, arms against legs and left against right (20 degrees:
wrists and ankles move at up to about 1.2 and 1.5 person heights per
second about the body).
Each person is a track of its own (the tracker is not measured here). The
observations add gaussian noise of ``--noise`` pixels to each coordinate,
seeded; every row filters the same observations, through
:class:`~mmpose_light_runtime.PoseSmoother`: with CENTRE_BETA, about each
person's centre (the default), without it each keypoint on its own in
image coordinates (the classic one-euro filter per keypoint).

Columns, over the visible keypoints of every person and seed:

- jitter: mean magnitude of the frame-to-frame acceleration
  ``|x[t+1] - 2 x[t] + x[t-1]|`` in pixels, over the frames whose
  difference does not straddle the step (the truth's own is in its row);
- error: mean distance to the truth in pixels, over all frames;
- worst keypoint error / raw: the error of the keypoint (of the 17) that
  the smoothing hurts most, over the raw observations' error there;
- lag: frames after the step until a frame's mean error is back within
  1.25 times the raw observations' mean error (0 for the raw ones;
  ``never``: not before the last frame), averaged over the seeds.

Everything is numpy and ``mmpose_light_runtime``: no model runs, so the
figures do not depend on the CPU.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'runtime'))

from mmpose_light_runtime import (DEFAULT_SMOOTHING,  # noqa: E402
                                  PoseResult, PoseSmoother, TopdownEstimator,
                                  read_image)
from mmpose_light_runtime.preprocess import pose_areas  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

ANNOTATIONS = osp.join(ROOT, 'data', 'sample', 'coco', 'test_coco.json')
VIDEO_IMAGE_ID = 197388  # the sample image with the most people (5)
VIDEO_FRAMES = 45
VIDEO_STEP = (4., 1.)  # pixels per frame the image moves (x, y)
VIDEO_JPEG_QUALITY = 75
PERIOD = 3.  # seconds of one swing of the path
STEP_AT = 2 / 3  # where the sudden step is, as a fraction of the frames
STEP = 1 / 3  # its size, in person heights
SETTLED = 1.25  # error within this factor of the raw one: settled
#: the classic one-euro filter of each keypoint in image coordinates: at
#: the defaults' parameters, and at the setting of it that removes the most
#: jitter with a mean error no worse than raw up to a walk
ALTERNATIVES = ('0.3,6,1.5', '0.5,12,1.5')


def load_poses(path: str = ANNOTATIONS
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The annotated poses that have visible keypoints.

    Returns:
        tuple: keypoints (P, K, 2), visible (P, K) bool, boxes (P, 4) as
        (x1, y1, x2, y2).
    """
    with open(path) as f:
        coco = json.load(f)
    anns = [ann for ann in coco['annotations'] if ann['num_keypoints'] > 0]
    kpts = np.array([ann['keypoints'] for ann in anns],
                    dtype=np.float64).reshape(len(anns), -1, 3)
    boxes = np.array([ann['bbox'] for ann in anns], dtype=np.float64)
    boxes[:, 2:] += boxes[:, :2]
    return kpts[..., :2], kpts[..., 2] > 0, boxes


def trajectory(num_frames: int, fps: float, heights: np.ndarray,
               speed: float) -> Tuple[np.ndarray, int]:
    """Offsets of each person per frame along the path, and the step's
    frame.

    Returns:
        tuple: offsets (T, P, 2) in pixels, and the first frame after the
        step.
    """
    t = np.arange(num_frames) / fps
    phase = 2 * np.pi * t / PERIOD
    # a swing of amplitude A has a peak speed of 2 pi A / PERIOD
    swing = speed * PERIOD / (2 * np.pi)
    path = np.stack([np.sin(phase), 0.2 * np.sin(2 * phase)], -1) * swing
    step_at = int(round(num_frames * STEP_AT))
    path[step_at:, 0] += STEP
    return path[:, None, :] * heights[None, :, None], step_at


#: COCO limbs that swing in a walk: (keypoints, the joint they turn about,
#: the sign of their swing: arms and legs opposite, left and right opposite)
LIMBS = (((7, 9), 5, 1.), ((8, 10), 6, -1.), ((13, 15), 11, -1.),
         ((14, 16), 12, 1.))
GAIT_HZ = 1.  # swings of the limbs per second


def swing_limbs(kpts: np.ndarray, visible: np.ndarray, num_frames: int,
                fps: float, degrees: float) -> np.ndarray:
    """The poses with their arms and legs swinging as in a walk, per frame.

    Each limb (elbow and wrist, knee and ankle) turns about its shoulder or
    hip by ``degrees * sin(2 pi GAIT_HZ t)``, the arms against the legs and
    left against right; a limb whose shoulder or hip is not visible stays.

    Returns:
        np.ndarray: keypoints (T, P, K, 2).
    """
    t = np.arange(num_frames) / fps
    angle = np.deg2rad(degrees) * np.sin(2 * np.pi * GAIT_HZ * t)
    out = np.repeat(kpts[None], num_frames, axis=0)
    for points, joint, sign in LIMBS:
        cos, sin = np.cos(sign * angle), np.sin(sign * angle)
        rotation = np.stack([np.stack([cos, -sin], -1),
                             np.stack([sin, cos], -1)], -2)  # (T, 2, 2)
        pivot = kpts[:, joint][None, :, None]  # (1, P, 1, 2)
        limb = kpts[:, list(points)][None] - pivot  # (1, P, L, 2)
        turned = np.einsum('tij,tplj->tpli', rotation,
                           np.broadcast_to(limb, (num_frames, ) +
                                           limb.shape[1:])) + pivot
        moves = visible[:, joint][None, :, None, None]
        out[:, :, list(points)] = np.where(moves, turned,
                                           out[:, :, list(points)])
    return out


def smooth(kpts: np.ndarray, scores: np.ndarray, areas: np.ndarray,
           fps: float, params: Optional[Dict[str, float]]) -> np.ndarray:
    """Run (T, P, K, 2) keypoints, their (T, P, K) scores and (T, P) pose
    areas through a :class:`PoseSmoother`, one track per person; None: the
    keypoints as they are."""
    if params is None:
        return kpts
    smoother = PoseSmoother(**params)
    num_people = kpts.shape[1]
    out = np.empty_like(kpts)
    for t, (frame_kpts, frame_scores, frame_areas) in enumerate(
            zip(kpts, scores, areas)):
        result = PoseResult(
            keypoints=frame_kpts.astype(np.float32),
            keypoint_scores=frame_scores.astype(np.float32),
            bboxes=np.zeros((num_people, 4), np.float32),
            bbox_scores=np.ones(num_people, np.float32),
            scores=np.ones(num_people, np.float32),
            areas=frame_areas.astype(np.float32),
            track_ids=np.arange(num_people))
        out[t] = smoother.update(result, t / fps).keypoints
    return out


def measure(poses: np.ndarray, truth: np.ndarray, visible: np.ndarray,
            step_at: int, settled: float) -> Dict[str, float]:
    """Jitter, error (also per keypoint, (K, )) and lag of (T, P, K, 2)
    poses against the truth."""
    accel = np.linalg.norm(poses[2:] - 2 * poses[1:-1] + poses[:-2], axis=-1)
    centre = np.arange(1, len(poses) - 1)
    calm = (centre + 1 < step_at) | (centre - 1 >= step_at)
    error = np.linalg.norm(poses - truth, axis=-1)
    frame_error = error[:, visible].mean(axis=1)
    after = np.nonzero(frame_error[step_at:] <= settled)[0]
    return dict(
        jitter=float(accel[calm][:, visible].mean()),
        error=float(error[:, visible].mean()),
        kpt_error=np.array([
            error[:, visible[:, k], k].mean() if visible[:, k].any() else
            np.nan for k in range(visible.shape[1])
        ]),
        lag=float(after[0]) if len(after) else float('nan'))


def parse_params(text: str) -> Dict[str, Optional[float]]:
    """``'MIN_CUTOFF,BETA,D_CUTOFF[,CENTRE_BETA]'`` to the smoother's
    arguments; without CENTRE_BETA, each keypoint is filtered on its own
    (``centre_beta=None``)."""
    values = text.split(',')
    if len(values) not in (3, 4):
        raise ValueError(f'--params {text!r} should be MIN_CUTOFF,BETA,'
                         'D_CUTOFF[,CENTRE_BETA], e.g. 1,1,1 or 0.3,4,1.5,20')
    params = dict(zip(('min_cutoff', 'beta', 'd_cutoff', 'centre_beta'),
                      (float(v) for v in values)))
    params.setdefault('centre_beta', None)
    return params


def params_name(params: Dict[str, Optional[float]]) -> str:
    """The inverse of :func:`parse_params`."""
    return ','.join(f'{v:g}' for v in params.values() if v is not None)


def run(num_frames: int,
        fps: float,
        noise: float,
        seeds: int,
        speed: float,
        param_sets: Sequence[Dict[str, float]],
        swing: float = 0.) -> List[Dict]:
    """The rows of the table: truth, raw, then each parameter set, each
    averaged over the seeds."""
    kpts, visible, boxes = load_poses()
    heights = boxes[:, 3] - boxes[:, 1]
    offsets, step_at = trajectory(num_frames, fps, heights, speed)
    truth = swing_limbs(kpts, visible, num_frames, fps,
                        swing) + offsets[:, :, None, :]
    moved_boxes = boxes[None] + np.tile(offsets, 2)
    areas = pose_areas(moved_boxes.reshape(-1, 4),
                       (192, 256)).reshape(moved_boxes.shape[:2])
    scores = np.ones(truth.shape[:3])
    candidates = [('truth', None), ('raw', None)] + [
        (params_name(p), p) for p in param_sets
    ]
    sums = {
        name: dict(jitter=0., error=0., kpt_error=0., lag=0.)
        for name, _ in candidates
    }
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        observed = truth + rng.normal(0, noise, truth.shape)
        raw = measure(observed, truth, visible, step_at, 0.)
        settled = SETTLED * raw['error']
        for name, params in candidates:
            poses = truth if name == 'truth' else smooth(
                observed, scores, areas, fps, params)
            for key, value in measure(poses, truth, visible, step_at,
                                      settled).items():
                sums[name][key] += value / seeds
    raw = sums['raw']
    rows = []
    for name, params in candidates:
        row = dict(name=name, speed=speed, swing=swing, **sums[name])
        row['jitter_ratio'] = raw['jitter'] / row['jitter'] if row[
            'jitter'] > 0 else float('inf')
        row['error_ratio'] = row['error'] / raw['error']
        row['worst_kpt_ratio'] = float(
            np.nanmax(row.pop('kpt_error') / raw['kpt_error']))
        rows.append(row)
    return rows


def video_poses(model: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A model's poses on a video of a sample image moving at a known,
    constant speed.

    The frames are the image shifted by ``VIDEO_STEP`` pixels per frame,
    each compressed as a JPEG of quality ``VIDEO_JPEG_QUALITY`` as a video
    codec would; the boxes are its annotated people's, moved alike, one
    track each.

    Returns:
        tuple: keypoints (T, P, K, 2), their scores (T, P, K) and the pose
        areas (T, P).
    """
    import cv2
    with open(ANNOTATIONS) as f:
        coco = json.load(f)
    name = next(image['file_name'] for image in coco['images']
                if image['id'] == VIDEO_IMAGE_ID)
    image = read_image(osp.join(osp.dirname(ANNOTATIONS), name))
    xywh = np.array([
        ann['bbox'] for ann in coco['annotations']
        if ann['image_id'] == VIDEO_IMAGE_ID and ann['num_keypoints'] > 0
    ])
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
    estimator = TopdownEstimator(model)
    height, width = image.shape[:2]
    poses = []
    for t in range(VIDEO_FRAMES):
        step = np.asarray(VIDEO_STEP) * t
        frame = cv2.warpAffine(image, np.float32([[1, 0, step[0]],
                                                  [0, 1, step[1]]]),
                               (width, height))
        _, jpeg = cv2.imencode('.jpg', frame,
                               [cv2.IMWRITE_JPEG_QUALITY, VIDEO_JPEG_QUALITY])
        result = estimator.predict(cv2.imdecode(jpeg, cv2.IMREAD_COLOR),
                                   boxes + np.tile(step, 2))
        poses.append((result.keypoints, result.keypoint_scores,
                      result.areas))
    return tuple(np.stack(part).astype(np.float64) for part in zip(*poses))


def run_video(model: str, fps: float,
              param_sets: Sequence[Dict[str, float]]) -> List[Dict]:
    """Rows of the model's poses on the moving video, raw and smoothed.

    The truth of a keypoint is unknown; its reference is the path it would
    take if the model placed it alike on every frame: its mean position
    relative to the image over the frames, moved with the image. Only the
    keypoints scored 0.2 or more on every frame count.
    """
    kpts, scores, areas = video_poses(model)
    frames = np.arange(len(kpts))[:, None, None, None]
    moved = frames * np.asarray(VIDEO_STEP)
    reference = (kpts - moved).mean(axis=0) + moved
    counted = (scores >= 0.2).all(axis=0)  # (P, K)
    if not counted.any():
        raise ValueError(f'{model!r} scored no keypoint 0.2 or more on '
                         'every frame: nothing to measure')
    rows = []
    for params in [None] + list(param_sets):
        poses = smooth(kpts, scores, areas, fps, params)
        accel = np.linalg.norm(poses[2:] - 2 * poses[1:-1] + poses[:-2],
                               axis=-1)
        error = np.linalg.norm(poses - reference, axis=-1)
        rows.append(dict(
            name='raw' if params is None else params_name(params),
            jitter=float(accel[:, counted].mean()),
            error=float(error[:, counted].mean())))
    for row in rows:
        row['jitter_ratio'] = rows[0]['jitter'] / row['jitter']
        row['error_ratio'] = row['error'] / rows[0]['error']
    return rows


def print_video_table(rows: List[Dict], stream=sys.stdout) -> None:
    """A markdown table of :func:`run_video`'s rows."""
    header = ('smoothing (min_cutoff,beta,d_cutoff[,centre_beta])',
              'jitter px', 'raw / jitter', 'error px', 'error / raw')
    stream.write('| ' + ' | '.join(header) + ' |\n')
    stream.write('|' + '|'.join('---' for _ in header) + '|\n')
    for row in rows:
        cells = (row['name'], f'{row["jitter"]:.2f}',
                 f'{row["jitter_ratio"]:.2f}', f'{row["error"]:.2f}',
                 f'{row["error_ratio"]:.2f}')
        stream.write('| ' + ' | '.join(cells) + ' |\n')


def print_table(rows: List[Dict], stream=sys.stdout) -> None:
    """A markdown table of the rows."""
    header = ('speed h/s', 'limb swing deg',
              'smoothing (min_cutoff,beta,d_cutoff[,centre_beta])',
              'jitter px', 'raw / jitter', 'error px', 'error / raw',
              'worst keypoint error / raw', 'lag frames')
    stream.write('| ' + ' | '.join(header) + ' |\n')
    stream.write('|' + '|'.join('---' for _ in header) + '|\n')
    for row in rows:
        cells = (f'{row["speed"]:g}', f'{row["swing"]:g}', row['name'],
                 f'{row["jitter"]:.2f}', f'{row["jitter_ratio"]:.2f}',
                 f'{row["error"]:.2f}', f'{row["error_ratio"]:.2f}',
                 f'{row["worst_kpt_ratio"]:.2f}',
                 'never' if np.isnan(row['lag']) else f'{row["lag"]:.1f}')
        stream.write('| ' + ' | '.join(cells) + ' |\n')


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--frames', type=int, default=90, help='frames (default: 90)')
    parser.add_argument(
        '--fps', type=float, default=30., help='frame rate (default: 30)')
    parser.add_argument(
        '--noise',
        type=float,
        default=3.,
        help='keypoint noise, pixels per coordinate (default: 3)')
    parser.add_argument(
        '--seeds', type=int, default=5, help='noise seeds (default: 5)')
    parser.add_argument(
        '--speeds',
        type=float,
        nargs='+',
        default=(0., 0.25, 0.5, 1.),
        help='peak speeds of the path, person heights per second '
        '(default: 0 0.25 0.5 1)')
    parser.add_argument(
        '--swings',
        type=float,
        nargs='+',
        default=(0., 20.),
        help=f'amplitudes of the limbs\' swing at {GAIT_HZ:g} Hz, degrees '
        '(default: 0 20)')
    default = params_name(DEFAULT_SMOOTHING)
    parser.add_argument(
        '--params',
        nargs='+',
        default=(default, ) + ALTERNATIVES,
        help='MIN_CUTOFF,BETA,D_CUTOFF[,CENTRE_BETA] sets, without '
        'CENTRE_BETA each keypoint filtered on its own (default: the '
        f'defaults {default}, and {" ".join(ALTERNATIVES)})')
    parser.add_argument(
        '--model',
        help='a pose ONNX file of tools/export_onnx.py (trained): also '
        'measure on its poses of a video of a sample image moving at a '
        'known speed')
    args = parser.parse_args(argv)
    if args.frames < 10 or args.seeds < 1:
        parser.error('--frames should be >= 10 and --seeds >= 1')
    try:
        param_sets = [parse_params(text) for text in args.params]
        rows = [
            row for swing in args.swings for speed in args.speeds
            for row in run(args.frames, args.fps, args.noise, args.seeds,
                           speed, param_sets, swing)
        ]
    except ValueError as error:
        parser.error(str(error))
    # numpy arithmetic, seeded: the figures do not depend on the CPU
    print(format_cpu_info(threads=1))
    print(f'{args.frames} frames at {args.fps:g} fps, noise '
          f'{args.noise:g} px, {args.seeds} seed(s), step at frame '
          f'{int(round(args.frames * STEP_AT))}')
    print_table(rows)
    if args.model:
        print(f'\n{args.model} on {VIDEO_FRAMES} frames of sample image '
              f'{VIDEO_IMAGE_ID} moving by {VIDEO_STEP} px per frame at '
              f'{args.fps:g} fps, JPEG quality {VIDEO_JPEG_QUALITY}')
        print_video_table(run_video(args.model, args.fps, param_sets))


if __name__ == '__main__':
    main()

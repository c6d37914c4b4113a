"""Keypoint smoothing: the one-euro filter's math, the split of a pose into
its centre and the keypoints about it, per-track state (reset when a track
ends, low-score keypoints), timestamps, bad parameters, and a video through
the command line tracked and smoothed."""
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmpose_light_runtime import (OneEuroFilter, PosePipeline, PoseResult,
                                  PoseSmoother, TopdownEstimator, open_source)
from mmpose_light_runtime.cli import main
from mmpose_light_runtime.smoothing import one_euro_step
from tiny_models import ROOT, gt_boxes, write_moving_video

SHIFT = np.array([4., 1.])  # pixels per frame
NUM_FRAMES = 10
FPS = 10.


def poses(keypoints, track_ids, scores=None, area=100. * 100.):
    """A PoseResult of (N, K, 2) keypoints with the given track ids."""
    keypoints = np.asarray(keypoints, np.float32)
    num, num_kpts = keypoints.shape[:2]
    if scores is None:
        scores = np.ones((num, num_kpts), np.float32)
    return PoseResult(
        keypoints=keypoints,
        keypoint_scores=np.asarray(scores, np.float32),
        bboxes=np.tile([[0., 0., 100., 100.]], (num, 1)),
        bbox_scores=np.ones(num, np.float32),
        scores=np.ones(num, np.float32),
        areas=np.full(num, area),
        track_ids=np.asarray(track_ids, np.int64))


def test_one_euro_step_by_hand():
    # from (0, 0) at rest to (3, 4) in 0.1 s, speed unit 2:
    # a_d = 1 / (1 + 1 / (2 pi 1 Hz 0.1 s)) = 0.385870
    # dx_hat = a_d (30, 40) = (11.5761, 15.4348), |dx_hat| / 2 = 9.64674
    # cutoff = 1 + 0.5 * 9.64674 = 5.82337 Hz
    # a = 1 / (1 + 1 / (2 pi 5.82337 Hz 0.1 s)) = 0.785358
    x_hat, dx_hat = one_euro_step(
        np.array([3., 4.]), np.zeros(2), np.zeros(2), dt=0.1,
        min_cutoff=1., beta=0.5, d_cutoff=1., scale=2.)
    np.testing.assert_allclose(dx_hat, [11.576086, 15.434782], rtol=1e-6)
    np.testing.assert_allclose(x_hat, [2.356075, 3.141434], rtol=1e-6)


def test_one_euro_filter_is_an_adaptive_moving_average():
    f = OneEuroFilter(min_cutoff=1., beta=0.)
    np.testing.assert_array_equal(f(np.zeros((3, 2)), t=0.), 0.)
    # beta 0: an exponential moving average at 1 Hz, a = 0.385870 at 10 Hz
    np.testing.assert_allclose(f(np.ones((3, 2)), t=0.1), 0.385870,
                               rtol=1e-5)
    np.testing.assert_allclose(
        f(np.ones((3, 2)), t=0.2), 0.385870 + 0.385870 * (1 - 0.385870),
        rtol=1e-5)
    # speed raises the cutoff: the same step is followed more closely
    fast = OneEuroFilter(min_cutoff=1., beta=1.)
    fast(np.zeros((3, 2)), t=0.)
    assert (fast(np.ones((3, 2)), t=0.1) > 0.39).all()
    with pytest.raises(ValueError, match='after'):
        f(np.ones((3, 2)), t=0.2)
    with pytest.raises(ValueError, match='shape'):
        f(np.ones((4, 2)), t=0.3)
    f.reset()
    np.testing.assert_array_equal(f(np.full((4, 2), 7.), t=0.), 7.)


def test_tracks_are_smoothed_apart_and_reset_when_they_end():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, (2, 5, 2))
    # linear filters (beta 0): the same as an exponential moving average
    # of each keypoint, whether split about the centre or not
    smoother = PoseSmoother(min_cutoff=1., beta=0., d_cutoff=1.,
                            centre_beta=0.)
    first = smoother.update(poses(base, [0, 1]), 0.)
    np.testing.assert_array_equal(first.keypoints, base.astype(np.float32))
    # the two tracks come in the other order: each keeps its own state;
    # track 0 moved by 10 px, track 1 did not
    given = poses([base[1], base[0] + 10], [1, 0])
    second = smoother.update(given, 0.1)
    # the input is left as it was
    np.testing.assert_array_equal(given.keypoints[1],
                                  (base[0] + 10).astype(np.float32))
    np.testing.assert_allclose(second.keypoints[0], base[1], atol=1e-4)
    np.testing.assert_allclose(second.keypoints[1], base[0] + 3.85870,
                               atol=1e-4)
    # an untracked pose passes as it is
    third = smoother.update(
        poses([base[1], base[0] + 50], [1, -1]), 0.2)
    np.testing.assert_allclose(third.keypoints[1], base[0] + 50, atol=1e-4)
    # track 0 was absent from the frame: it ended, and coming back far
    # away it is not dragged toward its old place
    back = smoother.update(poses([base[0] + 80], [0]), 0.3)
    np.testing.assert_allclose(back.keypoints[0], base[0] + 80, atol=1e-4)
    smoother.reset()
    assert smoother.states == {}


def test_low_score_keypoints_pass_and_restart():
    smoother = PoseSmoother(min_cutoff=1., beta=0., d_cutoff=1.,
                            centre_beta=0., kpt_thr=0.5)
    scores = np.ones((1, 2))
    smoother.update(poses(np.zeros((1, 2, 2)), [0], scores), 0.)
    low = scores.copy()
    low[0, 1] = 0.1
    out = smoother.update(poses(np.full((1, 2, 2), 10.), [0], low), 0.1)
    np.testing.assert_allclose(out.keypoints[0, 0], 3.85870, atol=1e-4)
    # the low-score keypoint passes as it is
    np.testing.assert_allclose(out.keypoints[0, 1], 10.)
    # confident again: it starts from its new place, not from 0 or 10
    out = smoother.update(poses(np.full((1, 2, 2), 30.), [0], scores), 0.2)
    np.testing.assert_allclose(out.keypoints[0, 1], 30.)
    assert out.keypoints[0, 0, 0] < 20


def test_linear_filters_about_the_centre_are_the_classic_filter():
    # with beta 0 every filter is the same linear moving average, so
    # filtering the centre and the offsets apart and adding them must give
    # the classic filter of each keypoint, also when keypoints drop out and
    # come back (the state is re-expressed about the new centre)
    rng = np.random.default_rng(2)
    track = np.cumsum(rng.normal(0, 5, (12, 2, 6, 2)), axis=0) + 300
    scores = np.ones((12, 2, 6))
    scores[3:6, 0, 1] = 0.1  # out for three frames, then back
    scores[5:, 0, 4] = 0.1  # out for good
    scores[8, 1] = 0.1  # a frame without a confident keypoint
    split = PoseSmoother(min_cutoff=2., beta=0., centre_beta=0.)
    classic = PoseSmoother(min_cutoff=2., beta=0., centre_beta=None)
    for t, (kpts, score) in enumerate(zip(track, scores)):
        a = split.update(poses(kpts, [0, 1], score), t / 30.).keypoints
        b = classic.update(poses(kpts, [0, 1], score), t / 30.).keypoints
        np.testing.assert_allclose(a, b, atol=1e-3)
        if t > 0:
            assert np.abs(a - kpts).max() > 0.1  # smoothed, not passed


def test_a_moving_person_is_smoothed_about_its_centre():
    # a pose moving as a whole: its offsets from the centre do not change,
    # so its shape is kept exactly and only the centre is smoothed, at
    # min_cutoff + centre_beta * speed (speed in person sizes per second)
    rng = np.random.default_rng(3)
    shape = rng.uniform(-40, 40, (1, 17, 2))
    smoother = PoseSmoother(min_cutoff=1., beta=0., d_cutoff=1.,
                            centre_beta=0.5)
    smoother.update(poses(shape + 100, [0], area=2. * 2.), 0.)
    out = smoother.update(poses(shape + [103., 104.], [0], area=2. * 2.),
                          0.1).keypoints
    # the centre's step as in test_one_euro_step_by_hand
    np.testing.assert_allclose(out - shape,
                               np.full((1, 17, 2), 100.) +
                               [2.356075, 3.141434], atol=1e-4)
    # the classic filter of each keypoint, at the same cutoffs, moves
    # every keypoint alike here; it smooths the same step less when the
    # keypoints are noisy, since each keypoint's own speed is noisier
    noise = rng.normal(0, 2, (30, 1, 17, 2))
    path = np.arange(30)[:, None, None, None] * [6., 0.] + shape + noise
    jitter = {}
    for name, centre_beta in (('split', 8.), ('classic', None)):
        smoother = PoseSmoother(min_cutoff=0.5, beta=8., centre_beta=(
            centre_beta))
        out = np.stack([
            smoother.update(poses(kpts, [0]), t / 30.).keypoints
            for t, kpts in enumerate(path)
        ])
        jitter[name] = np.abs(out[2:] - 2 * out[1:-1] + out[:-2]).mean()
    assert jitter['split'] < 0.6 * jitter['classic']


def test_timestamps_set_the_smoothing():
    rng = np.random.default_rng(1)
    track = np.cumsum(rng.normal(0, 3, (8, 1, 17, 2)), axis=0) + 200

    def run(smoother, times):
        return np.stack([
            smoother.update(poses(kpts, [0]), t).keypoints
            for kpts, t in zip(track, times)
        ])

    def smoother(**kwargs):
        return PoseSmoother(min_cutoff=1., beta=0., **kwargs)

    at_10 = run(smoother(), np.arange(8) / 10.)
    at_60 = run(smoother(), np.arange(8) / 60.)
    # the same 1 Hz cutoff follows the same steps less closely when they
    # come six times as fast
    error_10 = np.abs(at_10 - track).mean()
    error_60 = np.abs(at_60 - track).mean()
    assert error_60 > 1.5 * error_10 > 0
    # frames without a time stamp are spaced by 1 / fps
    np.testing.assert_allclose(run(smoother(fps=10.), [None] * 8), at_10)
    smoother = PoseSmoother()
    smoother.update(poses(track[0], [0]), 1.)
    with pytest.raises(ValueError, match='after'):
        smoother.update(poses(track[1], [0]), 1.)
    with pytest.raises(ValueError, match='`timestamp` should be a finite'):
        smoother.update(poses(track[1], [0]), float('nan'))
    with pytest.raises(ValueError, match='repeat'):
        smoother.update(poses(track[:2, 0], [3, 3]), 2.)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(min_cutoff=0), ValueError, 'min_cutoff'),
    (dict(min_cutoff=float('nan')), ValueError, 'min_cutoff'),
    (dict(beta=-1), ValueError, 'beta'),
    (dict(centre_beta=-1), ValueError, 'centre_beta'),
    (dict(centre_beta='x'), TypeError, 'centre_beta'),
    (dict(d_cutoff='1'), TypeError, 'd_cutoff'),
    (dict(fps=0), ValueError, 'fps'),
    (dict(kpt_thr=float('inf')), ValueError, 'kpt_thr'),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        PoseSmoother(**kwargs)
    if not {'fps', 'kpt_thr', 'centre_beta'} & set(kwargs):
        with pytest.raises(error, match=match):
            OneEuroFilter(**kwargs)


def test_smoothing_needs_tracking(pose_model):
    with pytest.raises(ValueError, match='tracking'):
        PosePipeline(TopdownEstimator(pose_model), smoothing=True)


@pytest.fixture(scope='module')
def moving_video(tmp_path_factory, sample_image):
    """A 10 fps video of the sample image moving by SHIFT per frame, and
    the ground-truth boxes moved alike as a COCO detection file."""
    return write_moving_video(sample_image,
                              tmp_path_factory.mktemp('smooth_video'), SHIFT,
                              NUM_FRAMES, FPS)


def test_video_frames_carry_their_timestamps(moving_video):
    times = [frame.timestamp for frame in open_source(moving_video[0])]
    np.testing.assert_allclose(times, np.arange(NUM_FRAMES) / FPS)


def tracks_from_json(path):
    """Keypoints (frames, tracks, K, 2) of a COCO results file, by id."""
    with open(path) as f:
        entries = json.load(f)
    ids = sorted({entry['track_id'] for entry in entries})
    kpts = np.full((NUM_FRAMES, len(ids), 17, 2), np.nan)
    scores = np.zeros((NUM_FRAMES, len(ids), 17))
    for entry in entries:
        values = np.reshape(entry['keypoints'], (17, 3))
        track = ids.index(entry['track_id'])
        kpts[entry['image_id'], track] = values[:, :2]
        scores[entry['image_id'], track] = values[:, 2]
    return ids, kpts, scores


def test_video_in_tracked_and_smoothed_poses_out(pose_model, moving_video,
                                                 tmp_path):
    video, det_file = moving_video
    common = [pose_model, video, '--det-file', det_file, '--nms', 'none',
              '--track', '--no-progress']
    raw_json, smooth_json = tmp_path / 'raw.json', tmp_path / 'smooth.json'
    out = tmp_path / 'smooth.avi'
    main(common + ['--json', str(raw_json)])
    main(common + ['--json', str(smooth_json), '--out', str(out), '--smooth',
                   '--smooth-min-cutoff', '0.5', '--smooth-beta', '0',
                   '--smooth-centre-beta', '0'])
    raw_ids, raw, scores = tracks_from_json(raw_json)
    ids, smoothed, _ = tracks_from_json(smooth_json)
    # every person is one track through the video, smoothed or not
    assert ids == raw_ids and len(ids) == len(gt_boxes())
    assert not np.isnan(smoothed).any()
    assert osp.getsize(out) > 0
    # the first frame passes as it is; then the confident keypoints are
    # smoothed: the filter of each track, replayed here, gives the output
    np.testing.assert_allclose(smoothed[0], raw[0], atol=1e-3)
    confident = scores >= 0.2
    assert confident[1:].sum() > 20
    changed = np.abs(smoothed - raw).max(-1) > 0.01
    assert changed[1:][confident[1:]].mean() > 0.9
    assert not changed[~confident].any()
    # (linear filters, beta 0: the output does not depend on the areas)
    replay = PoseSmoother(min_cutoff=0.5, beta=0., centre_beta=0.)
    for t in range(NUM_FRAMES):
        expected = replay.update(
            poses(raw[t], np.arange(len(ids)), scores[t]), t / FPS)
        np.testing.assert_allclose(smoothed[t], expected.keypoints,
                                   atol=2e-3)


def test_cli_refuses_bad_smoothing_and_keeps_outputs(pose_model,
                                                     moving_video, tmp_path,
                                                     capsys):
    video, det_file = moving_video
    js = tmp_path / 'out.json'
    js.write_text('[]')
    cases = [
        (['--smooth'], '--smooth needs --track'),
        (['--track', '--smooth', '--smooth-min-cutoff', '0'], 'min_cutoff'),
        (['--track', '--smooth', '--smooth-beta', '-1'], 'beta'),
        (['--track', '--smooth', '--smooth-centre-beta', '-1'],
         'centre_beta'),
    ]
    for extra, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main([pose_model, video, '--det-file', det_file, '--json',
                  str(js), '--no-progress'] + extra)
        assert exit_info.value.code == 2
        assert message in capsys.readouterr().err
    assert js.read_text() == '[]'


def test_benchmark_prints_its_table():
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmarks', 'smoothing.py'),
         '--frames', '30', '--seeds', '1', '--speeds', '0.5', '--swings', '0',
         '20', '--params', '1,0,1', '1,20,1', '0.3,8,1.5', '0.3,8,1.5,20'],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines()
             if line.startswith('|')]
    header = [cell.strip() for cell in lines[0].strip('|').split('|')]
    assert header == ['speed h/s', 'limb swing deg',
                      'smoothing (min_cutoff,beta,d_cutoff[,centre_beta])',
                      'jitter px', 'raw / jitter', 'error px', 'error / raw',
                      'worst keypoint error / raw', 'lag frames']
    rows = {(cells[1], cells[2]): [float(v) for v in cells[3:8]]
            for cells in ([cell.strip() for cell in line.strip('|').split('|')]
                          for line in lines[2:])}
    names = ['truth', 'raw', '1,0,1', '1,20,1', '0.3,8,1.5', '0.3,8,1.5,20']
    assert list(rows) == [(swing, name) for swing in ('0', '20')
                          for name in names]
    for swing in ('0', '20'):
        jitter = {name: rows[swing, name][1] for name in names[1:]}
        error = {name: rows[swing, name][3] for name in names[1:]}
        assert jitter['raw'] == error['raw'] == 1.
        # a plain moving average (beta 0) removes more jitter than an
        # adaptive one, and lags more
        assert jitter['1,0,1'] > jitter['1,20,1'] > 1
        assert error['1,0,1'] > error['1,20,1']
        # the same filters about the person's centre remove more jitter
        # from a moving person, with less error
        assert jitter['0.3,8,1.5,20'] > 1.3 * jitter['0.3,8,1.5']
        assert error['0.3,8,1.5,20'] < error['0.3,8,1.5'] < 1.5
    # the limbs' swing moves keypoints about the centre: less is smoothed
    assert rows['20', '0.3,8,1.5,20'][1] < rows['0', '0.3,8,1.5,20'][1]
    assert rows['20', 'truth'][0] > rows['0', 'truth'][0]


def test_benchmark_measures_a_model_on_a_moving_video(pose_model):
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'benchmarks', 'smoothing.py'),
         '--frames', '20', '--seeds', '1', '--speeds', '0', '--swings', '0',
         '--params', '1,0,1', '0.3,6,1.5,40', '--model', pose_model],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    video = proc.stdout.split(pose_model + ' on ')[1]
    assert video.startswith('45 frames of sample image 197388')
    rows = {cells[0]: [float(v) for v in cells[1:]] for cells in (
        [cell.strip() for cell in line.strip('|').split('|')]
        for line in video.splitlines()[3:] if line.startswith('|'))}
    assert list(rows) == ['raw', '1,0,1', '0.3,6,1.5,40']
    assert rows['raw'][1] == rows['raw'][3] == 1.
    assert rows['raw'][0] > 0  # the model's keypoints do jitter
    assert rows['raw'][2] > 0  # and stray from the image's path
    # (an untrained model: its errors say nothing) a plain 1 Hz moving
    # average removes the most jitter
    assert rows['1,0,1'][1] > rows['0.3,6,1.5,40'][1] > 1

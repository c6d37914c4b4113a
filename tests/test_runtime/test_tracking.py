"""Tracking on video: ids kept across frames by OKS, detection every N
frames with boxes carried from poses in between."""

import numpy as np
import pytest

from mmpose_light_runtime import (DetectionFile, PosePipeline, PoseResult,
                                  PoseTracker, TopdownEstimator)
from mmpose_light_runtime.tracker import bboxes_from_poses, box_iou
from tiny_models import gt_boxes, write_moving_video

SHIFT = np.array([3., 2.])  # pixels per frame
NUM_FRAMES = 12


@pytest.fixture(scope='module')
def shifted_video(tmp_path_factory, sample_image):
    """A 10 fps video of the sample image moving by SHIFT per frame, and a
    COCO detection file of its ground-truth boxes, moved alike, in another
    order every frame: ids cannot follow the order."""
    return write_moving_video(sample_image, tmp_path_factory.mktemp('video'),
                              SHIFT, NUM_FRAMES, 10,
                              np.random.default_rng(0))


def test_no_id_switch_on_a_moving_video(pose_model, shifted_video):
    video, det_file = shifted_video
    pipeline = PosePipeline(TopdownEstimator(pose_model),
                            DetectionFile(det_file), nms=None,
                            tracking=True)
    people = len(gt_boxes())
    ids_per_person = []
    for frame, result in pipeline.run(video):
        assert len(result) == people
        # which ground-truth person each pose belongs to: by its box
        boxes = gt_boxes() + np.tile(SHIFT * frame.index, 2)
        person = np.abs(result.bboxes[:, None] - boxes[None]).sum(-1).argmin(1)
        assert sorted(person) == list(range(people))
        ids = np.empty(people, dtype=np.int64)
        ids[person] = result.track_ids
        ids_per_person.append(ids)
    ids_per_person = np.array(ids_per_person)
    assert len(ids_per_person) == NUM_FRAMES
    # zero id switches: every person keeps the id of the first frame
    assert (ids_per_person == ids_per_person[0]).all()
    assert len(set(ids_per_person[0])) == people


def test_ids_follow_keypoints_not_boxes():
    """Two people with the same box swap places in the list: OKS on the
    keypoints keeps their ids, where box IoU could not tell them apart."""
    rng = np.random.default_rng(0)
    left = rng.uniform([100, 100], [200, 300], (17, 2))
    right = left + [150, 0]

    def frame(first, second):
        return PoseResult(
            keypoints=np.stack([first, second]).astype(np.float32),
            keypoint_scores=np.ones((2, 17), np.float32),
            bboxes=np.tile([[100., 100., 350., 300.]], (2, 1)),
            bbox_scores=np.ones(2, np.float32),
            scores=np.ones(2, np.float32),
            areas=np.full(2, 250. * 200.),
            track_ids=np.full(2, -1))

    tracker = PoseTracker()
    first = tracker.update(frame(left, right)).track_ids.copy()
    second = tracker.update(frame(right + 2, left + 2)).track_ids
    assert list(second) == list(first[::-1])
    # a pose unlike any track, in a box unlike any track's, starts a new one
    far = frame(left + 4, left + [600, 600])
    far.bboxes[1] += [600, 600, 600, 600]
    third = tracker.update(far).track_ids
    assert third[0] == first[0] and third[1] not in first


def test_box_iou_matches_what_oks_leaves():
    """A person whose keypoints jump (small, occluded) but whose box stays
    keeps its id through the box; a new person elsewhere does not."""
    rng = np.random.default_rng(1)

    def result(keypoints, boxes):
        num = len(boxes)
        return PoseResult(
            keypoints=np.asarray(keypoints, np.float32),
            keypoint_scores=np.ones((num, 17), np.float32),
            bboxes=np.asarray(boxes, np.float64),
            bbox_scores=np.ones(num, np.float32),
            scores=np.ones(num, np.float32),
            areas=np.full(num, 40. * 80.),
            track_ids=np.full(num, -1))

    box = [100., 100., 140., 180.]
    tracker = PoseTracker(oks_thr=0.3, iou_thr=0.5)
    first = tracker.update(
        result(rng.uniform(100, 140, (1, 17, 2)), [box])).track_ids[0]
    # other keypoints (OKS about 0), box moved by 2 px (IoU about 0.9)
    moved = [v + 2 for v in box]
    jumped = tracker.update(
        result(rng.uniform(100, 140, (1, 17, 2)) + [0, 40], [moved]))
    assert jumped.track_ids[0] == first
    elsewhere = tracker.update(
        result(rng.uniform(400, 440, (1, 17, 2)), [[400, 400, 440, 480]]))
    assert elsewhere.track_ids[0] != first
    np.testing.assert_allclose(box_iou(np.array([box]), np.array([moved])),
                               [[(38 * 78) / (2 * 40 * 80 - 38 * 78)]])


def test_detector_runs_every_n_frames(pose_model, shifted_video):
    video, det_file = shifted_video
    calls = []
    detections = DetectionFile(det_file)

    class Counting(type(detections)):
        def __call__(self, image, image_id=None):
            calls.append(image_id)
            return super().__call__(image, image_id)

    detections.__class__ = Counting
    pipeline = PosePipeline(TopdownEstimator(pose_model), detections,
                            nms=None, det_interval=4, tracking=True)
    counts = [len(result) for _, result in pipeline.run(video)]
    assert calls == [0, 4, 8]
    # the frames between detections keep every person
    assert counts == [len(gt_boxes())] * NUM_FRAMES


def test_boxes_from_poses():
    keypoints = np.array([[[10, 20], [30, 60], [1000, 1000]]], np.float32)
    result = PoseResult(
        keypoints=keypoints,
        keypoint_scores=np.array([[0.9, 0.8, 0.1]], np.float32),
        bboxes=np.array([[5., 10., 35., 70.]]),
        bbox_scores=np.ones(1, np.float32),
        scores=np.ones(1, np.float32),
        areas=np.ones(1),
        track_ids=np.full(1, -1))
    # the confident keypoints span (10, 20)-(30, 60); grown by 1.25
    np.testing.assert_allclose(
        bboxes_from_poses(result, kpt_thr=0.3, padding=1.25),
        [[7.5, 15., 32.5, 65.]])
    # keypoints collapsed to a small cluster: the box shrinks by at most
    # max_resize, around the keypoints' center
    result.keypoints[0, :2] = [[19, 39], [21, 41]]
    np.testing.assert_allclose(
        bboxes_from_poses(result, kpt_thr=0.3, max_resize=1.25),
        [[20 - 12, 40 - 24, 20 + 12, 40 + 24]])

"""Boxes, poses, NMS and tracking for each frame of an input.

:class:`PosePipeline` is the one place where the steps meet; the
command line (:mod:`mmpose_light_runtime.cli`) and ``tools/demo.py`` only
choose its parts. Any pose estimator with the interface of
:class:`~mmpose_light_runtime.TopdownEstimator` works: ``predict(image,
bboxes, bbox_scores) -> PoseResult``, ``num_keypoints`` and
``dataset_meta``; ``mmpose_light.apis.TorchTopdownEstimator`` runs MMPose's
``inference_topdown`` behind the same interface.
"""
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple

import numpy as np

from .checks import check_int
from .detectors import as_detector
from .nms import matrix_oks_nms
from .smoothing import PoseSmoother
from .sources import Frame, FrameSource, open_source
from .structures import PoseResult
from .tracker import PoseTracker, bboxes_from_poses

__all__ = ['PosePipeline', 'DEFAULT_NMS']

#: The NMS of :class:`PosePipeline` by default. Pose scores are the boxes'
#: scores times the mean confident keypoint score (in [0, 1] for every
#: head), so one threshold suits heatmap, SimCC and RLE models alike.
DEFAULT_NMS = dict(kernel='gaussian', sigma=2.0, score_thr=0.2)

_NMS_KEYS = ('kernel', 'sigma', 'score_thr', 'pre_topk', 'max_num', 'vis_thr')


def _check_nms(nms: Optional[Mapping]) -> Optional[Dict[str, Any]]:
    if nms is None:
        return None
    if not isinstance(nms, Mapping):
        raise TypeError(f'`nms` should be a dict or None, but got {nms!r}')
    unknown = set(nms) - set(_NMS_KEYS)
    if unknown:
        raise ValueError(f'unknown `nms` arguments {sorted(unknown)}; '
                         f'expected some of {_NMS_KEYS}')
    return dict(nms)


class PosePipeline:
    """Poses of every person in a frame, optionally tracked over frames.

    For each frame: person boxes (from ``detector`` every ``det_interval``
    frames, and in between from the previous frame's poses), all crops
    through the pose network in one batch, Matrix-OKS-NMS over the poses,
    then track ids, then each track's keypoints smoothed over time.

    Example:
        >>> from mmpose_light_runtime import (OnnxDetector, PosePipeline,
        ...                                   TopdownEstimator)
        >>> pipeline = PosePipeline(TopdownEstimator('pose.onnx'),
        ...                         OnnxDetector('rtmdet.onnx'),
        ...                         det_interval=5, tracking=True,
        ...                         smoothing=True)
        >>> for frame, result in pipeline.run('video.mp4'):
        ...     print(frame.index, result.track_ids)

    Args:
        estimator: A top-down pose estimator (see the module docstring).
        detector (optional): Person boxes: a
            :class:`~mmpose_light_runtime.detectors.PersonDetector`, a
            callable ``fn(image) -> (N, 4) or (N, 5) boxes``, or None for
            the whole frame. Defaults to None.
        nms (dict, optional): Arguments of
            :func:`~mmpose_light_runtime.nms.matrix_oks_nms`, or None to
            keep every pose. Defaults to :data:`DEFAULT_NMS`.
        det_interval (int): Run the detector every this many frames; the
            frames between take their boxes from the poses of the frame
            before (a frame without poses runs the detector). Defaults to 1.
        tracking (bool | PoseTracker): Give poses track ids (``True`` for
            a :class:`PoseTracker` with its defaults). Defaults to False.
        smoothing (bool | PoseSmoother): Smooth each track's keypoints
            over time with a one-euro filter (``True`` for a
            :class:`~mmpose_light_runtime.smoothing.PoseSmoother` with its
            defaults); needs ``tracking``. Boxes carried to the next frame
            and tracking use the unsmoothed poses. Defaults to False.
        box_kpt_thr (float): Keypoint score threshold of the boxes carried
            from poses. Defaults to 0.3.
    """

    def __init__(self,
                 estimator,
                 detector=None,
                 nms: Optional[Mapping] = DEFAULT_NMS,
                 det_interval: int = 1,
                 tracking=False,
                 smoothing=False,
                 box_kpt_thr: float = 0.3) -> None:
        check_int('`det_interval`', det_interval, 1)
        self.estimator = estimator
        self.detector = as_detector(detector)
        self.nms = _check_nms(nms)
        self.det_interval = det_interval
        sigmas = self.dataset_meta.get('sigmas')
        self.sigmas = None if sigmas is None else np.asarray(sigmas)
        if tracking is True:
            tracking = PoseTracker(sigmas=self.sigmas)
        self.tracker = tracking or None
        if smoothing is True:
            smoothing = PoseSmoother()
        if smoothing and self.tracker is None:
            raise ValueError('`smoothing` needs `tracking`: the filter '
                             'follows each track over frames')
        self.smoother = smoothing or None
        self.box_kpt_thr = box_kpt_thr
        self.reset()

    @property
    def dataset_meta(self) -> Dict[str, Any]:
        """The pose model's keypoint names, sigmas, skeleton and colours."""
        return self.estimator.dataset_meta

    def reset(self) -> None:
        """Start a new video: forget the previous poses and tracks."""
        self.frames_seen = 0
        self.last_num_boxes = 0
        self.previous = None
        if self.tracker is not None:
            self.tracker.reset()
        if self.smoother is not None:
            self.smoother.reset()

    def boxes(self, image: np.ndarray,
              image_id: Optional[int]) -> Tuple[np.ndarray, np.ndarray]:
        """The person boxes and scores of the next frame."""
        carry = (self.frames_seen % self.det_interval != 0
                 and self.previous is not None and len(self.previous))
        if carry:
            return (bboxes_from_poses(self.previous, self.box_kpt_thr),
                    self.previous.bbox_scores)
        return self.detector(image, image_id)

    def suppress(self, result: PoseResult) -> PoseResult:
        """Matrix-OKS-NMS over the poses; scores become the decayed ones."""
        if self.nms is None or not len(result):
            return result
        keep, decayed = matrix_oks_nms(
            result.keypoints.astype(np.float64),
            result.keypoint_scores.astype(np.float64),
            result.scores.astype(np.float64),
            result.areas.astype(np.float64),
            sigmas=self.sigmas,
            **self.nms)
        kept = result.select(keep)
        kept.scores = decayed[keep].astype(np.float32)
        return kept

    def __call__(self,
                 image: np.ndarray,
                 image_id: Optional[int] = None,
                 timestamp: Optional[float] = None) -> PoseResult:
        """The poses of the next frame.

        Args:
            image (np.ndarray): BGR image. Shape (H, W, 3).
            image_id (int, optional): The frame's image id, for detectors
                that look boxes up by id. Defaults to None.
            timestamp (float, optional): The frame's time in seconds, for
                smoothing. Defaults to None: the smoother's ``fps`` after
                the frame before.

        Returns:
            PoseResult: The kept poses, by descending score (track ids set
            with tracking, keypoints smoothed with smoothing); empty when
            the frame has no person.
        """
        bboxes, bbox_scores = self.boxes(image, image_id)
        self.last_num_boxes = len(bboxes)
        result = self.suppress(
            self.estimator.predict(image, bboxes, bbox_scores))
        if self.tracker is not None:
            self.tracker.update(result)
        self.previous = result
        self.frames_seen += 1
        if self.smoother is not None:
            result = self.smoother.update(result, timestamp)
        return result

    def run(self, source) -> Iterator[Tuple[Frame, PoseResult]]:
        """The poses of every frame of an input.

        Args:
            source (str | int | FrameSource): An image, a folder, a video
                file or a camera index (see
                :func:`~mmpose_light_runtime.sources.open_source`), or an
                opened source.

        Yields:
            tuple[Frame, PoseResult]: Each frame and its poses. The images
            of a folder are independent: boxes are not carried and tracks
            not kept from one to the next.
        """
        if not isinstance(source, FrameSource):
            source = open_source(source)
        self.reset()
        for frame in source:
            if source.kind in ('image', 'folder'):
                self.reset()
            yield frame, self(frame.image, frame.image_id, frame.timestamp)

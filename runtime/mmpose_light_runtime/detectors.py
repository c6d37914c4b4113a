"""Where person boxes come from.

A detector is called on each frame that needs boxes as
``detector(image, image_id)`` and returns ``(bboxes, scores)``: boxes
(x1, y1, x2, y2) of shape (N, 4) and scores of shape (N, ); N may be 0.

- :class:`WholeFrame`: the whole frame is one person box.
- :class:`DetectionFile`: boxes of a COCO-format detection results file.
- :class:`OnnxDetector`: a person detector exported to ONNX in MMDeploy's
  end-to-end format (outputs ``dets`` (1, N, 5) and ``labels`` (1, N)).
- :class:`CallableDetector`: any function ``fn(image) -> boxes``.
"""
import json
import os.path as osp
from collections import defaultdict
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np

from .backends import create_backend
from .preprocess import check_bboxes

__all__ = [
    'PersonDetector', 'WholeFrame', 'DetectionFile', 'OnnxDetector',
    'CallableDetector', 'as_detector'
]

Boxes = Tuple[np.ndarray, np.ndarray]


def _boxes_and_scores(boxes, source: str) -> Boxes:
    """Split (N, 4) or (N, 5) boxes into checked boxes and scores."""
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return np.zeros((0, 4)), np.zeros(0, dtype=np.float32)
    if boxes.ndim != 2 or boxes.shape[1] not in (4, 5):
        raise ValueError(f'{source} should give boxes of shape (N, 4) or '
                         f'(N, 5) as (x1, y1, x2, y2[, score]), but gave '
                         f'{boxes.shape}')
    scores = boxes[:, 4] if boxes.shape[1] == 5 else np.ones(len(boxes))
    if not np.isfinite(scores).all():
        raise ValueError(f'{source} gave non-finite box scores '
                         f'{scores.tolist()}')
    return (check_bboxes(boxes[:, :4], f'boxes of {source}'),
            scores.astype(np.float32))


class PersonDetector:
    """Base class: ``detector(image, image_id) -> (bboxes, scores)``."""

    def __call__(self, image: np.ndarray,
                 image_id: Optional[int] = None) -> Boxes:
        raise NotImplementedError


class WholeFrame(PersonDetector):
    """The whole frame as one box of score 1."""

    def __call__(self, image: np.ndarray,
                 image_id: Optional[int] = None) -> Boxes:
        height, width = image.shape[:2]
        return (np.array([[0, 0, width, height]], dtype=np.float64),
                np.ones(1, dtype=np.float32))


class DetectionFile(PersonDetector):
    """Person boxes read from a COCO detection results file.

    Args:
        det_file (str): A JSON list of ``{"image_id", "bbox": [x, y, w, h],
            "score", "category_id"}``; ``category_id`` 1 is a person.
        score_thr (float): Keep boxes scored at least this. Defaults to 0.

    A frame's boxes are those of its image id: for an image file the number
    in its name (COCO's ``000000000785.jpg`` is 785), for a video frame its
    index (0 for the first frame). An id the file does not list has no boxes.
    """

    def __init__(self, det_file: str, score_thr: float = 0.) -> None:
        if not osp.isfile(det_file):
            raise FileNotFoundError(
                f'detection file {det_file!r} does not exist')
        with open(det_file) as f:
            try:
                dets = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f'{det_file!r} is not valid JSON: {error}') from None
        if not isinstance(dets, list) or not all(
                isinstance(d, dict) and 'image_id' in d and 'bbox' in d
                for d in dets):
            raise ValueError(f'{det_file!r} should be a list of COCO '
                             'detections with "image_id" and "bbox"')
        self.det_file = det_file
        self.boxes = defaultdict(list)
        for det in dets:
            person = det.get('category_id', 1) == 1
            if not person or det.get('score', 1.) < score_thr:
                continue
            x, y, w, h = det['bbox']
            self.boxes[det['image_id']].append(
                [x, y, x + w, y + h, det.get('score', 1.)])

    @property
    def image_ids(self) -> list:
        """The image ids with at least one person box."""
        return sorted(self.boxes)

    def __call__(self, image: np.ndarray,
                 image_id: Optional[int] = None) -> Boxes:
        if image_id is None:
            raise ValueError(f'boxes of {self.det_file!r} need the image id '
                             'of the frame')
        return _boxes_and_scores(
            self.boxes.get(image_id, []),
            f'{self.det_file!r} (image id {image_id})')


class OnnxDetector(PersonDetector):
    """A person detector in MMDeploy's end-to-end ONNX format.

    The frame is resized to fit ``input_size`` keeping its aspect ratio,
    padded at the bottom and right with ``pad_value``, and normalised; the
    model returns ``dets`` (1, N, 5) as (x1, y1, x2, y2, score) in the
    resized frame's pixels, and ``labels`` (1, N). The defaults are those of
    MMDetection's RTMDet and YOLOX-style person detectors as MMDeploy
    exports them.

    Args:
        model (str): The ONNX file.
        score_thr (float): Keep boxes scored at least this.
            Defaults to 0.3.
        person_label (int): The label of a person. Defaults to 0 (COCO).
        input_size (tuple[int, int], optional): Input (w, h); defaults to
            the model's static input size, else (640, 640).
        mean (Sequence[float], optional): Per-channel mean, in the order
            fed to the network. Defaults to RTMDet's BGR mean
            ``(103.53, 116.28, 123.675)``; None for no normalisation.
        std (Sequence[float], optional): Per-channel std. Defaults to
            ``(57.375, 57.12, 58.395)``.
        to_rgb (bool): Feed RGB instead of BGR. Defaults to False.
        pad_value (float): Padding value. Defaults to 114.
        backend (str): Inference engine. Defaults to ``'onnxruntime'``.
        num_threads (int, optional): Intra-op threads. Defaults to None.
    """

    def __init__(self,
                 model: str,
                 score_thr: float = 0.3,
                 person_label: int = 0,
                 input_size: Optional[Tuple[int, int]] = None,
                 mean: Optional[Sequence[float]] = (103.53, 116.28, 123.675),
                 std: Optional[Sequence[float]] = (57.375, 57.12, 58.395),
                 to_rgb: bool = False,
                 pad_value: float = 114.,
                 backend: str = 'onnxruntime',
                 num_threads: Optional[int] = None) -> None:
        self.backend = create_backend(backend, model, num_threads)
        self.model = str(model)
        if not {'dets', 'labels'} <= set(self.backend.output_names):
            raise ValueError(
                f'{self.model!r} has outputs {self.backend.output_names}; a '
                "detector in MMDeploy's end-to-end format has 'dets' "
                "(1, N, 5) and 'labels' (1, N)")
        if input_size is None:
            height, width = self.backend.input_shape[2:]
            static = isinstance(height, int) and isinstance(width, int)
            input_size = (width, height) if static else (640, 640)
        self.input_size = tuple(int(v) for v in input_size)
        self.score_thr = score_thr
        self.person_label = person_label
        self.mean = None if mean is None else np.asarray(mean, np.float32)
        self.std = None if std is None else np.asarray(std, np.float32)
        self.to_rgb = to_rgb
        self.pad_value = pad_value

    def preprocess(self, image: np.ndarray) -> Tuple[np.ndarray, float]:
        """The network input (1, 3, h, w) and the resize ratio."""
        width, height = self.input_size
        ratio = min(width / image.shape[1], height / image.shape[0])
        size = (max(1, round(image.shape[1] * ratio)),
                max(1, round(image.shape[0] * ratio)))
        padded = np.full((height, width, 3), self.pad_value, np.float32)
        padded[:size[1], :size[0]] = cv2.resize(
            image, size, interpolation=cv2.INTER_LINEAR)
        if self.to_rgb:
            padded = padded[..., ::-1]
        if self.mean is not None:
            padded = (padded - self.mean) / self.std
        return np.ascontiguousarray(padded.transpose(2, 0, 1)[None]), ratio

    def __call__(self, image: np.ndarray,
                 image_id: Optional[int] = None) -> Boxes:
        inputs, ratio = self.preprocess(image)
        outputs = dict(zip(self.backend.output_names,
                           self.backend.run(inputs)))
        dets, labels = outputs['dets'], outputs['labels']
        if dets.ndim != 3 or dets.shape[0] != 1 or dets.shape[2] != 5 \
                or labels.shape != dets.shape[:2]:
            raise ValueError(
                f'{self.model!r} returned dets {dets.shape} and labels '
                f'{labels.shape}; expected (1, N, 5) and (1, N)')
        dets, labels = dets[0], labels[0]
        keep = (labels == self.person_label) & (dets[:, 4] >= self.score_thr)
        dets = dets[keep].astype(np.float64)
        dets[:, :4] /= ratio
        height, width = image.shape[:2]
        # boxes are clipped to the frame; empty ones are dropped
        dets[:, 0:4:2] = dets[:, 0:4:2].clip(0, width)
        dets[:, 1:4:2] = dets[:, 1:4:2].clip(0, height)
        dets = dets[(dets[:, 2] > dets[:, 0]) & (dets[:, 3] > dets[:, 1])]
        return _boxes_and_scores(dets, repr(self.model))


class CallableDetector(PersonDetector):
    """Wrap ``fn(image) -> boxes`` (N, 4) or (N, 5) with scores.

    Args:
        fn (Callable): The user's detector.
    """

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.fn = fn

    def __call__(self, image: np.ndarray,
                 image_id: Optional[int] = None) -> Boxes:
        return _boxes_and_scores(self.fn(image),
                                 f'the detector {self.fn!r}')


def as_detector(detector) -> PersonDetector:
    """A :class:`PersonDetector` from None (whole frame), a detector, or a
    callable."""
    if detector is None:
        return WholeFrame()
    if isinstance(detector, PersonDetector):
        return detector
    if callable(detector):
        return CallableDetector(detector)
    raise TypeError('`detector` should be None, a PersonDetector or a '
                    f'callable, but got {detector!r}')

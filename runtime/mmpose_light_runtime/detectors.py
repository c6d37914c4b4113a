"""Where person boxes come from.

A detector is called on each frame that needs boxes as
``detector(image, image_id)`` and returns ``(bboxes, scores)``: boxes
(x1, y1, x2, y2) of shape (N, 4) and scores of shape (N, ); N may be 0.

- :class:`WholeFrame`: the whole frame is one person box.
- :class:`DetectionFile`: boxes of a COCO-format detection results file.
- :class:`OnnxDetector`: a person detector exported to ONNX by
  ``tools/export_detector.py``, or in MMDeploy's end-to-end format (outputs
  ``dets`` (1, N, 5) and ``labels`` (1, N)).
- :class:`CallableDetector`: any function ``fn(image) -> boxes``.
"""
import os.path as osp
from collections import defaultdict
from typing import Callable, Optional, Sequence, Tuple

import cv2
import numpy as np

from .backends import create_backend
from .fileio import load_json
from .meta import DETECTOR_META_KEY, META_KEY, parse_detector_meta
from .preprocess import check_bboxes
from .tracker import box_iou

__all__ = [
    'PersonDetector', 'WholeFrame', 'DetectionFile', 'OnnxDetector',
    'CallableDetector', 'as_detector', 'box_nms'
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
        dets = load_json(det_file)
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


def box_nms(boxes: np.ndarray,
            scores: np.ndarray,
            iou_thr: float,
            max_num: int = -1) -> np.ndarray:
    """Greedy NMS of one class of boxes, as MMCV's ``nms`` op does it.

    Boxes are visited from the highest score down; a box is dropped when
    its IoU (no +1 pixel offset) with a kept box exceeds ``iou_thr``.

    Args:
        boxes (np.ndarray): (x1, y1, x2, y2). Shape (N, 4).
        scores (np.ndarray): Shape (N, ).
        iou_thr (float): Drop boxes overlapping a kept one by more.
        max_num (int): Keep at most this many; -1 for all.
            Defaults to -1.

    Returns:
        np.ndarray: Indices of the kept boxes, by descending score.
        Shape (K, ).
    """
    order = np.argsort(-scores, kind='stable')
    keep = []
    while order.size and len(keep) != max_num:
        first, rest = order[0], order[1:]
        keep.append(first)
        # two empty boxes have IoU 0: they suppress nothing, as in MMCV
        iou = box_iou(boxes[first][None], boxes[rest])[0]
        order = rest[~(iou > iou_thr)]
    return np.asarray(keep, dtype=np.int64)


class _FromFile:
    """The default of a setting that an exported detector file carries."""

    def __repr__(self) -> str:
        return '<from the file>'


_FROM_FILE = _FromFile()

# The settings of MMDeploy's end-to-end files, which carry none: those of
# MMDetection's RTMDet (BGR, ImageNet mean and std, letterbox padded with
# 114), which YOLOX-style person detectors share but for normalisation.
_MMDEPLOY_PREPROCESS = dict(
    mean=(103.53, 116.28, 123.675),
    std=(57.375, 57.12, 58.395),
    to_rgb=False,
    pad_value=114.)
_MMDEPLOY_SCORE_THR = 0.3


class OnnxDetector(PersonDetector):
    """A person detector exported to ONNX.

    Two formats are read:

    - ``tools/export_detector.py``'s (``mmpose_light.deploy``): the file
      carries :data:`~mmpose_light_runtime.meta.DETECTOR_META_KEY` metadata
      (input size, normalisation, channel order, score threshold, NMS
      settings); the network returns the decoded ``boxes`` (1, P, 4) and
      person ``scores`` (1, P) of its P priors, and the score threshold,
      pre-NMS top-k, NMS and the cap on boxes run here, in numpy, as
      MMDetection's ``predict`` does them.
    - MMDeploy's end-to-end format (also rtmlib's model zoo): outputs
      ``dets`` (1, N, 5) as (x1, y1, x2, y2, score) after NMS and
      ``labels`` (1, N), no settings in the file; the defaults below are
      those of MMDetection's RTMDet as MMDeploy exports it.

    The frame is resized to fit ``input_size`` keeping its aspect ratio
    (MMCV's ``imrescale`` rule), padded at the bottom and right with
    ``pad_value`` and normalised; boxes are scaled back per axis, as
    MMDetection does, clipped to the frame, and empty ones dropped.

    Args:
        model (str): The ONNX file.
        score_thr (float, optional): Keep boxes scored at least this.
            Defaults to None: the file's threshold, 0.3 for MMDeploy files.
        person_label (int): The label of a person in an MMDeploy file.
            Defaults to 0 (COCO). Exported files hold persons only.
        input_size (tuple[int, int], optional): Input (w, h); defaults to
            the file's, else the model's static input size, else
            (640, 640).
        mean (Sequence[float], optional): Per-channel mean, in the order
            fed to the network; None for no normalisation. Defaults to the
            file's, RTMDet's BGR mean ``(103.53, 116.28, 123.675)`` for
            MMDeploy files.
        std (Sequence[float], optional): Per-channel std. Defaults to the
            file's, ``(57.375, 57.12, 58.395)`` for MMDeploy files.
        to_rgb (bool, optional): Feed RGB instead of BGR. Defaults to the
            file's, False for MMDeploy files.
        pad_value (float, optional): Padding value. Defaults to the
            file's, 114 for MMDeploy files.
        backend (str, optional): Inference engine. Defaults to None:
            ``'ncnn'`` for an ncnn model (``.ncnn.param``, converted by
            ``tools/export_ncnn.py``), else ``'onnxruntime'``.
        num_threads (int, optional): Intra-op threads. Defaults to None.

    Attributes:
        format (str): ``'mmpose_light'`` or ``'mmdeploy'``.
        postprocess_cfg (dict): For exported files, the box
            post-processing settings (``score_thr``, ``nms_pre``,
            ``iou_thr``, ``max_per_img``, ``min_bbox_size``); None for
            MMDeploy files.

    Raises:
        ValueError: If the file is neither format (a pose model, or a
            detector without our metadata and without MMDeploy's outputs).
    """

    def __init__(self,
                 model: str,
                 score_thr: Optional[float] = None,
                 person_label: int = 0,
                 input_size: Optional[Tuple[int, int]] = None,
                 mean: Optional[Sequence[float]] = _FROM_FILE,
                 std: Optional[Sequence[float]] = _FROM_FILE,
                 to_rgb: Optional[bool] = None,
                 pad_value: Optional[float] = None,
                 backend: Optional[str] = None,
                 num_threads: Optional[int] = None) -> None:
        self.backend = create_backend(backend, model, num_threads)
        self.model = str(model)
        metadata = self.backend.metadata
        outputs = self.backend.output_names
        self.postprocess_cfg = None
        if DETECTOR_META_KEY in metadata:
            self.format = 'mmpose_light'
            meta = parse_detector_meta(metadata, self.model)
            missing = set(meta['output_names']) - set(outputs)
            if missing:
                raise ValueError(
                    f'{self.model!r} lacks the outputs {sorted(missing)} '
                    f'that its metadata names; it has {outputs}')
            self.output_names = list(meta['output_names'])
            settings = dict(meta['preprocess'])
            self.postprocess_cfg = dict(meta['postprocess'])
            default_thr = self.postprocess_cfg['score_thr']
            file_size = meta['input_size']
        elif {'dets', 'labels'} <= set(outputs):
            self.format = 'mmdeploy'
            self.output_names = ['dets', 'labels']
            settings = dict(_MMDEPLOY_PREPROCESS)
            default_thr = _MMDEPLOY_SCORE_THR
            file_size = None
        elif META_KEY in metadata:
            raise ValueError(
                f'{self.model!r} is a pose model (it has {META_KEY!r} '
                'metadata), not a person detector: give it as the pose '
                'model')
        else:
            raise ValueError(
                f'{self.model!r} is not a person detector the runtime '
                f'reads: it has no {DETECTOR_META_KEY!r} metadata (export '
                'it with tools/export_detector.py) and its outputs '
                f"{outputs} are not MMDeploy's end-to-end 'dets' (1, N, 5) "
                "and 'labels' (1, N)")
        if input_size is None:
            input_size = file_size
        if input_size is None:
            height, width = self.backend.input_shape[2:]
            static = isinstance(height, int) and isinstance(width, int)
            input_size = (width, height) if static else (640, 640)
        self.input_size = tuple(int(v) for v in input_size)
        self.score_thr = default_thr if score_thr is None else score_thr
        self.person_label = person_label
        if mean is not _FROM_FILE:
            settings['mean'] = mean
        if std is not _FROM_FILE:
            settings['std'] = std
        for key, value in (('to_rgb', to_rgb), ('pad_value', pad_value)):
            if value is not None:
                settings[key] = value
        self.mean = None if settings['mean'] is None else np.asarray(
            settings['mean'], np.float32)
        self.std = None if settings['std'] is None else np.asarray(
            settings['std'], np.float32)
        self.to_rgb = bool(settings['to_rgb'])
        self.pad_value = float(settings['pad_value'])

    def preprocess(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The network input (1, 3, h, w) and the resize factors (x, y).

        The image is scaled by ``min(w / W, h / H)`` to
        ``int(W * ratio + 0.5)`` x ``int(H * ratio + 0.5)`` (MMCV's
        ``imrescale``); the factors are the sizes' ratios per axis, by
        which MMDetection scales boxes back.
        """
        width, height = self.input_size
        ratio = min(width / image.shape[1], height / image.shape[0])
        size = (max(1, int(image.shape[1] * ratio + 0.5)),
                max(1, int(image.shape[0] * ratio + 0.5)))
        padded = np.full((height, width, 3), self.pad_value, np.float32)
        padded[:size[1], :size[0]] = cv2.resize(
            image, size, interpolation=cv2.INTER_LINEAR)
        if self.to_rgb:
            padded = padded[..., ::-1]
        if self.mean is not None:
            padded = (padded - self.mean) / self.std
        scale = np.array([size[0] / image.shape[1], size[1] / image.shape[0]])
        return np.ascontiguousarray(padded.transpose(2, 0, 1)[None]), scale

    def _mmdeploy_dets(self, outputs: dict) -> Tuple[np.ndarray, np.ndarray]:
        dets, labels = outputs['dets'], outputs['labels']
        if dets.ndim != 3 or dets.shape[0] != 1 or dets.shape[2] != 5 \
                or labels.shape != dets.shape[:2]:
            raise ValueError(
                f'{self.model!r} returned dets {dets.shape} and labels '
                f'{labels.shape}; expected (1, N, 5) and (1, N)')
        dets, labels = dets[0], labels[0]
        keep = (labels == self.person_label) & (dets[:, 4] >= self.score_thr)
        return dets[keep, :4].astype(np.float64), dets[keep, 4]

    def candidates(self, outputs: dict, scale: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """An exported file's person boxes before NMS, as MMDetection's
        ``predict`` has them: scored at least the threshold, the best
        ``nms_pre`` of them, scaled back to the frame, the too small
        dropped.

        Args:
            outputs (dict): The network's outputs by name.
            scale (np.ndarray): The resize factors (x, y) of
                :meth:`preprocess`.

        Returns:
            tuple: boxes (M, 4) in the frame, float64; scores (M, ); the
            indices of their priors (M, ); by descending score.
        """
        boxes_name, scores_name = self.output_names
        boxes, scores = outputs[boxes_name], outputs[scores_name]
        if boxes.ndim != 3 or boxes.shape[0] != 1 or boxes.shape[2] != 4 \
                or scores.shape != boxes.shape[:2]:
            raise ValueError(
                f'{self.model!r} returned {boxes_name} {boxes.shape} and '
                f'{scores_name} {scores.shape}; expected (1, P, 4) and '
                '(1, P)')
        cfg = self.postprocess_cfg
        boxes, scores = boxes[0], scores[0]
        keep = np.flatnonzero(scores >= self.score_thr)
        # MMDetection keeps the best nms_pre candidates before NMS
        keep = keep[np.argsort(-scores[keep], kind='stable')]
        if cfg['nms_pre'] is not None and cfg['nms_pre'] >= 0:
            keep = keep[:cfg['nms_pre']]
        # MMDetection scales boxes back to the frame before NMS
        boxes = boxes[keep].astype(np.float64) / np.tile(scale, 2)
        if cfg['min_bbox_size'] is not None and cfg['min_bbox_size'] >= 0:
            wide = (boxes[:, 2] - boxes[:, 0] > cfg['min_bbox_size']) & (
                boxes[:, 3] - boxes[:, 1] > cfg['min_bbox_size'])
            boxes, keep = boxes[wide], keep[wide]
        return boxes, scores[keep], keep

    def nms(self, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The indices of the candidates that the file's NMS and cap on
        boxes keep (all, where the file has no NMS)."""
        cfg = self.postprocess_cfg
        if cfg['iou_thr'] is None:
            return np.arange(len(boxes))
        max_num = cfg['max_per_img']
        return box_nms(boxes, scores, cfg['iou_thr'],
                       -1 if max_num is None else max_num)

    def _exported_dets(self, outputs: dict,
                       scale: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        boxes, scores, _ = self.candidates(outputs, scale)
        keep = self.nms(boxes, scores)
        return boxes[keep], scores[keep]

    def __call__(self, image: np.ndarray,
                 image_id: Optional[int] = None) -> Boxes:
        inputs, scale = self.preprocess(image)
        outputs = dict(zip(self.backend.output_names,
                           self.backend.run(inputs)))
        if self.format == 'mmdeploy':
            boxes, scores = self._mmdeploy_dets(outputs)
            boxes /= np.tile(scale, 2)
        else:
            boxes, scores = self._exported_dets(outputs, scale)
        dets = np.concatenate([boxes, scores[:, None]], axis=1)
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

"""Export an MMDetection person detector to ONNX, without MMDeploy.

MMDeploy 1.3.1 cannot export detectors with torch >= 2.6 (its rewriters
break under the dynamo exporter, and its wheel pins an old protobuf), so
this module exports the network itself with the TorchScript exporter:
backbone, neck, the head's multi-level forward, the priors (constants of
the fixed input size), the head's own box decoding and the sigmoid of the
person score. The graph has one input ``'input'`` (1, 3, H, W) and two
outputs, ``'boxes'`` (1, P, 4) as (x1, y1, x2, y2) in the input's pixels
and ``'scores'`` (1, P), the person score of each of the P priors. The
rest of MMDetection's ``predict`` (score threshold, pre-NMS top-k, scaling
back to the frame, NMS, the cap on boxes) runs in the runtime
(:class:`mmpose_light_runtime.OnnxDetector`), in numpy: on one person class
NMS is a small loop (see ``docs/detectors.md`` for the measurement).

Everything the runtime needs (input size, letterbox, mean/std, channel
order, score threshold, NMS settings) is embedded as JSON under
:data:`mmpose_light_runtime.meta.DETECTOR_META_KEY`. COCO detectors of 80
classes keep only the person label.

Heads: RTMDet's (``RTMDetHead`` and its subclasses, such as
``RTMDetSepBNHead``) and YOLOX's (``YOLOXHead``). For YOLOX, as in its
``predict``, a prior is a person only where the person class has its best
class score; its score is that class score times the objectness.
"""
import inspect
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from torch import Tensor, nn

from mmpose_light_runtime.checks import check_number, is_int
from mmpose_light_runtime.detectors import OnnxDetector
from mmpose_light_runtime.fileio import AtomicFile, list_images, read_image
from mmpose_light_runtime.meta import (DETECTOR_META_KEY,
                                       DETECTOR_META_VERSION, embed_onnx_meta,
                                       nested_get, to_builtin)

__all__ = [
    'export_detector', 'init_person_detector', 'build_detector_meta',
    'person_label', 'check_detector', 'DETECTOR_REL_TOL'
]

#: The default bound on the relative error of the exported detector's boxes
#: and scores against MMDetection's (see :func:`check_detector`).
DETECTOR_REL_TOL = 1e-3

#: The names of the graph's outputs.
OUTPUT_NAMES = ('boxes', 'scores')

# The candidate limits of MMDetection's test_cfg lifted for the check: MMDet
# applies them over all classes, the export to persons only.
_NO_LIMIT = 10**9


def _head_kind(head: nn.Module) -> str:
    from mmdet.models.dense_heads import RTMDetHead, YOLOXHead

    if isinstance(head, RTMDetHead):
        return 'rtmdet'
    if isinstance(head, YOLOXHead):
        return 'yolox'
    raise ValueError(
        f'the detector\'s head is {type(head).__name__}; the export '
        'supports RTMDet heads (RTMDetHead, RTMDetSepBNHead) and YOLOXHead')


def _check_detector(model: Any) -> nn.Module:
    """The model's box head; a clear error for anything else."""
    try:
        from mmdet.models.detectors import SingleStageDetector
    except ImportError:
        raise ImportError('exporting a detector needs MMDetection (mmdet '
                          '3.x), which is not installed') from None
    if not isinstance(model, SingleStageDetector):
        raise TypeError('`model` should be an MMDetection single-stage '
                        'detector (RTMDet, YOLOX), but got '
                        f'{type(model).__name__}')
    _head_kind(model.bbox_head)
    return model.bbox_head


def init_person_detector(config: Any,
                         checkpoint: Optional[str] = None,
                         device: str = 'cpu',
                         cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a detector with :func:`mmdet.apis.init_detector`, after
    checking that the config is one this module exports.

    Args:
        config (str | Config): An MMDetection config.
        checkpoint (str, optional): Its checkpoint. Defaults to None
            (random weights).
        device (str): Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides of the config.
            Defaults to None.

    Returns:
        nn.Module: The detector, with ``cfg``.

    Raises:
        ValueError: If the config's model is not a single-stage
            MMDetection detector, or its head is not supported.
    """
    from mmdet.apis import init_detector
    from mmdet.models.detectors import SingleStageDetector
    from mmdet.registry import MODELS
    from mmengine.registry import DefaultScope

    cfg = config if isinstance(config, Config) else Config.fromfile(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    model_type = nested_get(cfg, 'model', 'type')
    head_type = nested_get(cfg, 'model', 'bbox_head', 'type')
    with DefaultScope.overwrite_default_scope('mmdet'):
        model_cls = MODELS.get(model_type) if isinstance(
            model_type, str) else None
    if model_cls is None or not issubclass(model_cls, SingleStageDetector):
        raise ValueError(
            f'{getattr(cfg, "filename", None) or "the config"!r} is not an '
            'MMDetection single-stage detector config (RTMDet, YOLOX): its '
            f'model is {model_type!r}')
    if head_type is None or str(head_type).split('.')[-1] not in (
            'RTMDetHead', 'RTMDetSepBNHead', 'YOLOXHead'):
        raise ValueError(f'the detector\'s head is {head_type!r}; the export '
                         'supports RTMDetHead, RTMDetSepBNHead and YOLOXHead')
    return init_detector(cfg, checkpoint, device=device)


def person_label(model: nn.Module) -> int:
    """The label of the person class of a detector.

    The class names are ``model.dataset_meta['classes']`` (the
    checkpoint's), else, where those do not match the head's number of
    classes (MMDetection falls back to COCO's 80 names for a checkpoint
    without them), the config's ``test_dataloader.dataset.metainfo``.

    Raises:
        ValueError: If no class names match the head, or none is
            ``'person'``.
    """
    num_classes = int(model.bbox_head.num_classes)
    candidates = [
        (getattr(model, 'dataset_meta', None) or {}).get('classes'),
        nested_get(getattr(model, 'cfg', None), 'test_dataloader',
                   'dataset', 'metainfo', 'classes')
    ]
    for classes in candidates:
        if classes and len(classes) == num_classes:
            break
    else:
        raise ValueError(
            f'the detector\'s head predicts {num_classes} classes, but '
            'neither its checkpoint (dataset_meta) nor its config '
            '(test_dataloader.dataset.metainfo) names as many, so its '
            'person label is unknown')
    names = [str(name).lower() for name in classes]
    if 'person' not in names:
        shown = list(classes)[:10]
        raise ValueError(f'the detector has no person class: its '
                         f'{len(names)} classes are {shown}'
                         f'{" ..." if len(names) > 10 else ""}')
    return names.index('person')


def _letterbox(cfg: Config,
               input_size: Optional[Tuple[int, int]]) -> Dict[str, Any]:
    """Input size and padding of the config's test pipeline, and the
    pipeline for that size.

    The runtime letterboxes: MMCV's ``Resize(keep_ratio=True)`` to fit
    (w, h), then ``Pad`` at the bottom and right to (w, h), either
    ``size=(w, h)`` or ``pad_to_square`` with w == h. Other pipelines are
    refused.
    """
    pipeline = nested_get(cfg, 'test_dataloader', 'dataset', 'pipeline')
    if not pipeline:
        raise ValueError('the detector config has no '
                         'test_dataloader.dataset.pipeline')
    pipeline = [dict(t) for t in pipeline]
    types = [str(t.get('type', '')).split('.')[-1] for t in pipeline]
    resizes = [i for i, name in enumerate(types) if name == 'Resize']
    pads = [i for i, name in enumerate(types) if name == 'Pad']
    if len(resizes) != 1 or len(pads) != 1 or pads[0] < resizes[0]:
        raise ValueError(f'the detector\'s test pipeline {types} is not a '
                         'letterbox (one Resize then one Pad); the runtime '
                         'reproduces only that')
    resize, pad = pipeline[resizes[0]], pipeline[pads[0]]
    if not resize.get('keep_ratio', False) or 'scale' not in resize:
        raise ValueError(f'the test pipeline\'s Resize {resize} should keep '
                         'the aspect ratio (keep_ratio=True) with a scale')
    scale = resize['scale']
    scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
    if input_size is None:
        input_size = scale
    width, height = (int(v) for v in input_size)
    if width != height or width < 1:
        raise ValueError(f'the input size {(width, height)} should be square '
                         '(MMCV\'s keep-ratio resize fits the longer side to '
                         'the longer edge of the scale, whatever the '
                         'orientation)')
    if pad.get('size') is None and not pad.get('pad_to_square', False):
        raise ValueError(f'the test pipeline\'s Pad {pad} should pad to a '
                         'fixed size or to a square')
    pad_val = pad.get('pad_val', dict(img=0))
    if isinstance(pad_val, dict):
        pad_val = pad_val.get('img', 0)
    if isinstance(pad_val, (list, tuple)):
        if len(set(pad_val)) != 1:
            raise ValueError(f'the test pipeline pads with {pad_val}; the '
                             'runtime pads every channel alike')
        pad_val = pad_val[0]
    resize['scale'] = (width, height)
    if pad.get('size') is not None:
        pad['size'] = (width, height)
    pipeline[resizes[0]], pipeline[pads[0]] = resize, pad
    return dict(input_size=(width, height), pad_value=float(pad_val),
                pipeline=pipeline)


def build_detector_meta(model: nn.Module,
                        input_size: Tuple[int, int],
                        pad_value: float,
                        score_thr: float,
                        meta: Optional[dict] = None) -> Dict[str, Any]:
    """What the runtime needs about an exported detector.

    Args:
        model (nn.Module): The MMDetection detector.
        input_size (tuple[int, int]): The network input (w, h).
        pad_value (float): The letterbox's padding value.
        score_thr (float): The default score threshold of person boxes.
        meta (dict, optional): Extra entries, stored under ``'extra'``.
            Defaults to None.

    Returns:
        dict: JSON-serialisable metadata; see
        :func:`mmpose_light_runtime.meta.parse_detector_meta`.
    """
    head = model.bbox_head
    preprocessor = model.data_preprocessor
    normalize = bool(getattr(preprocessor, '_enable_normalize', False))
    test_cfg = head.test_cfg or {}
    nms = nested_get(test_cfg, 'nms') or {}
    if nms and str(nms.get('type', 'nms')) != 'nms':
        raise ValueError(f'the detector\'s NMS is {nms}; the runtime does '
                         "plain NMS (type='nms')")
    min_size = nested_get(test_cfg, 'min_bbox_size')
    return dict(
        version=DETECTOR_META_VERSION,
        input_name='input',
        output_names=list(OUTPUT_NAMES),
        input_size=[int(v) for v in input_size],
        preprocess=dict(
            resize='keep_ratio',
            pad='bottom_right',
            pad_value=float(pad_value),
            mean=preprocessor.mean.flatten().tolist() if normalize else None,
            std=preprocessor.std.flatten().tolist() if normalize else None,
            to_rgb=bool(getattr(preprocessor, '_channel_conversion',
                                False))),
        postprocess=dict(
            score_thr=float(score_thr),
            nms_pre=to_builtin(nested_get(test_cfg, 'nms_pre')),
            iou_thr=float(nms['iou_threshold']) if nms else None,
            max_per_img=to_builtin(nested_get(test_cfg, 'max_per_img')),
            # MMDetection filters box sizes only where min_bbox_size >= 0
            min_bbox_size=None
            if min_size is None or min_size < 0 else float(min_size)),
        model=dict(
            type=type(model).__name__,
            head=type(head).__name__,
            num_classes=int(head.num_classes),
            person_label=person_label(model)),
        extra=to_builtin(meta) if meta is not None else None)


class _PersonBoxes(nn.Module):
    """The detector's network, priors and box decoding at a fixed input
    size: ``inputs`` (1, 3, H, W) -> boxes (1, P, 4), person scores
    (1, P)."""

    def __init__(self, model: nn.Module, input_size: Tuple[int, int],
                 label: int) -> None:
        super().__init__()
        self.model = model
        self.kind = _head_kind(model.bbox_head)
        self.label = label
        width, height = input_size
        head = model.bbox_head
        with torch.no_grad():
            outputs = head(
                model.extract_feat(
                    torch.zeros(1, 3, height, width,
                                device=next(model.parameters()).device)))
        sizes = [score.shape[2:] for score in outputs[0]]
        priors = head.prior_generator.grid_priors(
            sizes,
            dtype=torch.float32,
            device=next(model.parameters()).device,
            with_stride=self.kind == 'yolox')
        self.register_buffer('priors', torch.cat(priors), persistent=False)
        # the decoder clips boxes to MMDetection's img_shape, which Pad sets
        # to the padded (input) size
        self.max_shape = (height, width)

    @staticmethod
    def _flatten(maps: Sequence[Tensor], channels: int) -> Tensor:
        return torch.cat([
            m.permute(0, 2, 3, 1).reshape(m.shape[0], -1, channels)
            for m in maps
        ], dim=1)

    def forward(self, inputs: Tensor) -> Tuple[Tensor, Tensor]:
        head = self.model.bbox_head
        outputs = head(self.model.extract_feat(inputs))
        cls_scores = self._flatten(outputs[0], head.cls_out_channels)
        bbox_preds = self._flatten(outputs[1], 4)
        if self.kind == 'yolox':
            objectness = self._flatten(outputs[2], 1)[..., 0].sigmoid()
            probs = cls_scores.sigmoid()
            person = probs[..., self.label]
            # YOLOX labels a prior with its best class only. best - person
            # lies in [0, 1], so 1 - ceil(best - person) is 1 where person
            # is the best and 0 elsewhere, exactly as person >= best; in
            # that form ncnn runs it too (it has no comparison operator)
            best = probs.max(dim=-1).values
            scores = person * objectness * (1 - torch.ceil(best - person))
            boxes = head._bbox_decode(self.priors, bbox_preds)
        else:
            scores = cls_scores[..., self.label].sigmoid()
            # MMDet's decode clips to max_shape, but its export branch
            # imports the long-gone mmdet.core: decode, then clip alike
            boxes = head.bbox_coder.decode(self.priors[None], bbox_preds)
            height, width = self.max_shape
            boxes = torch.stack([
                boxes[..., 0].clamp(0, width), boxes[..., 1].clamp(0, height),
                boxes[..., 2].clamp(0, width), boxes[..., 3].clamp(0, height)
            ], -1)
        return boxes, scores


class _NmsSpy:
    """Stands in for the ``batched_nms`` of the module of a head's
    ``_bbox_post_process`` and records MMDetection's candidates before NMS
    and the indices NMS keeps."""

    def __init__(self, head: nn.Module) -> None:
        self.module = inspect.getmodule(type(head)._bbox_post_process)
        self.original = self.module.batched_nms
        self.calls = []

    def __call__(self, boxes, scores, idxs, nms_cfg, *args, **kwargs):
        dets, keep = self.original(boxes, scores, idxs, nms_cfg, *args,
                                   **kwargs)
        self.calls.append((boxes, scores, idxs, keep))
        return dets, keep

    def __enter__(self) -> '_NmsSpy':
        self.module.batched_nms = self
        return self

    def __exit__(self, *exc) -> None:
        self.module.batched_nms = self.original


def _mmdet_candidates(model: nn.Module, pipeline, image: np.ndarray,
                      label: int
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MMDetection's own inference up to NMS, persons only: the candidate
    boxes (in the image) and scores it gives its NMS, and the indices of
    those NMS keeps."""
    data = pipeline(dict(img=image, img_id=0))
    data = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    with _NmsSpy(model.bbox_head) as spy, torch.no_grad():
        model.test_step(data)
    if not spy.calls:  # no candidate: MMDetection skips NMS
        return np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64)
    boxes, scores, labels, keep = spy.calls[-1]
    person = (labels == label).cpu().numpy()
    # NMS is per class: the persons' kept indices among the persons
    index = np.cumsum(person) - 1
    keep = keep.cpu().numpy()
    return (boxes.double().cpu().numpy()[person],
            scores.double().cpu().numpy()[person],
            index[keep[person[keep]]])


def _match_candidates(ours: Tuple[np.ndarray, np.ndarray],
                      reference: Tuple[np.ndarray, np.ndarray],
                      score_thr: float, rel_tol: float) -> Dict[str, Any]:
    """Pair two sets of candidates one to one, each with a box and score
    near its own.

    A candidate of one set only is allowed where its score lies within
    ``rel_tol`` of the threshold (either engine may round it across);
    any other is an error. Pairs are found by score (within ``rel_tol``),
    then by the nearest box.

    Returns:
        dict: ``box_rel_err`` (``max|ours - mmdet| / max|mmdet|`` over the
        pairs), ``score_rel_err`` (likewise) and ``threshold_flips``.
    """
    boxes, scores = ours
    ref_boxes, ref_scores = reference
    scale = max(np.abs(ref_boxes).max() if len(ref_boxes) else 0., 1.)
    order = np.argsort(ref_scores, kind='stable')
    sorted_scores = ref_scores[order]
    used = np.zeros(len(ref_boxes), bool)
    pairs = []
    unmatched = []
    for i in np.argsort(-scores, kind='stable'):
        low = np.searchsorted(sorted_scores, scores[i] - rel_tol, 'left')
        high = np.searchsorted(sorted_scores, scores[i] + rel_tol, 'right')
        window = order[low:high]
        window = window[~used[window]]
        if not len(window):
            unmatched.append(('ours', scores[i]))
            continue
        cost = np.abs(ref_boxes[window] - boxes[i]).max(-1)
        j = window[cost.argmin()]
        used[j] = True
        pairs.append((i, j))
    unmatched += [('MMDetection', ref_scores[j])
                  for j in np.flatnonzero(~used)]
    far = [(who, score) for who, score in unmatched
           if abs(score - score_thr) > rel_tol]
    if far:
        who, score = far[0]
        one, other = (('the export', 'MMDetection') if who == 'ours' else
                      ('MMDetection', 'the export'))
        raise RuntimeError(
            f'{len(far)} candidate person box(es) before NMS have no match: '
            f'{one} has one scored {score:.4f} that {other} lacks '
            f'(threshold {score_thr:g})')
    result = dict(box_rel_err=0., score_rel_err=0.,
                  threshold_flips=len(unmatched))
    if pairs:
        i, j = (np.array(v) for v in zip(*pairs))
        result['box_rel_err'] = float(
            np.abs(boxes[i] - ref_boxes[j]).max() / scale)
        result['score_rel_err'] = float(
            np.abs(scores[i] - ref_scores[j]).max() /
            max(np.abs(ref_scores).max(), 1e-12))
    return result


def _ill_conditioned(model: nn.Module, label: int,
                     detector: OnnxDetector, inputs: np.ndarray,
                     outputs: Dict[str, np.ndarray]) -> str:
    """Where the network itself turns float32's rounding into differences
    beyond the check's bound (PyTorch's own float32 boxes or scores differ
    from its float64 ones by more than ``DETECTOR_REL_TOL``), say so; else
    nothing, and the failure stands as it is.

    Measured on RTMDet-tiny with random weights and BatchNorm statistics
    from noise: activations of 2e5 on a sample image, PyTorch's float32
    boxes 0.9 px from its float64 ones, ONNX Runtime's 71 px.
    """
    import copy

    width, height = detector.input_size
    network = _PersonBoxes(model, (width, height), label).eval()
    network64 = copy.deepcopy(network).double()
    network64.priors = network64.priors.double()
    with torch.no_grad():
        single = [t.double().numpy()[0]
                  for t in network(torch.from_numpy(inputs))]
        double = [t.numpy()[0]
                  for t in network64(torch.from_numpy(inputs).double())]
    scale = max(float(np.abs(double[0]).max()), 1.)
    box_err = float(np.abs(single[0] - double[0]).max())
    score_err = float(np.abs(single[1] - double[1]).max())
    if box_err / scale <= DETECTOR_REL_TOL and score_err <= DETECTOR_REL_TOL:
        return ''
    ours = [outputs[name][0] for name in detector.output_names]
    return (f'. This network is ill-conditioned: PyTorch\'s own float32 '
            f'boxes differ from its float64 ones by up to {box_err:.3g} px '
            f'and its scores by {score_err:.3g} (the export\'s by '
            f'{float(np.abs(ours[0] - double[0]).max()):.3g} px and '
            f'{float(np.abs(ours[1] - double[1]).max()):.3g}): float32 '
            'rounding that its weights amplify (random weights with '
            'BatchNorm statistics that do not fit the images do), not a '
            'flip at a threshold')


def _nms_as_mmdet(detector: OnnxDetector, boxes: np.ndarray,
                  scores: np.ndarray, mmdet_keep: np.ndarray) -> np.ndarray:
    """The runtime's NMS on MMDetection's candidates, with candidates of
    equal score visited in MMDetection's order.

    Scores of random or saturated networks tie exactly (a sigmoid rounds
    to 1.0 in float32), and NMS keeps the first of two tied, overlapping
    boxes it visits: MMDetection's sort does not say which comes first.
    Here the ones it kept come first, in its order; any other difference
    between the two NMS shows.

    Returns:
        np.ndarray: Indices of the kept candidates.
    """
    rank = np.full(len(boxes), len(boxes))
    rank[mmdet_keep] = np.arange(len(mmdet_keep))
    order = np.lexsort((rank, -scores))
    # strictly decreasing stand-in scores: the NMS visits in this order
    keep = detector.nms(boxes[order], -np.arange(len(order), dtype=float))
    return order[keep]


def check_detector(onnx_file: str,
                   model: nn.Module,
                   images: Sequence[str],
                   pipeline: List[dict],
                   num_threads: Optional[int] = None,
                   rel_tol: float = DETECTOR_REL_TOL) -> Dict[str, Any]:
    """Compare the runtime's person boxes with MMDetection's, in a way that
    rounding cannot flip.

    MMDetection's ``test_step`` runs on the same test pipeline, with the
    file's score threshold and without the limits on candidates
    (``nms_pre``, ``max_per_img``: MMDetection applies them over all
    classes, the export to persons only); its NMS is watched, so that its
    candidates before NMS and the ones NMS keeps are known. Then:

    1. the candidates: the runtime's person boxes before NMS
       (:meth:`~mmpose_light_runtime.OnnxDetector.candidates`) and
       MMDetection's are paired one to one; the relative error of boxes is
       ``max|ours - mmdet| / max|mmdet|``, likewise for scores. A
       candidate of one side only is allowed where its score lies within
       ``rel_tol`` of the threshold (``threshold_flips``); any other fails.
       A wrong box, score, decoding or letterbox fails here.
    2. NMS on identical inputs: the runtime's NMS on MMDetection's
       candidates must keep exactly the boxes MMDetection's NMS kept
       (candidates of exactly equal scores visited in MMDetection's order,
       :func:`_nms_as_mmdet`).

    Comparing the final boxes instead would fail on near-tied scores or
    overlaps: one flip changes what NMS keeps after it.

    Args:
        onnx_file (str): The exported file.
        model (nn.Module): The detector it was exported from.
        images (Sequence[str]): Image files.
        pipeline (list[dict]): MMDetection's test pipeline, at the export's
            input size.
        num_threads (int, optional): ONNX Runtime threads.
            Defaults to None.
        rel_tol (float): How far from the threshold a score may be to be
            a candidate on one side only, and the window of scores in which
            candidates are paired. Defaults to ``1e-3``.

    Returns:
        dict: ``boxes`` (the person boxes MMDetection keeps over the
        images), ``candidates`` (before NMS), ``threshold_flips``,
        ``box_rel_err`` and ``score_rel_err``, the largest over the
        images.

    Raises:
        RuntimeError: If candidates do not pair, or NMS keeps other boxes.
    """
    from mmcv.transforms import Compose
    from mmengine.registry import DefaultScope

    detector = OnnxDetector(onnx_file, num_threads=num_threads)
    for key in ('nms_pre', 'max_per_img'):
        detector.postprocess_cfg[key] = None
    label = person_label(model)
    head = model.bbox_head
    saved_cfg = head.test_cfg
    test_cfg = ConfigDict(saved_cfg or {})
    test_cfg.update(score_thr=detector.score_thr)
    for key in ('nms_pre', 'max_per_img'):
        if key in test_cfg:
            test_cfg[key] = _NO_LIMIT
    pipeline = [dict(t) for t in pipeline]
    pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
    summary = dict(boxes=0, candidates=0, threshold_flips=0,
                   box_rel_err=0., score_rel_err=0.)
    head.test_cfg = test_cfg
    try:
        with DefaultScope.overwrite_default_scope('mmdet'):
            transform = Compose(pipeline)
        for path in images:
            image = read_image(path)
            inputs, scale = detector.preprocess(image)
            outputs = dict(zip(detector.backend.output_names,
                               detector.backend.run(inputs)))
            boxes, scores, _ = detector.candidates(outputs, scale)
            ref_boxes, ref_scores, ref_keep = _mmdet_candidates(
                model, transform, image, label)
            try:
                match = _match_candidates((boxes, scores),
                                          (ref_boxes, ref_scores),
                                          detector.score_thr, rel_tol)
                keep = _nms_as_mmdet(detector, ref_boxes, ref_scores,
                                     ref_keep)
                if sorted(keep.tolist()) != sorted(ref_keep.tolist()):
                    raise RuntimeError(
                        f'on MMDetection\'s own {len(ref_boxes)} candidate '
                        f'person boxes, the runtime\'s NMS keeps {len(keep)} '
                        f'and MMDetection\'s {len(ref_keep)}, '
                        f'{len(set(keep.tolist()) ^ set(ref_keep.tolist()))}'
                        ' of them different')
            except RuntimeError as error:
                raise RuntimeError(
                    f'{path!r}: {error}' +
                    _ill_conditioned(model, label, detector, inputs,
                                     outputs)) from None
            summary['boxes'] += len(ref_keep)
            summary['candidates'] += len(ref_boxes)
            summary['threshold_flips'] += match['threshold_flips']
            for key in ('box_rel_err', 'score_rel_err'):
                summary[key] = max(summary[key], match[key])
    finally:
        head.test_cfg = saved_cfg
    return summary


def export_detector(model: nn.Module,
                    out_file: str,
                    images: Optional[Sequence[str]] = None,
                    input_size: Optional[Tuple[int, int]] = None,
                    score_thr: float = 0.3,
                    opset_version: int = 17,
                    rel_tol: float = DETECTOR_REL_TOL,
                    meta: Optional[dict] = None) -> Dict[str, Any]:
    """Export a person detector for the runtime and check it.

    The file is written atomically: the graph goes to a temporary file next
    to ``out_file``, which replaces it only once the export and the check
    succeeded; on any failure nothing is left behind and an older
    ``out_file`` stays as it was.

    Args:
        model (nn.Module): An MMDetection RTMDet or YOLOX detector with
            ``cfg`` (as :func:`mmdet.apis.init_detector` builds it) and a
            ``'person'`` class. It is not modified.
        out_file (str): The ONNX file to write.
        images (Sequence[str], optional): Images (or folders of them) on
            which the runtime's person boxes are compared with
            MMDetection's (:func:`check_detector`); the export fails when
            a box or score differs by more than ``rel_tol`` or the numbers
            of boxes differ. Defaults to None: no check.
        input_size (tuple[int, int], optional): The network input (w, h),
            square. Defaults to the test pipeline's ``Resize`` scale.
        score_thr (float): The default threshold of person boxes in the
            runtime (MMDetection's ``test_cfg.score_thr`` is an
            evaluation setting, far lower). Defaults to 0.3.
        opset_version (int): ONNX opset. Defaults to 17.
        rel_tol (float): The largest relative error the check accepts.
            Defaults to ``1e-3``.
        meta (dict, optional): Extra JSON-serialisable entries to embed.
            Defaults to None.

    Returns:
        dict: ``meta``, the embedded metadata, and ``check``,
        :func:`check_detector`'s result (None without images).

    Raises:
        TypeError: If ``model`` is not a single-stage MMDetection detector.
        ValueError: If its head is not supported, it has no person class,
            its test pipeline is not a letterbox, or an argument is bad.
        RuntimeError: If the check fails.
    """
    _check_detector(model)
    label = person_label(model)
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('the detector has no `cfg` (build it with '
                         'mmdet.apis.init_detector), so its test pipeline '
                         'is unknown')
    if input_size is not None and (
            not isinstance(input_size, (list, tuple)) or len(input_size) != 2
            or not all(is_int(v, 1) for v in input_size)):
        raise ValueError('`input_size` should be two positive ints (w, h), '
                         f'but got {input_size!r}')
    check_number('`score_thr`', score_thr, 0, 1)
    check_number('`rel_tol`', rel_tol, 0, 1, low_open=True)
    letterbox = _letterbox(cfg, input_size)
    image_files = list_images(images)
    out_file = os.fspath(out_file)
    if not osp.isdir(osp.dirname(osp.abspath(out_file))):
        raise ValueError(f'the folder of `out_file` {out_file!r} does not '
                         'exist')
    width, height = letterbox['input_size']
    deploy_meta = build_detector_meta(model, (width, height),
                                      letterbox['pad_value'], score_thr, meta)

    was_training = model.training
    model.eval()
    network = _PersonBoxes(model, (width, height), label).eval()
    dummy = torch.zeros(1, 3, height, width)
    try:
        output = AtomicFile(out_file)
        try:
            with torch.no_grad():
                torch.onnx.export(network, (dummy, ),
                                  output.tmp,
                                  input_names=['input'],
                                  output_names=list(OUTPUT_NAMES),
                                  opset_version=opset_version,
                                  do_constant_folding=True,
                                  dynamo=False)
            embed_onnx_meta(output.tmp, deploy_meta, DETECTOR_META_KEY)
            check = None
            if image_files:
                check = check_detector(output.tmp, model, image_files,
                                       letterbox['pipeline'],
                                       rel_tol=rel_tol)
                worst = max(check['box_rel_err'], check['score_rel_err'])
                if not worst <= rel_tol:
                    raise RuntimeError(
                        'the exported detector and MMDetection differ: '
                        f'box relative error {check["box_rel_err"]:.3g}, '
                        f'score relative error '
                        f'{check["score_rel_err"]:.3g} > {rel_tol:g}; '
                        f'{out_file!r} was not written')
            output.commit()
        finally:
            output.discard()
    finally:
        model.train(was_training)
    return dict(meta=deploy_meta, check=check)

"""Top-down pose estimation on person boxes, from an exported model file.

:class:`TopdownEstimator` reproduces MMPose's test-time top-down pipeline
(``inference_topdown``) in numpy and OpenCV, with every setting read from
the model file's metadata (:mod:`mmpose_light_runtime.meta`):

1. boxes to center and scale, as ``GetBBoxCenterScale``;
2. the scale widened to the input's aspect ratio and the crop warped, as
   ``TopdownAffine``;
3. channel swap and ``(x - mean) / std``, as the data preprocessor;
4. the network, all crops of the image in one batch (with the flip test,
   the crops and their mirror images in one batch of twice the size);
5. flip-test merging and decoding as the head and its codec;
6. keypoints back to image coordinates, as ``add_pred_to_datasample``;
7. pose scores and areas as ``CocoMetric`` takes them (:func:`make_result`).
"""
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .backends import create_backend
from .codecs import decode_outputs, merge_flipped_outputs, rescore_poses
from .meta import parse_meta
from .preprocess import (bbox_xyxy_to_center_scale, check_bboxes,
                         crop_instances, fix_aspect_ratio, normalize_crops,
                         pose_areas)
from .structures import PoseResult

__all__ = ['TopdownEstimator', 'make_result']


class TopdownEstimator:
    """Estimate the pose in person boxes with an exported model.

    Example:
        >>> from mmpose_light_runtime import TopdownEstimator, read_image
        >>> estimator = TopdownEstimator('rtmpose-t.onnx', flip_test=True)
        >>> result = estimator.predict(read_image('a.jpg'),
        ...                            [[10, 20, 110, 300]])
        >>> result.keypoints.shape
        (1, 17, 2)

    Args:
        model (str): A model file written by ``tools/export_onnx.py``,
            float or quantized, or its ncnn conversion
            (``tools/export_ncnn.py``).
        backend (str, optional): Inference engine: ``'onnxruntime'``,
            ``'openvino'`` or ``'ncnn'`` (a key of
            :data:`mmpose_light_runtime.backends.BACKENDS`). Defaults to
            None: ``'ncnn'`` for an ncnn model (``.ncnn.param``), else
            ``'onnxruntime'``.
        num_threads (int, optional): The engine's intra-op threads.
            Defaults to None (the engine's choice).
        flip_test (bool): Average each crop's output with that of its
            mirror image, as MMPose's ``flip_test=True``. Defaults to False.

    Attributes:
        meta (dict): The model's pipeline settings.
        backend (Backend): The loaded model.
    """

    def __init__(self,
                 model: str,
                 backend: Optional[str] = None,
                 num_threads: Optional[int] = None,
                 flip_test: bool = False) -> None:
        self.backend = create_backend(backend, model, num_threads)
        self.meta = parse_meta(self.backend.metadata, str(model))
        self.flip_test = bool(flip_test)
        width, height = self.input_size
        shape = self.backend.input_shape
        if list(shape[1:]) != [3, height, width]:
            raise ValueError(
                f'{model!r}: the model input {self.backend.input_name!r} has '
                f'shape {shape}, but its metadata expects (N, 3, {height}, '
                f'{width})')
        missing = set(self.meta['output_names']) - set(
            self.backend.output_names)
        if missing:
            raise ValueError(f'{model!r} lacks the outputs {sorted(missing)} '
                             'its metadata names')
        if self.flip_test and 'flip_indices' not in self.dataset_meta:
            raise ValueError(f'{model!r}: flip test needs the keypoints\' '
                             'flip_indices, which its metadata lacks')
        self._output_index = [
            self.backend.output_names.index(name)
            for name in self.meta['output_names']
        ]
        self.num_keypoints = self._num_keypoints()

    def _num_keypoints(self) -> int:
        indices = self.meta.get('output_keypoint_indices')
        if indices is not None:
            return len(indices)
        if 'num_keypoints' in self.dataset_meta:
            return int(self.dataset_meta['num_keypoints'])
        # heatmaps (N, K, H, W), coords (N, K, D) and SimCC (N, K, W) all
        # have the keypoints on axis 1 (UDP combined maps: 3 per keypoint)
        shape = self.backend.run(
            np.zeros((1, 3) + self.input_size[::-1], np.float32))[
                self._output_index[0]].shape
        codec = self.meta['codec']
        if codec.get('heatmap_type') == 'combined':
            return shape[1] // 3
        return shape[1]

    @property
    def input_size(self) -> Tuple[int, int]:
        """The network input size (w, h)."""
        width, height = self.meta['input_size']
        return int(width), int(height)

    @property
    def dataset_meta(self) -> Dict[str, Any]:
        """Keypoint names, sigmas, flip indices, skeleton and colours."""
        return self.meta.get('dataset_meta') or {}

    @property
    def bbox_padding(self) -> float:
        """The box padding of the test pipeline."""
        return float(self.meta['preprocess']['bbox_padding'])

    def preprocess(
            self, image: np.ndarray,
            bboxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Crop and normalise the boxes of ``image``.

        Args:
            image (np.ndarray): BGR image. Shape (H, W, 3).
            bboxes (np.ndarray): Boxes (x1, y1, x2, y2). Shape (N, 4).

        Returns:
            tuple: network inputs (N, 3, h, w), centers (N, 2) and the
            aspect-fixed scales (N, 2).
        """
        pre = self.meta['preprocess']
        width, height = self.input_size
        centers, scales = bbox_xyxy_to_center_scale(bboxes,
                                                    pre['bbox_padding'])
        scales = fix_aspect_ratio(scales, width / height)
        crops = crop_instances(image, centers, scales, (width, height),
                               pre['use_udp'])
        inputs = normalize_crops(crops, pre['mean'], pre['std'],
                                 pre['swap_channels'])
        return inputs, centers, scales

    def infer(self, inputs: np.ndarray) -> List[np.ndarray]:
        """Run the network, with the flip test if enabled, and merge.

        Args:
            inputs (np.ndarray): Network inputs. Shape (N, 3, h, w).

        Returns:
            list[np.ndarray]: The outputs to decode, in the metadata's
            ``output_names`` order.
        """
        num = len(inputs)
        if self.flip_test:
            inputs = np.concatenate([inputs, inputs[..., ::-1]])
        outputs = self.backend.run(np.ascontiguousarray(inputs))
        outputs = [outputs[i] for i in self._output_index]
        if not self.flip_test:
            return outputs
        return merge_flipped_outputs([out[:num] for out in outputs],
                                     [out[num:] for out in outputs],
                                     self.meta)

    def decode(self, outputs: List[np.ndarray], centers: np.ndarray,
               scales: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Decode network outputs to keypoints in image coordinates.

        Args:
            outputs (list[np.ndarray]): The outputs of :meth:`infer`.
            centers (np.ndarray): Crop centers. Shape (N, 2).
            scales (np.ndarray): Crop sizes. Shape (N, 2).

        Returns:
            tuple: keypoints (N, K, 2) and keypoint scores (N, K), float32.
        """
        keypoints, scores = decode_outputs(
            outputs, self.meta, merged=self.flip_test)
        # input to image coordinates, as add_pred_to_datasample
        keypoints = (keypoints / np.array(self.input_size) * scales[:, None] +
                     centers[:, None] - 0.5 * scales[:, None])
        indices = self.meta.get('output_keypoint_indices')
        if indices is not None:
            keypoints = keypoints[:, indices]
            scores = scores[:, indices]
        return keypoints, scores

    def predict(self,
                image: np.ndarray,
                bboxes: np.ndarray,
                bbox_scores: Optional[np.ndarray] = None) -> PoseResult:
        """Estimate the pose in each box of ``image``; no NMS.

        Args:
            image (np.ndarray): BGR image (as ``cv2.imread`` reads it),
                ``uint8`` or ``float32``. Shape (H, W, 3).
            bboxes (np.ndarray): Person boxes (x1, y1, x2, y2); none is
                fine. Shape (N, 4).
            bbox_scores (np.ndarray, optional): Box scores. Shape (N, ).
                Defaults to None: ones.

        Returns:
            PoseResult: One pose per box, in box order, scored as
            ``CocoMetric``'s default ``score_mode='bbox_keypoint'``; empty
            (shapes (0, K, 2), ...) without boxes.
        """
        image = check_image(image)
        bboxes = check_bboxes(bboxes)
        bbox_scores = check_bbox_scores(bbox_scores, len(bboxes))
        if len(bboxes) == 0:
            return PoseResult.empty(self.num_keypoints)
        inputs, centers, scales = self.preprocess(image, bboxes)
        keypoints, keypoint_scores = self.decode(
            self.infer(inputs), centers, scales)
        return make_result(keypoints, keypoint_scores, bboxes, bbox_scores,
                           self.meta)


def make_result(keypoints: np.ndarray, keypoint_scores: np.ndarray,
                bboxes: np.ndarray, bbox_scores: np.ndarray,
                meta: Dict[str, Any]) -> PoseResult:
    """Untracked poses with the scores and areas ``CocoMetric`` gives them.

    Scores follow ``CocoMetric``'s default ``score_mode='bbox_keypoint'``
    (box score times the mean keypoint score above the metadata's
    ``keypoint_score_thr``: in [0, 1] for every head, so that one NMS
    threshold suits all); areas are :func:`pose_areas` of the boxes.

    Args:
        keypoints (np.ndarray): Image coordinates. Shape (N, K, 2).
        keypoint_scores (np.ndarray): Shape (N, K).
        bboxes (np.ndarray): Boxes (x1, y1, x2, y2). Shape (N, 4).
        bbox_scores (np.ndarray): Shape (N, ).
        meta (dict): The pipeline settings (``input_size``,
            ``preprocess.bbox_padding``, ``rescore``).

    Returns:
        PoseResult: The poses.
    """
    keypoints = keypoints.astype(np.float32)
    keypoint_scores = keypoint_scores.astype(np.float32)
    return PoseResult(
        keypoints=keypoints,
        keypoint_scores=keypoint_scores,
        bboxes=bboxes,
        bbox_scores=bbox_scores,
        scores=rescore_poses(keypoint_scores, bbox_scores, 'bbox_keypoint',
                             meta['rescore'].get('keypoint_score_thr', 0.2)),
        areas=pose_areas(bboxes, meta['input_size'],
                         meta['preprocess']['bbox_padding']),
        track_ids=np.full(len(bboxes), -1, dtype=np.int64))


def check_image(image: Any) -> np.ndarray:
    """Raise unless ``image`` is an (H, W, 3) uint8 or float32 array."""
    if not isinstance(image, np.ndarray):
        raise TypeError('`image` should be a BGR numpy array, but got '
                        f'{type(image)}')
    if image.ndim != 3 or image.shape[2] != 3 or 0 in image.shape:
        raise ValueError('`image` should have shape (H, W, 3), but got '
                         f'{image.shape}')
    if image.dtype not in (np.uint8, np.float32):
        raise TypeError('`image` should be uint8 or float32, but got '
                        f'{image.dtype}')
    return image


def check_bbox_scores(bbox_scores: Any, num: int) -> np.ndarray:
    """Box scores as float32 (ones when None), checked against N boxes."""
    if bbox_scores is None:
        return np.ones(num, dtype=np.float32)
    bbox_scores = np.asarray(bbox_scores, dtype=np.float32)
    if bbox_scores.shape != (num, ):
        raise ValueError(f'`bbox_scores` should have shape ({num},), but got '
                         f'{bbox_scores.shape}')
    if not np.isfinite(bbox_scores).all():
        raise ValueError(f'`bbox_scores` should be finite, but got '
                         f'{bbox_scores.tolist()}')
    return bbox_scores

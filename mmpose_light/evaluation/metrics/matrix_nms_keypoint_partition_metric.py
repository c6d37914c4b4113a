"""Body-part evaluation (``KeypointPartitionMetric``) with Matrix-OKS-NMS.

MMPose 1.3.2's ``KeypointPartitionMetric`` builds one metric per partition
of the keypoints, but accepts only the metric types of a fixed list, and
for ``CocoMetric`` it drops ``ann_file``: each partition then converts the
ground truth of the data samples (``raw_ann_info``), which top-down tests on
detected boxes do not carry, or, under ``tools/test.py``, loads the
dataset's whole annotation file from the ``MessageHub`` (as ``CocoMetric``
does) and compares a partition's keypoints with all of them.

:class:`MatrixNMSKeypointPartitionMetric` subclasses it, keeps its checks,
warnings, splitting of data samples and result naming, and:

- also wraps the ``CocoMetric`` subclasses, :class:`MatrixNMSCocoMetric`
  above all (``CocoWholeBodyMetric`` and its subclasses stay refused: they
  split keypoints themselves);
- gives each partition of a ``CocoMetric``-family metric its own slice of
  the annotation file (``ann_file`` of the wrapped metric, or the dataset's
  from the ``MessageHub``): the partition's keypoints, and ``num_keypoints``
  counted on them; without an annotation file the data samples' ground
  truth is converted, as in MMPose.

NMS, like the rescoring, then runs part by part on each partition's
keypoints and sigmas.
"""
import warnings
from copy import deepcopy
from typing import Optional, Sequence

import numpy as np
from mmengine.fileio import load
from mmengine.logging import MessageHub
from mmpose.evaluation.metrics import (CocoMetric, CocoWholeBodyMetric,
                                       KeypointPartitionMetric)
from mmpose.registry import METRICS
from xtcocotools.coco import COCO

__all__ = ['MatrixNMSKeypointPartitionMetric']


def _metric_class(metric: dict) -> type:
    if not isinstance(metric, dict) or 'type' not in metric:
        raise TypeError('`metric` should be a dict with a `type`, '
                        f'but got {metric!r}')
    metric_type = metric['type']
    cls = METRICS.get(metric_type) if isinstance(metric_type,
                                                 str) else metric_type
    if not isinstance(cls, type):
        raise ValueError(f'`metric` type {metric_type!r} is not registered '
                         'in METRICS')
    return cls


def partition_coco(dataset: dict, keypoint_ids: Sequence[int],
                   num_keypoints: int) -> COCO:
    """A COCO API object of the annotations restricted to some keypoints.

    Args:
        dataset (dict): A COCO-format annotation file's content, every
            annotation's ``'keypoints'`` holding all ``num_keypoints``.
        keypoint_ids (Sequence[int]): The keypoints kept, in order.
        num_keypoints (int): Keypoints of the dataset.

    Returns:
        COCO: The annotations with the kept keypoints and their
        ``num_keypoints``; images and categories unchanged.
    """
    annotations = []
    for ann in dataset['annotations']:
        if 'keypoints' in ann:
            kpts = np.asarray(ann['keypoints']).reshape(-1, 3)
            if len(kpts) != num_keypoints:
                raise ValueError(
                    f'annotation {ann.get("id")} has {len(kpts)} keypoints '
                    f"in 'keypoints', but the dataset has {num_keypoints}: "
                    'KeypointPartitionMetric needs all of them there '
                    '(COCO-WholeBody files keep the body only)')
            kpts = kpts[list(keypoint_ids)]
            # counted as KeypointPartitionMetric counts them
            ann = dict(ann,
                       keypoints=kpts.ravel().tolist(),
                       num_keypoints=int((kpts[:, 2] > 0).sum()))
        # as COCO() sets it when reading a file
        annotations.append(dict(ann, iscrowd=ann.get('iscrowd', False)))
    coco = COCO()
    coco.dataset = dict(dataset, annotations=annotations)
    coco.createIndex()
    return coco


@METRICS.register_module()
class MatrixNMSKeypointPartitionMetric(KeypointPartitionMetric):
    """``KeypointPartitionMetric`` that also wraps ``MatrixNMSCocoMetric``.

    Args:
        metric (dict): The metric to evaluate each partition with: one that
            MMPose's ``KeypointPartitionMetric`` accepts, or a ``CocoMetric``
            subclass such as ``MatrixNMSCocoMetric``. A ``CocoMetric``-family
            metric may keep its ``ann_file``: each partition is evaluated
            against that file's annotations restricted to its keypoints.
        partitions (dict): Partition name to its keypoint indices, e.g.
            ``dict(body=range(17), all=range(133))``.
    """

    def __init__(self, metric: dict, partitions: dict) -> None:
        metric_cls = _metric_class(metric)
        self.coco_family = issubclass(metric_cls, CocoMetric)
        if issubclass(metric_cls, CocoWholeBodyMetric) or \
                not self.coco_family:
            # MMPose's checks and errors, unchanged
            super().__init__(metric, partitions)
            self.ann_file = None
            return
        metric = deepcopy(metric)
        self.ann_file: Optional[str] = metric.pop('ann_file', None)
        nms_mode = metric.get('nms_mode', 'oks_nms')
        # MMPose's checks and warnings on the arguments CocoMetric has
        super().__init__(
            dict(type='CocoMetric',
                 score_mode=metric.get('score_mode', 'bbox_keypoint'),
                 nms_mode='none' if nms_mode == 'matrix_oks_nms' else
                 nms_mode), partitions)
        if nms_mode == 'matrix_oks_nms':
            warnings.warn('Matrix-OKS-NMS in KeypointPartitionMetric runs '
                          'part by part, on the keypoints of each partition')
        self.metrics = {}
        for name in partitions:
            part_metric = deepcopy(metric)
            if 'outfile_prefix' in part_metric:
                part_metric['outfile_prefix'] += '.' + name
            self.metrics[name] = METRICS.build(part_metric)

    @KeypointPartitionMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Set the dataset meta info, and each partition's annotations."""
        ann_file = self.ann_file
        if self.coco_family and ann_file is None:
            # where CocoMetric finds the dataset's annotation file
            ann_file = MessageHub.get_current_instance().get_info(
                f"{dataset_meta['dataset_name']}_ann_file", None)
        if self.coco_family and ann_file is not None:
            dataset = load(ann_file)
            for name, keypoint_ids in self.partitions.items():
                self.metrics[name].coco = partition_coco(
                    dataset, keypoint_ids, dataset_meta['num_keypoints'])
        KeypointPartitionMetric.dataset_meta.fset(self, dataset_meta)

"""COCO-WholeBody evaluation with Matrix-OKS-NMS.

``CocoWholeBodyMetric`` is a ``CocoMetric`` that writes the 133 keypoints
of a pose as its body, foot, face and hand parts and evaluates each part
and the whole body. Its NMS is CocoMetric's, over all 133 keypoints with
their sigmas; :class:`MatrixNMSCocoMetric` replaces it without touching
either class, so this one is their combination and nothing else:
``MatrixNMSCocoMetric.results2json`` applies Matrix-OKS-NMS and hands the
kept poses to ``CocoWholeBodyMetric.results2json``.
"""
from mmpose.evaluation.metrics import CocoWholeBodyMetric
from mmpose.registry import METRICS

from .matrix_nms_coco_metric import MatrixNMSCocoMetric

__all__ = ['MatrixNMSCocoWholeBodyMetric']


@METRICS.register_module()
class MatrixNMSCocoWholeBodyMetric(MatrixNMSCocoMetric, CocoWholeBodyMetric):
    """COCO-WholeBody pose evaluation metric with Matrix-OKS-NMS.

    Takes every argument of :class:`MatrixNMSCocoMetric` (which are
    ``CocoMetric``'s and the ``nms_*`` ones of Matrix-OKS-NMS) and evaluates
    as ``CocoWholeBodyMetric``; its results are prefixed
    ``coco-wholebody/``. OKS in the NMS is taken over all keypoints of the
    dataset, with ``dataset_meta['sigmas']``.
    """

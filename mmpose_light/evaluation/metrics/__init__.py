from .matrix_nms_coco_metric import MatrixNMSCocoMetric
from .matrix_nms_coco_wholebody_metric import MatrixNMSCocoWholeBodyMetric
from .matrix_nms_keypoint_partition_metric import \
    MatrixNMSKeypointPartitionMetric

__all__ = [
    'MatrixNMSCocoMetric', 'MatrixNMSCocoWholeBodyMetric',
    'MatrixNMSKeypointPartitionMetric'
]

from .matrix_nms_coco_metric import MatrixNMSCocoMetric

__all__ = ['MatrixNMSCocoMetric']

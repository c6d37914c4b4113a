from mmpose_light_runtime.nms import matrix_oks_nms, pairwise_oks

from .matrix_oks_nms_db import matrix_oks_nms_db

__all__ = ['matrix_oks_nms', 'matrix_oks_nms_db', 'pairwise_oks']

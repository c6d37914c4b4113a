from .matrix_oks_nms import matrix_oks_nms, matrix_oks_nms_db, pairwise_oks

__all__ = ['matrix_oks_nms', 'matrix_oks_nms_db', 'pairwise_oks']

from .lpb_head import LPBHeatmapHead
from .pooled_rle_head import PooledRLEHead

__all__ = ['LPBHeatmapHead', 'PooledRLEHead']

from .lpb_head import LPBHeatmapHead

__all__ = ['LPBHeatmapHead']

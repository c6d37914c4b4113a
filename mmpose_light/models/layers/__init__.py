from .inverted_residual import InvertedResidual, SqueezeExcitation
from .lpb import LPB
from .repvgg_block import RepVGGBlock

__all__ = ['LPB', 'RepVGGBlock', 'InvertedResidual', 'SqueezeExcitation']

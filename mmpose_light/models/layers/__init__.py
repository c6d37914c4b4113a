from .lpb import LPB
from .repvgg_block import RepVGGBlock

__all__ = ['LPB', 'RepVGGBlock']

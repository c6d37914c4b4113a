from .repvgg_fusion import RepVGGFusion
from .truncated_mobilenetv3 import TruncatedMobileNetV3

__all__ = ['TruncatedMobileNetV3', 'RepVGGFusion']

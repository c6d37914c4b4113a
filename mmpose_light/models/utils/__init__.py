from .conv_norm_fusion import check_foldable_norm, fuse_conv_norm
from .pretrained import (StrictPretrainedMixin, load_pretrained,
                         split_pretrained_init)
from .reparameterize import reparameterize_model

__all__ = [
    'reparameterize_model', 'load_pretrained', 'split_pretrained_init',
    'StrictPretrainedMixin', 'check_foldable_norm', 'fuse_conv_norm'
]

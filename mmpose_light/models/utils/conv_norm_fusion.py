"""Fold an inference-mode BatchNorm into the convolution before it.

At inference a BatchNorm with running statistics is a fixed per-channel
affine map, so ``norm(conv(x))`` is one convolution with a rescaled kernel
and a bias. The re-parameterizable blocks of this package (RepVGG blocks,
LPB) build their deploy forms from these folded kernels; the arithmetic is
PyTorch's :func:`torch.nn.utils.fusion.fuse_conv_bn_weights`, and this
module adds the check that the norm really is foldable, with an error that
says what to configure instead.
"""
from typing import Optional, Tuple

from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.utils.fusion import fuse_conv_bn_weights

__all__ = ['check_foldable_norm', 'fuse_conv_norm']


def check_foldable_norm(norm: nn.Module) -> None:
    """Raise unless ``norm`` is a BatchNorm with running statistics.

    Only such a norm is a fixed per-channel affine map at inference; a
    GroupNorm, a LayerNorm or a BatchNorm without running statistics
    normalises with statistics of the input itself.

    Args:
        norm (nn.Module): The norm to check.

    Raises:
        TypeError: If ``norm`` cannot be folded; the message names it.
    """
    if not isinstance(norm, _BatchNorm) or not norm.track_running_stats:
        raise TypeError(
            'Re-parameterization folds BatchNorm with running statistics '
            f'only, got {norm!r}; use norm_cfg=dict(type="BN") (or SyncBN) '
            'to build or convert a deploy-mode block.')


def fuse_conv_norm(kernel: Tensor,
                   norm: nn.Module,
                   bias: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
    """The kernel and bias of ``norm(conv(x))`` as one convolution.

    This does not modify its arguments, and the results are detached from
    the autograd graph.

    Args:
        kernel (Tensor): Kernel of shape ``(C, ..., k, k)`` whose dim 0 is
            the channel the norm scales: a convolution's
            ``(C_out, C_in / groups, k, k)``, or a depthwise transposed
            convolution's ``(C, 1, k, k)``, where input channel ``c`` feeds
            output channel ``c`` only.
        norm (nn.Module): The BatchNorm after the convolution, with ``C``
            features.
        bias (Tensor, optional): The convolution's bias, ``(C, )``.
            Defaults to ``None``: a bias-free convolution.

    Returns:
        tuple[Tensor, Tensor]: The folded kernel, shaped as ``kernel``, and
        the bias, ``(C, )``.

    Raises:
        TypeError: If ``norm`` is not a BatchNorm with running statistics.
    """
    check_foldable_norm(norm)
    # Dim 0 is the scaled one (transpose=False) for the depthwise transposed
    # kernel too: its dim 1, which PyTorch's transpose=True scales, has size
    # 1 there.
    kernel, bias = fuse_conv_bn_weights(kernel, bias, norm.running_mean,
                                        norm.running_var, norm.eps,
                                        norm.weight, norm.bias)
    return kernel.detach(), bias.detach()

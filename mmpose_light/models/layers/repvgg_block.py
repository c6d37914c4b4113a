"""The re-parameterizable 3x3 block of RepVGG.

`RepVGG: Making VGG-style ConvNets Great Again
<https://arxiv.org/abs/2101.03697>`_. A block trains as the sum of a 3x3
conv-BN branch, a 1x1 conv-BN branch and, where input and output shapes
agree, a BN identity branch; all three are linear at inference, so they fold
into one 3x3 convolution with bias (``branch_reparam``). Module names are
those of mmpretrain's ``RepVGGBlock`` (``branch_3x3.conv``,
``branch_3x3.norm``, ``branch_1x1``, ``branch_norm``, ``branch_reparam``), so
its ImageNet checkpoints load tensor for tensor.
"""
from collections import OrderedDict
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmpose.utils.typing import ConfigType
from torch import Tensor, nn

from ..utils.conv_norm_fusion import check_foldable_norm, fuse_conv_norm

__all__ = ['RepVGGBlock']

# Key fragments of the training-form branches in a state dict.
TRAINING_BRANCHES = ('branch_3x3', 'branch_1x1', 'branch_norm')


class RepVGGBlock(nn.Module):
    """A RepVGG block: 3x3 conv-BN + 1x1 conv-BN (+ BN identity), then act.

    Args:
        in_channels (int): Number of input channels.
        out_channels (int): Number of output channels.
        stride (int): Stride of the 3x3 and 1x1 convolutions. Defaults to 1.
        groups (int): Groups of the convolutions. Defaults to 1.
        norm_cfg (dict): Config of the branch norms; it must build a
            BatchNorm for the branches to fold. Defaults to
            ``dict(type='BN')``.
        act_cfg (dict, optional): Config of the activation after the sum.
            Defaults to ``dict(type='ReLU')``.
        deploy (bool): Build the fused single-branch form
            (``branch_reparam``) directly, so that a converted checkpoint
            loads with ``strict=True``. Defaults to False.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 groups: int = 1,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: Optional[ConfigType] = dict(type='ReLU'),
                 deploy: bool = False) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride!r}')
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f'in_channels ({in_channels}) and out_channels '
                f'({out_channels}) must be divisible by groups ({groups})')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.groups = groups
        self.norm_cfg = dict(norm_cfg)
        self.deploy = deploy

        if deploy:
            # Fail at build time rather than on a later conversion: a block
            # whose norm cannot fold has no deploy form.
            check_foldable_norm(
                build_norm_layer(self.norm_cfg, out_channels)[1])
            self.branch_reparam = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size=3,
                stride=stride,
                padding=1,
                groups=groups,
                bias=True)
        else:
            self.branch_3x3 = self._conv_norm(3)
            self.branch_1x1 = self._conv_norm(1)
            if in_channels == out_channels and stride == 1:
                self.branch_norm = build_norm_layer(norm_cfg, in_channels)[1]
            else:
                self.branch_norm = None
        self.act = (
            build_activation_layer(act_cfg)
            if act_cfg is not None else nn.Identity())

    def _conv_norm(self, kernel_size: int) -> nn.Sequential:
        """A bias-free conv and its norm, named ``conv`` and ``norm`` as in
        mmpretrain's RepVGG (so its checkpoints load)."""
        return nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(
                    self.in_channels,
                    self.out_channels,
                    kernel_size=kernel_size,
                    stride=self.stride,
                    padding=kernel_size // 2,
                    groups=self.groups,
                    bias=False),
                norm=build_norm_layer(self.norm_cfg, self.out_channels)[1]))

    @property
    def has_identity(self) -> bool:
        """bool: Whether the training form has a BN identity branch."""
        return self.in_channels == self.out_channels and self.stride == 1

    def forward(self, x: Tensor) -> Tensor:
        """Forward function.

        Args:
            x (Tensor): Input of shape (N, C_in, H, W).

        Returns:
            Tensor: Output of shape (N, C_out, H / stride, W / stride).
        """
        if self.deploy:
            return self.act(self.branch_reparam(x))
        out = self.branch_3x3(x) + self.branch_1x1(x)
        if self.branch_norm is not None:
            out = out + self.branch_norm(x)
        return self.act(out)

    def get_equivalent_kernel_bias(self) -> Tuple[Tensor, Tensor]:
        """The 3x3 kernel and bias equal to the block's branches at inference.

        This does not modify the block.

        Returns:
            tuple[Tensor, Tensor]: Kernel of shape
            (C_out, C_in / groups, 3, 3) and bias of shape (C_out, ).
        """
        if self.deploy:
            return (self.branch_reparam.weight.detach().clone(),
                    self.branch_reparam.bias.detach().clone())
        kernel, bias = fuse_conv_norm(self.branch_3x3.conv.weight,
                                      self.branch_3x3.norm)
        kernel_1x1, bias_1x1 = fuse_conv_norm(self.branch_1x1.conv.weight,
                                              self.branch_1x1.norm)
        # A 1x1 kernel at the centre of a 3x3 one, with the 3x3 padding of
        # 1, reads the same input pixel for every output position.
        kernel = kernel + F.pad(kernel_1x1, [1, 1, 1, 1])
        bias = bias + bias_1x1
        if self.branch_norm is not None:
            kernel_id, bias_id = fuse_conv_norm(
                self._identity_kernel(kernel), self.branch_norm)
            kernel = kernel + kernel_id
            bias = bias + bias_id
        return kernel, bias

    def _identity_kernel(self, like: Tensor) -> Tensor:
        """A 3x3 kernel that copies each input channel to its output."""
        in_per_group = self.in_channels // self.groups
        kernel = like.new_zeros(self.in_channels, in_per_group, 3, 3)
        channels = torch.arange(self.in_channels, device=like.device)
        kernel[channels, channels % in_per_group, 1, 1] = 1
        return kernel

    def switch_to_deploy(self, test_cfg: Optional[dict] = None) -> None:
        """Fold the branches into ``branch_reparam``, in place.

        Calling it again does nothing, so MMPose's
        ``BasePoseEstimator.switch_to_deploy()``, which reaches blocks after
        their backbone converted them, is safe.

        Args:
            test_cfg (dict, optional): Passed by MMPose's estimator walk;
                unused. Defaults to None.
        """
        if self.deploy:
            return
        kernel, bias = self.get_equivalent_kernel_bias()
        conv = self.branch_3x3.conv
        self.branch_reparam = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            kernel_size=3,
            stride=self.stride,
            padding=1,
            groups=self.groups,
            bias=True).to(
                device=kernel.device, dtype=conv.weight.dtype)
        self.branch_reparam.weight.data.copy_(kernel)
        self.branch_reparam.bias.data.copy_(bias)
        for name in TRAINING_BRANCHES:
            delattr(self, name)
        self.deploy = True

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Refuse a state dict of the other form with a clear message.

        Without this, a non-strict load (MMEngine's default for
        ``load_from``) would silently keep random weights.
        """
        own_keys = [k for k in state_dict if k.startswith(prefix)]
        branches = {k[len(prefix):].split('.', 1)[0] for k in own_keys}
        if self.deploy and branches & set(TRAINING_BRANCHES):
            raise ValueError(
                f'The state dict holds training-form weights '
                f'({prefix}branch_3x3 ...) for a deploy-mode RepVGGBlock; '
                'convert the checkpoint with tools/reparameterize.py first.')
        if not self.deploy and 'branch_reparam' in branches:
            raise ValueError(
                f'The state dict holds deploy-form weights '
                f'({prefix}branch_reparam) for a training-form RepVGGBlock; '
                'build the model with deploy=True to load it.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

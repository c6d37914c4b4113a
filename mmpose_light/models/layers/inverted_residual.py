"""The inverted-residual block of MobileNetV3, as ImageNet checkpoints hold it.

`Searching for MobileNetV3 <https://arxiv.org/abs/1905.02244>`_: an optional
1x1 expansion, a depthwise convolution, an optional squeeze-and-excitation
layer and a linear 1x1 projection, with a residual connection where the
shapes allow. Module names and the SE layer (squeeze width, hard-sigmoid
gate) are those of mmpretrain's ``MobileNetV3`` and torchvision's
``mobilenet_v3_large``, so their ImageNet weights load tensor for tensor.
MMPose's own block differs in both (its SE squeezes to ``channels / 4`` and
gates with ``(x + 1) / 2``).

These blocks take their widths and strides from the arch table of
:class:`~mmpose_light.models.backbones.TruncatedMobileNetV3`, which checks
the user's arguments; they do not check them again.
"""
import copy
import warnings
from typing import Optional

import torch.utils.checkpoint as cp
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor, nn

__all__ = ['InvertedResidual', 'SqueezeExcitation']

#: MobileNetV3's gate: the hard sigmoid relu6(x + 3) / 6.
HARD_SIGMOID = dict(
    type='HSigmoid', bias=3.0, divisor=6.0, min_value=0.0, max_value=1.0)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation with an explicit squeeze width.

    ``x * gate(conv2(act(conv1(avgpool(x)))))`` with 1x1 convolutions (with
    bias) named ``conv1`` and ``conv2``, as mmpretrain's ``SELayer``.

    Args:
        channels (int): Input (and output) channels.
        squeeze_channels (int): Channels between the two convolutions.
        conv_cfg (dict, optional): Config of the convolutions.
            Defaults to ``None`` (``nn.Conv2d``).
        act_cfg (dict): Activation after the squeeze. Defaults to
            ``dict(type='ReLU')``.
        gate_cfg (dict): Activation giving the channel weights. Defaults to
            MobileNetV3's hard sigmoid, ``relu6(x + 3) / 6``.
    """

    def __init__(self,
                 channels: int,
                 squeeze_channels: int,
                 conv_cfg: OptConfigType = None,
                 act_cfg: ConfigType = dict(type='ReLU'),
                 gate_cfg: ConfigType = HARD_SIGMOID) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.conv1 = ConvModule(
            channels,
            squeeze_channels,
            kernel_size=1,
            conv_cfg=conv_cfg,
            act_cfg=copy.deepcopy(act_cfg))
        with warnings.catch_warnings():
            # mmcv's HSigmoid warns on every construction that its defaults
            # changed in v1.4.4; the gate's arguments are explicit here.
            warnings.filterwarnings(
                'ignore', message='In MMCV v1.4.4', category=UserWarning)
            self.conv2 = ConvModule(
                squeeze_channels,
                channels,
                kernel_size=1,
                conv_cfg=conv_cfg,
                act_cfg=copy.deepcopy(gate_cfg))

    def forward(self, x: Tensor) -> Tensor:
        """Re-weight the channels of ``x`` (shape ``(N, C, H, W)``)."""
        return x * self.conv2(self.conv1(self.global_avgpool(x)))


class InvertedResidual(BaseModule):
    """MobileNetV3's inverted-residual block.

    ``expand_conv`` (1x1, only when ``mid_channels != in_channels``, as in
    MobileNetV3's first block) -> ``depthwise_conv`` -> ``se`` (optional)
    -> ``linear_conv`` (1x1, no activation), plus the input when
    ``stride == 1`` and the input and output widths agree.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        mid_channels (int): Channels of the depthwise convolution.
        kernel_size (int): Kernel size of the depthwise convolution.
            Defaults to 3.
        stride (int): Stride of the depthwise convolution, 1 or 2.
            Defaults to 1.
        se_channels (int, optional): Squeeze width of the SE layer;
            ``None`` builds no SE layer. Defaults to ``None``.
        conv_cfg (dict, optional): Config of the convolutions.
            Defaults to ``None`` (``nn.Conv2d``).
        norm_cfg (dict): Config of the normalization layers.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation after the expansion and the depthwise
            convolution. Defaults to ``dict(type='ReLU')``.
        with_cp (bool): Use gradient checkpointing. Defaults to ``False``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to ``None``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 se_channels: Optional[int] = None,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mid_channels = mid_channels
        self.stride = stride
        self.with_cp = with_cp
        self.with_res_shortcut = stride == 1 and in_channels == out_channels
        self.with_expand_conv = mid_channels != in_channels
        self.with_se = se_channels is not None

        if self.with_expand_conv:
            self.expand_conv = ConvModule(
                in_channels,
                mid_channels,
                kernel_size=1,
                conv_cfg=conv_cfg,
                norm_cfg=copy.deepcopy(norm_cfg),
                act_cfg=copy.deepcopy(act_cfg))
        self.depthwise_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size=kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            groups=mid_channels,
            conv_cfg=conv_cfg,
            norm_cfg=copy.deepcopy(norm_cfg),
            act_cfg=copy.deepcopy(act_cfg))
        if self.with_se:
            self.se = SqueezeExcitation(
                mid_channels, se_channels, conv_cfg=conv_cfg)
        self.linear_conv = ConvModule(
            mid_channels,
            out_channels,
            kernel_size=1,
            conv_cfg=conv_cfg,
            norm_cfg=copy.deepcopy(norm_cfg),
            act_cfg=None)

    def _inner_forward(self, x: Tensor) -> Tensor:
        out = self.expand_conv(x) if self.with_expand_conv else x
        out = self.depthwise_conv(out)
        if self.with_se:
            out = self.se(out)
        out = self.linear_conv(out)
        return x + out if self.with_res_shortcut else out

    def forward(self, x: Tensor) -> Tensor:
        """Forward function.

        Args:
            x (Tensor): Input of shape ``(N, in_channels, H, W)``.

        Returns:
            Tensor: Output of shape ``(N, out_channels, H / stride,
            W / stride)``.
        """
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)

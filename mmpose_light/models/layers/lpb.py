"""LPB, the lightweight upsampling block of MobilePoseNet.

A plain transposed convolution upsampling C to C' channels costs
``k * k * C * C'`` weights per output pixel. LPB spends its width in a
depthwise transposed convolution instead, between two pointwise convolutions
(the inverted-residual pattern of MobileNetV2/V3 turned into an upsampler),
and re-weights the result with squeeze-and-excitation attention.
"""
import copy

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmpose.models.backbones.utils import SELayer
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

__all__ = ['LPB']

# kernel size of the x2 transposed convolution -> padding that doubles H, W
_UPSAMPLE_PADDING = {2: 0, 4: 1}


class LPB(BaseModule):
    """Lightweight upsampling block: x2 upsampling with channel attention.

    ``expand_conv`` (1x1, C -> E, BN, act) -> ``upsample_conv`` (depthwise
    transposed conv, stride 2, on the E channels, BN, act) ->
    ``project_conv`` (1x1, E -> C', BN, no activation by default) gives
    ``y``; the output is ``y + y * se(y)`` where ``se(y)`` are the per-channel
    weights of a squeeze-and-excitation layer.

    Args:
        in_channels (int): Input channels C.
        out_channels (int): Output channels C'.
        mid_channels (int): Expanded channels E of the depthwise transposed
            convolution.
        kernel_size (int): Kernel size of the transposed convolution, 4 or 2
            (both double the height and width exactly). Defaults to 4.
        norm_cfg (dict): Config of the normalization layers.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation after the expansion and the upsampling.
            Defaults to ``dict(type='ReLU')``.
        project_act_cfg (dict, optional): Activation after the projection.
            Defaults to ``None`` (a linear bottleneck, as in MobileNetV2/V3).
        with_se (bool): Apply the attention; without it the output is
            ``y``. Defaults to ``True``.
        se_cfg (dict, optional): Keyword arguments of
            :class:`mmpose.models.backbones.utils.SELayer` besides
            ``channels``. Defaults to ``None``, MobileNetV3's SE:
            ``dict(ratio=4, act_cfg=(dict(type='ReLU'), dict(type='HSigmoid',
            bias=1.0, divisor=2.0)))``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to ``None``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int,
                 kernel_size: int = 4,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 project_act_cfg: OptConfigType = None,
                 with_se: bool = True,
                 se_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        channels = dict(
            in_channels=in_channels,
            out_channels=out_channels,
            mid_channels=mid_channels)
        for name, value in channels.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f'LPB {name} must be a positive int, but got {value!r}')
        if kernel_size not in _UPSAMPLE_PADDING:
            raise ValueError('LPB kernel_size must be one of '
                             f'{sorted(_UPSAMPLE_PADDING)}, but got '
                             f'{kernel_size!r}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mid_channels = mid_channels
        norm_cfg = copy.deepcopy(norm_cfg)

        self.expand_conv = ConvModule(
            in_channels,
            mid_channels,
            kernel_size=1,
            norm_cfg=norm_cfg,
            act_cfg=copy.deepcopy(act_cfg))
        self.upsample_conv = ConvModule(
            mid_channels,
            mid_channels,
            kernel_size=kernel_size,
            stride=2,
            padding=_UPSAMPLE_PADDING[kernel_size],
            groups=mid_channels,
            conv_cfg=dict(type='deconv'),
            norm_cfg=norm_cfg,
            act_cfg=copy.deepcopy(act_cfg))
        self.project_conv = ConvModule(
            mid_channels,
            out_channels,
            kernel_size=1,
            norm_cfg=norm_cfg,
            act_cfg=copy.deepcopy(project_act_cfg))
        self.with_se = with_se
        if with_se:
            if se_cfg is None:
                se_cfg = dict(
                    ratio=4,
                    act_cfg=(dict(type='ReLU'),
                             dict(type='HSigmoid', bias=1.0, divisor=2.0)))
            self.se = SELayer(out_channels, **copy.deepcopy(se_cfg))

    def forward(self, x: Tensor) -> Tensor:
        """Upsample ``x`` by 2.

        Args:
            x (Tensor): Input in shape ``(N, in_channels, H, W)``.

        Returns:
            Tensor: Output in shape ``(N, out_channels, 2H, 2W)``.
        """
        y = self.project_conv(self.upsample_conv(self.expand_conv(x)))
        if self.with_se:
            # SELayer returns y * se(y): adding y keeps the identity path, so
            # attention can only boost channels, never zero them out.
            y = y + self.se(y)
        return y

"""MobileNetV3 cut after its first layers, the encoder of MobilePoseNet.

MobilePoseNet keeps the first 13 inverted-residual layers of MobileNetV3-Large
(MMPose's ``arch='big'`` ordering), so the encoder ends at output stride 16
with 160 channels instead of running the stride-32 layers. The layers past the
cut are never built. The blocks and the architecture table are MMPose's
(:class:`mmpose.models.backbones.MobileNetV3`); only the number of rows used
is new.
"""
import copy
from typing import List, Sequence, Tuple

from mmcv.cnn import ConvModule
from mmpose.models.backbones import MobileNetV3
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.models.backbones.utils import InvertedResidual
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

__all__ = ['TruncatedMobileNetV3']


@MODELS.register_module()
class TruncatedMobileNetV3(MobileNetV3):
    """MobileNetV3 built only up to ``num_layers`` inverted-residual layers.

    The stem and the kept layers are exactly those of MMPose's
    :class:`MobileNetV3` (same module names, so its checkpoints load with the
    discarded layers left out); ``forward``, ``frozen_stages`` and
    ``norm_eval`` behave as there. With the defaults (``arch='big'``,
    ``num_layers=13``) the output has 160 channels at stride 16.

    Args:
        arch (str): Row table of :attr:`MobileNetV3.arch_settings`, ``'big'``
            (MobileNetV3-Large) or ``'small'``. Defaults to ``'big'``.
        num_layers (int): How many layers of the table to build, counted from
            the first; the rest are not built. Defaults to 13.
        out_indices (Sequence[int]): Kept layers whose outputs are returned,
            negative indices counting from the last kept layer. Outputs come
            in layer order. Defaults to ``(-1, )``.
        conv_cfg (dict, optional): Config of the convolution layers.
            Defaults to ``None`` (``nn.Conv2d``).
        norm_cfg (dict): Config of the normalization layers.
            Defaults to ``dict(type='BN')``.
        frozen_stages (int): Freeze the stem (``0``) and the first
            ``frozen_stages`` layers; ``-1`` freezes nothing.
            Defaults to -1.
        norm_eval (bool): Keep normalization layers in eval mode while
            training. Defaults to ``False``.
        with_cp (bool): Use gradient checkpointing in the layers.
            Defaults to ``False``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to ``None``, MobileNetV3's (Kaiming convolutions,
            unit BatchNorm).

    Attributes:
        out_channels (tuple[int]): Channels of each output level.
        out_strides (tuple[int]): Stride of each output level relative to the
            input.
    """

    def __init__(self,
                 arch: str = 'big',
                 num_layers: int = 13,
                 out_indices: Sequence[int] = (-1, ),
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        if arch not in self.arch_settings:
            raise ValueError(f'Unknown arch {arch!r}; choose one of '
                             f'{sorted(self.arch_settings)}')
        table = self.arch_settings[arch]
        if (not isinstance(num_layers, int)
                or not 1 <= num_layers <= len(table)):
            raise ValueError(f'num_layers must be an int in [1, {len(table)}] '
                             f'for arch {arch!r}, but got {num_layers!r}')
        if not isinstance(out_indices, Sequence) or not all(
                isinstance(i, int) for i in out_indices):
            raise TypeError('out_indices must be a sequence of ints, but got '
                            f'{out_indices!r}')
        if not out_indices:
            raise ValueError('out_indices must name at least one layer')
        for index in out_indices:
            if not -num_layers <= index < num_layers:
                raise ValueError(
                    f'out_indices item {index} is outside the {num_layers} '
                    f'kept layers (valid: {-num_layers}..{num_layers - 1})')
        normalized = sorted(i % num_layers for i in out_indices)
        if len(set(normalized)) != len(normalized):
            raise ValueError(
                f'out_indices {tuple(out_indices)} name a layer twice')
        if frozen_stages not in range(-1, num_layers + 1):
            raise ValueError(f'frozen_stages must be in [-1, {num_layers}], '
                             f'but got {frozen_stages!r}')
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d']),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]

        # MobileNetV3.__init__ would build every row of the table; the point
        # of this class is to build only the kept ones, so skip to the base.
        BaseBackbone.__init__(self, init_cfg=init_cfg)
        self.arch = arch
        self.num_layers = num_layers
        self.layer_settings = table[:num_layers]
        self.conv_cfg = conv_cfg
        self.norm_cfg = copy.deepcopy(norm_cfg)
        self.out_indices = tuple(normalized)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp

        self.in_channels = 16
        self.conv1 = ConvModule(
            in_channels=3,
            out_channels=self.in_channels,
            kernel_size=3,
            stride=2,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=dict(type='HSwish'))
        self.layers = self._make_layer()
        self.feat_dim = self.layer_settings[-1][2]

        strides = []
        stride = 2  # the stem
        for setting in self.layer_settings:
            stride *= setting[5]
            strides.append(stride)
        self.out_channels = tuple(self.layer_settings[i][2]
                                  for i in self.out_indices)
        self.out_strides = tuple(strides[i] for i in self.out_indices)

    def _make_layer(self) -> List[str]:
        """Build the kept layers as ``layer1`` ... ``layer{num_layers}``."""
        layers = []
        for i, (kernel_size, mid_channels, out_channels, with_se, act,
                stride) in enumerate(self.layer_settings):
            se_cfg = None
            if with_se:
                # The SE layer of MobileNetV3 (ReLU, hard sigmoid), as MMPose.
                se_cfg = dict(
                    channels=mid_channels,
                    ratio=4,
                    act_cfg=(dict(type='ReLU'),
                             dict(type='HSigmoid', bias=1.0, divisor=2.0)))
            layer = InvertedResidual(
                in_channels=self.in_channels,
                out_channels=out_channels,
                mid_channels=mid_channels,
                kernel_size=kernel_size,
                stride=stride,
                se_cfg=se_cfg,
                with_expand_conv=True,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=dict(type=act),
                with_cp=self.with_cp)
            self.in_channels = out_channels
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, layer)
            layers.append(layer_name)
        return layers

    def _freeze_stages(self) -> None:
        """Freeze the first stages, the stem's statistics included."""
        super()._freeze_stages()
        # MobileNetV3 fixes the stem's parameters but leaves its BatchNorm
        # updating running statistics; a frozen stage must not change.
        if self.frozen_stages >= 0:
            self.conv1.eval()

    def train(self, mode: bool = True) -> 'TruncatedMobileNetV3':
        """Set the training mode, then re-apply freezing and ``norm_eval``.

        Args:
            mode (bool): Training mode. Defaults to ``True``.

        Returns:
            TruncatedMobileNetV3: ``self``, as ``nn.Module.train`` returns.
        """
        super().train(mode)
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the stem and the kept layers.

        Args:
            x (Tensor): Images in shape ``(N, 3, H, W)``.

        Returns:
            tuple[Tensor]: One feature map per entry of :attr:`out_indices`,
            the i-th of shape ``(N, out_channels[i], H / out_strides[i],
            W / out_strides[i])``.
        """
        return super().forward(x)

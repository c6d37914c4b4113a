"""MobileNetV3-Large cut after its first blocks, the encoder of MobilePoseNet.

MobilePoseNet keeps the stem and the first 13 inverted-residual blocks of
MobileNetV3-Large (`Searching for MobileNetV3
<https://arxiv.org/abs/1905.02244>`_) and runs the 13th block's depthwise
convolution at stride 1, so that the encoder ends at output stride 16 with
160 channels. The network is the published one (mmpretrain's
``MobileNetV3(arch='large')``, torchvision's ``mobilenet_v3_large``): blocks,
squeeze widths, activations, gate and module names agree, so their ImageNet
checkpoints load tensor for tensor; the blocks past the cut are not built.
"""
import copy
from typing import NamedTuple, Optional, Sequence, Tuple

from mmcv.cnn import ConvModule
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.models.backbones.utils import make_divisible
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptMultiConfig
from mmpose_light_runtime.checks import check_int, is_int
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.inverted_residual import InvertedResidual
from ..utils.pretrained import StrictPretrainedMixin, load_pretrained

__all__ = ['TruncatedMobileNetV3']


class BlockSetting(NamedTuple):
    """One inverted-residual block of a MobileNetV3 table."""
    kernel_size: int
    mid_channels: int
    out_channels: int
    with_se: bool
    act: str
    stride: int


@MODELS.register_module()
class TruncatedMobileNetV3(StrictPretrainedMixin, BaseBackbone):
    """MobileNetV3 built only up to ``num_layers`` inverted-residual blocks.

    The stem is ``layer0`` (3x3 stride-2 conv, 16 channels, hard swish) and
    block ``i`` of the table is ``layer{i}``, as in mmpretrain's
    ``MobileNetV3``, whose checkpoints load with the blocks past the cut and
    the classifier left out (see :meth:`init_weights`). With the defaults
    (``arch='large'``, ``num_layers=13``, ``last_stride=1``) this is
    MobilePoseNet's encoder: 160 channels at stride 16.

    Args:
        arch (str): A key of :attr:`arch_settings`, ``'large'``
            (MobileNetV3-Large) or ``'small'``. Defaults to ``'large'``.
        num_layers (int): How many blocks of the table to build, counted
            from the first. Defaults to 13.
        last_stride (int, optional): Stride of the last kept block's
            depthwise convolution, replacing the table's (MobilePoseNet
            turns the 13th block's 2 into 1 to stop at stride 16); ``None``
            keeps the table's. Defaults to 1.
        out_indices (Sequence[int]): Kept blocks whose outputs are returned,
            negative indices counting from the last kept block. Outputs come
            in block order. Defaults to ``(-1, )``.
        conv_cfg (dict, optional): Config of the convolution layers.
            Defaults to ``None`` (``nn.Conv2d``).
        norm_cfg (dict): Config of the normalization layers. Defaults to
            ``dict(type='BN', eps=0.001)``, the epsilon the ImageNet weights
            were trained with.
        frozen_stages (int): Freeze the stem (``0``) and the first
            ``frozen_stages`` blocks; ``-1`` freezes nothing.
            Defaults to -1.
        norm_eval (bool): Keep normalization layers in eval mode while
            training. Defaults to ``False``.
        with_cp (bool): Use gradient checkpointing in the blocks.
            Defaults to ``False``.
        init_cfg (dict | list[dict], optional): Initialization config. A
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            entry loads an mmpretrain MobileNetV3 checkpoint strictly.
            Defaults to ``None``: Kaiming convolutions, unit BatchNorm.

    Attributes:
        out_channels (tuple[int]): Channels of each output level.
        out_strides (tuple[int]): Stride of each output level relative to the
            input.
    """

    #: One row per inverted-residual block: kernel size, channels of the
    #: depthwise conv, output channels, SE, activation, stride (Tables 1
    #: and 2 of the paper; mmpretrain's and torchvision's tables).
    arch_settings = {
        'large': (
            # stride 2 (the stem's); no expansion: 16 -> 16
            BlockSetting(3, 16, 16, False, 'ReLU', 1),
            # stride 4
            BlockSetting(3, 64, 24, False, 'ReLU', 2),
            BlockSetting(3, 72, 24, False, 'ReLU', 1),
            # stride 8
            BlockSetting(5, 72, 40, True, 'ReLU', 2),
            BlockSetting(5, 120, 40, True, 'ReLU', 1),
            BlockSetting(5, 120, 40, True, 'ReLU', 1),
            # stride 16
            BlockSetting(3, 240, 80, False, 'HSwish', 2),
            BlockSetting(3, 200, 80, False, 'HSwish', 1),
            BlockSetting(3, 184, 80, False, 'HSwish', 1),
            BlockSetting(3, 184, 80, False, 'HSwish', 1),
            BlockSetting(3, 480, 112, True, 'HSwish', 1),
            BlockSetting(3, 672, 112, True, 'HSwish', 1),
            # stride 32; MobilePoseNet ends with the first of these blocks,
            # run at stride 1
            BlockSetting(5, 672, 160, True, 'HSwish', 2),
            BlockSetting(5, 960, 160, True, 'HSwish', 1),
            BlockSetting(5, 960, 160, True, 'HSwish', 1),
        ),
        'small': (
            # stride 4
            BlockSetting(3, 16, 16, True, 'ReLU', 2),
            # stride 8
            BlockSetting(3, 72, 24, False, 'ReLU', 2),
            BlockSetting(3, 88, 24, False, 'ReLU', 1),
            # stride 16
            BlockSetting(5, 96, 40, True, 'HSwish', 2),
            BlockSetting(5, 240, 40, True, 'HSwish', 1),
            BlockSetting(5, 240, 40, True, 'HSwish', 1),
            BlockSetting(5, 120, 48, True, 'HSwish', 1),
            BlockSetting(5, 144, 48, True, 'HSwish', 1),
            # stride 32
            BlockSetting(5, 288, 96, True, 'HSwish', 2),
            BlockSetting(5, 576, 96, True, 'HSwish', 1),
            BlockSetting(5, 576, 96, True, 'HSwish', 1),
        ),
    }
    #: Channels of the stem.
    stem_channels = 16

    def __init__(self,
                 arch: str = 'large',
                 num_layers: int = 13,
                 last_stride: Optional[int] = 1,
                 out_indices: Sequence[int] = (-1, ),
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(type='BN', eps=0.001),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        if not isinstance(arch, str) or arch not in self.arch_settings:
            raise ValueError(f'Unknown arch {arch!r} for TruncatedMobileNetV3;'
                             f' choose one of {sorted(self.arch_settings)}')
        table = self.arch_settings[arch]
        check_int(f'`num_layers` of arch {arch!r}', num_layers, 1, len(table))
        if last_stride is not None and not is_int(last_stride, 1, 2):
            raise ValueError('`last_stride` should be 1, 2 or None, but got '
                             f'{last_stride!r}')
        if not isinstance(out_indices, Sequence):
            raise TypeError('`out_indices` should be a sequence of block '
                            f'indices, but got {out_indices!r}')
        if not out_indices:
            raise ValueError('`out_indices` should name at least one block')
        normalized = sorted(
            check_int(f'`out_indices[{i}]` (of {num_layers} kept blocks)',
                      index, -num_layers, num_layers - 1) % num_layers
            for i, index in enumerate(out_indices))
        if len(set(normalized)) != len(normalized):
            raise ValueError(
                f'`out_indices` {tuple(out_indices)} name a block twice')
        check_int('`frozen_stages`', frozen_stages, -1, num_layers)
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d']),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        super().__init__(init_cfg=init_cfg)

        settings = list(table[:num_layers])
        if last_stride is not None:
            settings[-1] = settings[-1]._replace(stride=last_stride)
        self.arch = arch
        self.num_layers = num_layers
        self.layer_settings = tuple(settings)
        self.out_indices = tuple(normalized)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval

        self.layer0 = ConvModule(
            3,
            self.stem_channels,
            kernel_size=3,
            stride=2,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=copy.deepcopy(norm_cfg),
            act_cfg=dict(type='HSwish'))
        in_channels = self.stem_channels
        strides = []
        stride = 2
        for i, setting in enumerate(self.layer_settings):
            se_channels = None
            if setting.with_se:
                # a quarter of the expanded width, rounded to a multiple of
                # 8, as the published network (not MMPose's channels / 4)
                se_channels = make_divisible(setting.mid_channels // 4, 8)
            self.add_module(
                f'layer{i + 1}',
                InvertedResidual(
                    in_channels,
                    setting.out_channels,
                    setting.mid_channels,
                    kernel_size=setting.kernel_size,
                    stride=setting.stride,
                    se_channels=se_channels,
                    conv_cfg=conv_cfg,
                    norm_cfg=copy.deepcopy(norm_cfg),
                    act_cfg=dict(type=setting.act),
                    with_cp=with_cp))
            in_channels = setting.out_channels
            stride *= setting.stride
            strides.append(stride)
        #: Names of the blocks, in order (the stem ``layer0`` excluded).
        self.layers = [f'layer{i + 1}' for i in range(num_layers)]
        self.out_channels = tuple(self.layer_settings[i].out_channels
                                  for i in self.out_indices)
        self.out_strides = tuple(strides[i] for i in self.out_indices)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the stem and the kept blocks.

        Args:
            x (Tensor): Images in shape ``(N, 3, H, W)``.

        Returns:
            tuple[Tensor]: One feature map per entry of :attr:`out_indices`,
            the i-th of shape ``(N, out_channels[i], H / out_strides[i],
            W / out_strides[i])``.
        """
        x = self.layer0(x)
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _load_pretrained(self, cfg: dict) -> None:
        """Load an mmpretrain MobileNetV3 checkpoint, every kept tensor.

        The blocks past the cut and the final 1x1 conv (``layer{k}`` with
        ``k > num_layers``) are left out; with ``prefix='backbone.'`` the
        classifier is not read. Anything else missing, unexpected or of
        another shape raises ``ValueError``.
        """
        kept = {'layer0'} | set(self.layers)
        load_pretrained(
            self,
            cfg['checkpoint'],
            prefix=cfg.get('prefix'),
            map_location=cfg.get('map_location', 'cpu'),
            is_dropped=lambda key: _is_layer_past(key, kept))

    def _freeze_stages(self) -> None:
        """Freeze the stem and the first ``frozen_stages`` blocks."""
        for i in range(self.frozen_stages + 1):
            layer = getattr(self, f'layer{i}')
            layer.eval()
            for param in layer.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'TruncatedMobileNetV3':
        """Set the training mode, keeping frozen blocks and (with
        ``norm_eval``) normalization layers in eval mode.

        Args:
            mode (bool): Training mode. Defaults to ``True``.

        Returns:
            TruncatedMobileNetV3: ``self``.
        """
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self


def _is_layer_past(key: str, kept: set) -> bool:
    """Whether ``key`` belongs to a ``layer{k}`` that is not in ``kept``."""
    name = key.split('.', 1)[0]
    return (name.startswith('layer') and name[len('layer'):].isdigit()
            and name not in kept)

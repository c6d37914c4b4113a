"""RepVGG with multi-level fusion: the backbone of RepNet.

RepNet is a lightweight regression-based top-down pose estimator: a RepVGG
body (`RepVGG: Making VGG-style ConvNets Great Again
<https://arxiv.org/abs/2101.03697>`_) whose last three stages (strides 8, 16
and 32) are merged at stride 16, followed by a residual log-likelihood (RLE)
regression head. The body trains with multi-branch blocks and deploys as a
plain stack of 3x3 convolutions.
"""
import copy
from typing import Dict, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptMultiConfig
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.repvgg_block import RepVGGBlock

__all__ = ['RepVGGFusion']


class MultiLevelFusion(nn.Module):
    """Merge three consecutive levels at the middle one's scale.

    Each level is first mapped to the common width by a 1x1 conv; resampling
    after that keeps the resampling convs at the common width (at the input
    width, a 3x3 conv on RepVGG's 1280-channel last stage alone would hold
    14.7M parameters, twice the whole network). The finer level is then
    brought down by a 3x3 stride-2 conv. The coarser one is upsampled
    (nearest) and passed through a 3x3 conv of dilation 2, as in RepNet: on
    the upsampled grid, where each coarse pixel fills a 2x2 patch, the
    dilated taps read the 3x3 coarse neighbourhood instead of mostly
    repeated pixels. The three maps are summed.

    Args:
        in_channels (Sequence[int]): Widths of the finer, middle and coarser
            levels.
        out_channels (int): The common width.
        norm_cfg (dict): Config of the norm layers.
        act_cfg (dict): Config of the activations.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int,
                 norm_cfg: ConfigType, act_cfg: ConfigType) -> None:
        super().__init__()
        assert len(in_channels) == 3
        self.lateral_convs = nn.ModuleList([
            ConvModule(c, out_channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for c in in_channels
        ])
        self.downsample = ConvModule(
            out_channels,
            out_channels,
            3,
            stride=2,
            padding=1,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)
        self.upsample_conv = ConvModule(
            out_channels,
            out_channels,
            3,
            padding=2,
            dilation=2,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Fuse (finer, middle, coarser) maps into one at the middle scale."""
        fine, mid, coarse = (conv(x)
                             for conv, x in zip(self.lateral_convs, feats))
        # Sizes need not halve exactly (odd sizes), so upsample to `mid`.
        coarse = F.interpolate(coarse, size=mid.shape[-2:], mode='nearest')
        return self.downsample(fine) + mid + self.upsample_conv(coarse)


@MODELS.register_module()
class RepVGGFusion(BaseBackbone):
    """RepVGG body with multi-level fusion, the backbone of RepNet.

    Five stages of :class:`RepVGGBlock`, each starting with a stride-2
    block, so stage ``i`` has stride ``2 ** (i + 1)``. The stages in
    ``fusion_indices`` (by default the last three: strides 8, 16 and 32) are
    merged at the middle one's scale by :class:`MultiLevelFusion`.

    Args:
        arch (str | dict): A key of :attr:`arch_settings` (``'A'`` or
            ``'B'``) or a dict with ``num_blocks`` and ``widths``, one
            positive int per stage. Defaults to ``'A'``.
        in_channels (int): Number of input image channels. Defaults to 3.
        out_indices (Sequence[int]): Stages whose outputs are returned, in
            front of the fused map. Defaults to ``()``.
        fusion_indices (Sequence[int], optional): Three consecutive stages to
            fuse; ``None`` disables the fusion (a plain RepVGG). Defaults to
            ``(2, 3, 4)``.
        fusion_channels (int): Width of the fused map. Defaults to 32, which
            together with the RLE head matches the sizes of RepNet-A and -B
            in the paper (see the configs).
        frozen_stages (int): Stages up to this index are frozen (eval mode,
            no gradients); -1 freezes nothing. Defaults to -1.
        norm_cfg (dict): Config of the norm layers; the blocks need a
            BatchNorm to deploy. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations. Defaults to
            ``dict(type='ReLU')``.
        norm_eval (bool): Keep the norm layers in eval mode while training.
            Defaults to False.
        deploy (bool): Build the blocks in their fused single-branch form,
            so that a checkpoint converted by ``tools/reparameterize.py``
            loads with ``strict=True``. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to Kaiming for convs and ones/zeros for norms.

    Example:
        >>> import torch
        >>> model = RepVGGFusion('A').eval()
        >>> outs = model(torch.rand(1, 3, 256, 192))
        >>> [tuple(o.shape) for o in outs]
        [(1, 32, 16, 12)]
        >>> model.out_strides
        (16,)
    """

    #: Stage i starts with a stride-2 block and has stride 2 ** (i + 1).
    #: Blocks per stage {1, 2, 4, 14, 1} and widths 64a, 64a, 128a, 256a,
    #: 512b are those of RepVGG-A.
    arch_settings: Dict[str, dict] = {
        # RepNet-A: (a, b) = (0.75, 2.5), the body of RepVGG-A0
        'A': dict(
            num_blocks=(1, 2, 4, 14, 1), widths=(48, 48, 96, 192, 1280)),
        # RepNet-B: (a, b) = (1, 2.5), the body of RepVGG-A1
        'B': dict(
            num_blocks=(1, 2, 4, 14, 1), widths=(64, 64, 128, 256, 1280)),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'A',
                 in_channels: int = 3,
                 out_indices: Sequence[int] = (),
                 fusion_indices: Optional[Sequence[int]] = (2, 3, 4),
                 fusion_channels: int = 32,
                 frozen_stages: int = -1,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 norm_eval: bool = False,
                 deploy: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Kaiming', layer=['Conv2d']),
                dict(type='Constant', val=1, layer=['_BatchNorm'])
            ]
        super().__init__(init_cfg=init_cfg)
        self.arch = self._parse_arch(arch)
        num_stages = len(self.arch['widths'])
        self.stage_channels = tuple(self.arch['widths'])
        self.stage_strides = tuple(2**(i + 1) for i in range(num_stages))

        self.out_indices = self._parse_indices(out_indices, num_stages,
                                               'out_indices')
        if fusion_indices is not None:
            fusion_indices = self._parse_indices(fusion_indices, num_stages,
                                                 'fusion_indices')
            first = fusion_indices[0]
            if fusion_indices != (first, first + 1, first + 2):
                raise ValueError('fusion_indices must be three consecutive '
                                 f'stages, got {fusion_indices}')
            if not isinstance(fusion_channels, int) or fusion_channels < 1:
                raise ValueError('fusion_channels must be a positive int, '
                                 f'got {fusion_channels!r}')
        elif not self.out_indices:
            raise ValueError('Without fusion (fusion_indices=None), '
                             'out_indices must name at least one stage')
        self.fusion_indices = fusion_indices
        if not -1 <= frozen_stages < num_stages:
            raise ValueError(f'frozen_stages must be in [-1, {num_stages}), '
                             f'got {frozen_stages}')
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy

        self.stages = nn.ModuleList()
        channels = in_channels
        for num_blocks, width in zip(self.arch['num_blocks'],
                                     self.arch['widths']):
            blocks = []
            for i in range(num_blocks):
                blocks.append(
                    RepVGGBlock(
                        channels,
                        width,
                        stride=2 if i == 0 else 1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        deploy=deploy))
                channels = width
            self.stages.append(nn.Sequential(*blocks))

        out_channels = [self.stage_channels[i] for i in self.out_indices]
        out_strides = [self.stage_strides[i] for i in self.out_indices]
        if fusion_indices is not None:
            self.fusion = MultiLevelFusion(
                [self.stage_channels[i] for i in fusion_indices],
                fusion_channels,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg)
            out_channels.append(fusion_channels)
            out_strides.append(self.stage_strides[fusion_indices[1]])
        else:
            self.fusion = None
        #: Widths and strides of the returned levels, in order.
        self.out_channels = tuple(out_channels)
        self.out_strides = tuple(out_strides)

    @classmethod
    def _parse_arch(cls, arch: Union[str, dict]) -> dict:
        """Look up or validate an architecture setting."""
        if isinstance(arch, str):
            if arch not in cls.arch_settings:
                raise ValueError(
                    f'Unknown arch {arch!r} for RepVGGFusion; choose from '
                    f'{sorted(cls.arch_settings)} or pass a dict')
            return copy.deepcopy(cls.arch_settings[arch])
        if not isinstance(arch, dict):
            raise TypeError('arch must be a str or a dict, got '
                            f'{type(arch).__name__}')
        if set(arch) != {'num_blocks', 'widths'}:
            raise ValueError('An arch dict needs exactly the keys '
                             f"'num_blocks' and 'widths', got {sorted(arch)}")
        num_blocks, widths = tuple(arch['num_blocks']), tuple(arch['widths'])
        for name, values in (('num_blocks', num_blocks), ('widths', widths)):
            if not values or not all(
                    isinstance(v, int) and v > 0 for v in values):
                raise ValueError(f'arch {name} must be positive ints, got '
                                 f'{values}')
        if len(num_blocks) != len(widths):
            raise ValueError(
                f'arch needs one width per stage: {len(num_blocks)} stages '
                f'(num_blocks={num_blocks}) but widths={widths}')
        return dict(num_blocks=num_blocks, widths=widths)

    @staticmethod
    def _parse_indices(indices: Sequence[int], num_stages: int,
                       name: str) -> Tuple[int, ...]:
        """Normalise negative stage indices and check their range."""
        parsed = []
        for index in indices:
            if not isinstance(index,
                              int) or not (-num_stages <= index < num_stages):
                raise ValueError(f'{name} must hold stage indices in '
                                 f'[{-num_stages}, {num_stages}), got '
                                 f'{tuple(indices)}')
            parsed.append(index % num_stages)
        return tuple(parsed)

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Forward function.

        Args:
            x (Tensor): Images of shape (N, C, H, W).

        Returns:
            tuple[Tensor]: The outputs of the stages in ``out_indices``,
            then the fused map (if fusion is enabled); widths and strides are
            :attr:`out_channels` and :attr:`out_strides`.
        """
        stage_outs = []
        for stage in self.stages:
            x = stage(x)
            stage_outs.append(x)
        outs = [stage_outs[i] for i in self.out_indices]
        if self.fusion is not None:
            outs.append(
                self.fusion([stage_outs[i] for i in self.fusion_indices]))
        return tuple(outs)

    def switch_to_deploy(self, test_cfg: Optional[dict] = None) -> None:
        """Fold every block into its single-conv form, in place; idempotent.

        Args:
            test_cfg (dict, optional): Passed by MMPose's estimator walk;
                unused. Defaults to None.
        """
        for module in self.modules():
            if isinstance(module, RepVGGBlock):
                module.switch_to_deploy(test_cfg)
        self.deploy = True

    def _freeze_stages(self) -> None:
        """Freeze the stages up to ``frozen_stages``."""
        for stage in self.stages[:self.frozen_stages + 1]:
            stage.eval()
            for param in stage.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'RepVGGFusion':
        """Set train mode, keeping frozen stages and (with ``norm_eval``)
        norms in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

"""RepVGG with multi-level fusion: the backbone of RepNet.

RepNet is a lightweight regression-based top-down pose estimator: a RepVGG
body (`RepVGG: Making VGG-style ConvNets Great Again
<https://arxiv.org/abs/2101.03697>`_) whose last three stages (strides 8, 16
and 32) are merged at stride 16, followed by a residual log-likelihood (RLE)
regression head. The body trains with multi-branch blocks and deploys as a
plain stack of 3x3 convolutions. The body is mmpretrain's ``RepVGG`` (module
names included), so its ImageNet checkpoints of RepVGG-A0 and -A1 load tensor
for tensor.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptMultiConfig
from mmpose_light_runtime.checks import check_int, is_int
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.repvgg_block import RepVGGBlock
from ..utils.pretrained import StrictPretrainedMixin, load_pretrained

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
class RepVGGFusion(StrictPretrainedMixin, BaseBackbone):
    """RepVGG body with multi-level fusion, the backbone of RepNet.

    The body is mmpretrain's ``RepVGG``: a stride-2 :class:`RepVGGBlock`
    ``stem``, then stages ``stage_1`` ... ``stage_n`` of blocks whose first
    one has stride 2. Levels are counted with the stem as level 0, so level
    ``i`` has stride ``2 ** (i + 1)``. The levels in ``fusion_indices`` (by
    default the last three: strides 8, 16 and 32) are merged at the middle
    one's scale by :class:`MultiLevelFusion`.

    Args:
        arch (str | dict): A key of :attr:`arch_settings` (``'A0'``,
            ``'A1'``, the RepVGG names the ImageNet checkpoints use) or of
            :attr:`arch_aliases` (``'A'`` for RepNet-A, ``'B'`` for
            RepNet-B), or a dict with ``num_blocks`` and ``widths`` (one
            positive int per stage after the stem) and optionally
            ``stem_channels`` (defaults to ``min(64, widths[0])``, as
            mmpretrain). Defaults to ``'A0'``.
        in_channels (int): Number of input image channels. Defaults to 3.
        out_indices (Sequence[int]): Levels whose outputs are returned, in
            front of the fused map. Defaults to ``()``.
        fusion_indices (Sequence[int], optional): Three consecutive levels
            to fuse; ``None`` disables the fusion (a plain RepVGG). Defaults
            to ``(2, 3, 4)``.
        fusion_channels (int): Width of the fused map. Defaults to 32, which
            together with the RLE head matches the sizes of RepNet-A and -B
            in the paper (see the configs).
        frozen_stages (int): Levels up to this index are frozen (eval mode,
            no gradients): 0 freezes the stem, 1 the stem and ``stage_1``
            ...; -1 freezes nothing. Defaults to -1.
        norm_cfg (dict): Config of the norm layers; the blocks need a
            BatchNorm to deploy. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activations. Defaults to
            ``dict(type='ReLU')``.
        norm_eval (bool): Keep the norm layers in eval mode while training.
            Defaults to False.
        deploy (bool): Build the blocks in their fused single-branch form,
            so that a checkpoint converted by ``tools/reparameterize.py``
            loads with ``strict=True``. Defaults to False.
        init_cfg (dict | list[dict], optional): Initialization config. A
            ``dict(type='Pretrained', checkpoint=..., prefix='backbone.')``
            entry loads an mmpretrain RepVGG checkpoint (training form)
            strictly into the body, folding it first in deploy mode; the
            fusion keeps its own initialization. Defaults to Kaiming for
            convs and ones/zeros for norms.

    Example:
        >>> import torch
        >>> model = RepVGGFusion('A0').eval()
        >>> outs = model(torch.rand(1, 3, 256, 192))
        >>> [tuple(o.shape) for o in outs]
        [(1, 32, 16, 12)]
        >>> model.out_strides
        (16,)
    """

    #: Bodies of mmpretrain's ``RepVGG.arch_settings`` with the widths
    #: written out: stage ``i`` (from 1) is ``64 * 2 ** (i - 1)`` times the
    #: arch's width factor wide, the stem ``min(64, stage 1)``.
    arch_settings: Dict[str, dict] = {
        # RepVGG-A0, width factors (0.75, 0.75, 0.75, 2.5): RepNet-A
        'A0': dict(
            stem_channels=48,
            num_blocks=(2, 4, 14, 1),
            widths=(48, 96, 192, 1280)),
        # RepVGG-A1, width factors (1, 1, 1, 2.5): RepNet-B
        'A1': dict(
            stem_channels=64,
            num_blocks=(2, 4, 14, 1),
            widths=(64, 128, 256, 1280)),
    }
    #: RepNet's names for the bodies in :attr:`arch_settings`.
    arch_aliases: Dict[str, str] = {'A': 'A0', 'B': 'A1'}

    def __init__(self,
                 arch: Union[str, dict] = 'A0',
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
        self.stage_channels = (self.arch['stem_channels'],
                               *self.arch['widths'])
        num_levels = len(self.stage_channels)
        self.stage_strides = tuple(2**(i + 1) for i in range(num_levels))

        self.out_indices = self._parse_indices(out_indices, num_levels,
                                               'out_indices')
        if fusion_indices is not None:
            fusion_indices = self._parse_indices(fusion_indices, num_levels,
                                                 'fusion_indices')
            first = fusion_indices[0]
            if fusion_indices != (first, first + 1, first + 2):
                raise ValueError('fusion_indices must be three consecutive '
                                 f'levels, got {fusion_indices}')
            check_int('`fusion_channels`', fusion_channels, minimum=1)
        elif not self.out_indices:
            raise ValueError('Without fusion (fusion_indices=None), '
                             'out_indices must name at least one level')
        self.fusion_indices = fusion_indices
        check_int('`frozen_stages`', frozen_stages, -1, num_levels - 1)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.deploy = deploy
        self.in_channels = in_channels
        self.norm_cfg = copy.deepcopy(norm_cfg)
        self.act_cfg = copy.deepcopy(act_cfg)

        def block(in_channels: int, out_channels: int,
                  stride: int) -> RepVGGBlock:
            return RepVGGBlock(
                in_channels,
                out_channels,
                stride=stride,
                norm_cfg=norm_cfg,
                act_cfg=act_cfg,
                deploy=deploy)

        self.stem = block(in_channels, self.arch['stem_channels'], 2)
        channels = self.arch['stem_channels']
        #: Names of the stages after the stem, in order.
        self.stages: List[str] = []
        for i, (num_blocks, width) in enumerate(
                zip(self.arch['num_blocks'], self.arch['widths'])):
            blocks = [block(channels, width, 2)]
            blocks += [block(width, width, 1) for _ in range(num_blocks - 1)]
            channels = width
            self.add_module(f'stage_{i + 1}', nn.Sequential(*blocks))
            self.stages.append(f'stage_{i + 1}')

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
            name = cls.arch_aliases.get(arch, arch)
            if name not in cls.arch_settings:
                raise ValueError(
                    f'Unknown arch {arch!r} for RepVGGFusion; choose from '
                    f'{sorted(cls.arch_settings) + sorted(cls.arch_aliases)}'
                    ' or pass a dict')
            return copy.deepcopy(cls.arch_settings[name])
        if not isinstance(arch, dict):
            raise TypeError('arch must be a str or a dict, got '
                            f'{type(arch).__name__}')
        if not {'num_blocks', 'widths'} <= set(arch) <= {
                'num_blocks', 'widths', 'stem_channels'
        }:
            raise ValueError(
                "An arch dict needs the keys 'num_blocks' and 'widths' (and "
                f"optionally 'stem_channels'), got {sorted(arch)}")
        num_blocks, widths = tuple(arch['num_blocks']), tuple(arch['widths'])
        stem_channels = arch.get('stem_channels', min([64, *widths[:1]]))
        for name, values in (('num_blocks', num_blocks), ('widths', widths),
                             ('stem_channels', (stem_channels, ))):
            if not values or not all(is_int(v, 1) for v in values):
                raise ValueError(f'arch {name} must be positive ints, got '
                                 f'{values}')
        if len(num_blocks) != len(widths):
            raise ValueError(
                f'arch needs one width per stage: {len(num_blocks)} stages '
                f'(num_blocks={num_blocks}) but widths={widths}')
        return dict(
            stem_channels=stem_channels, num_blocks=num_blocks, widths=widths)

    @staticmethod
    def _parse_indices(indices: Sequence[int], num_levels: int,
                       name: str) -> Tuple[int, ...]:
        """Normalise negative level indices and check their range."""
        if not all(is_int(i, -num_levels, num_levels - 1) for i in indices):
            raise ValueError(f'{name} must hold level indices in '
                             f'[{-num_levels}, {num_levels}), got '
                             f'{tuple(indices)}')
        return tuple(index % num_levels for index in indices)

    def levels(self) -> List[nn.Module]:
        """The stem and the stages, in order (level ``i`` is item ``i``)."""
        return [self.stem] + [getattr(self, name) for name in self.stages]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Forward function.

        Args:
            x (Tensor): Images of shape (N, C, H, W).

        Returns:
            tuple[Tensor]: The outputs of the levels in ``out_indices``,
            then the fused map (if fusion is enabled); widths and strides are
            :attr:`out_channels` and :attr:`out_strides`.
        """
        level_outs = []
        for level in self.levels():
            x = level(x)
            level_outs.append(x)
        outs = [level_outs[i] for i in self.out_indices]
        if self.fusion is not None:
            outs.append(
                self.fusion([level_outs[i] for i in self.fusion_indices]))
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

    def _load_pretrained(self, cfg: dict) -> None:
        """Load an mmpretrain RepVGG checkpoint into the body, strictly.

        Published checkpoints hold the training form; a deploy-mode model
        loads them into a training-form copy of its body and takes the
        folded weights. The fusion is not in the checkpoint and keeps its
        initialization.
        """
        kwargs = dict(
            checkpoint=cfg['checkpoint'],
            prefix=cfg.get('prefix'),
            map_location=cfg.get('map_location', 'cpu'))
        if not self.deploy:
            load_pretrained(
                self,
                new_modules=('fusion', ) if self.fusion is not None else (),
                **kwargs)
            return
        body = RepVGGFusion(
            arch=self.arch,
            in_channels=self.in_channels,
            out_indices=(-1, ),
            fusion_indices=None,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        load_pretrained(body, **kwargs)
        body.switch_to_deploy()
        result = self.load_state_dict(body.state_dict(), strict=False)
        assert all(k.startswith('fusion.') for k in result.missing_keys)

    def _freeze_stages(self) -> None:
        """Freeze the levels up to ``frozen_stages``."""
        for level in self.levels()[:self.frozen_stages + 1]:
            level.eval()
            for param in level.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'RepVGGFusion':
        """Set train mode, keeping frozen levels and (with ``norm_eval``)
        norms in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for module in self.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
        return self

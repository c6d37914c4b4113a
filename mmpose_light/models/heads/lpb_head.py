"""Top-down heatmap head of MobilePoseNet: a stack of LPBs, then 1x1 conv.

It is MMPose's :class:`HeatmapHead` whose transposed-convolution layers are
:class:`mmpose_light.models.layers.LPB` blocks, built through the head's own
``_make_deconv_layers`` hook, so the head
contract (flip test, codecs, loss with target weights, ``acc_pose``,
``predict``) is MMPose's own, and the head fits any backbone whose last
feature map has ``in_channels`` channels.

With deploy-form LPBs, the last one's output phases stay side by side
through the final 1x1 convolution and are interleaved after it, on the
keypoint channels instead of the LPB's wider output.
"""
import copy
from typing import Sequence, Tuple

from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn

from ..layers.lpb import LPB, interleave_phases

__all__ = ['LPBHeatmapHead']


@MODELS.register_module()
class LPBHeatmapHead(HeatmapHead):
    """Heatmap head upsampling with LPBs (x2 each) before the final conv.

    Each LPB doubles the resolution, so a stride-16 feature map with two LPBs
    gives stride-4 heatmaps (64x48 for a 256x192 input).

    Args:
        in_channels (int): Channels of the last input feature map.
        out_channels (int): Number of keypoints (heatmap channels).
        lpb_out_channels (Sequence[int]): Output channels of each LPB; its
            length is the number of LPBs. Defaults to ``(128, 128)``.
        lpb_mid_channels (Sequence[int]): Expanded channels of each LPB.
            Defaults to ``(512, 512)``.
        lpb_cfg (dict, optional): Further keyword arguments of every
            :class:`LPB` (``kernel_size``, ``norm_cfg``, ``act_cfg``,
            ``project_act_cfg``, ``with_se``, ``se_cfg``, ``deploy``: a
            deploy config sets ``lpb_cfg=dict(deploy=True)`` to load a
            checkpoint converted by ``tools/reparameterize.py``). Defaults
            to ``None`` (LPB's defaults).
        final_layer (dict, optional): Arguments of the final Conv2d layer;
            ``None`` drops it. Defaults to ``dict(kernel_size=1)``.
        loss (dict): Config of the keypoint loss.
            Defaults to ``dict(type='KeypointMSELoss',
            use_target_weight=True)``.
        decoder (dict, optional): Codec that decodes keypoints from the
            heatmaps. Defaults to ``None``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to ``None``, :attr:`HeatmapHead.default_init_cfg`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 lpb_out_channels: Sequence[int] = (128, 128),
                 lpb_mid_channels: Sequence[int] = (512, 512),
                 lpb_cfg: OptConfigType = None,
                 final_layer: OptConfigType = dict(kernel_size=1),
                 loss: ConfigType = dict(
                     type='KeypointMSELoss', use_target_weight=True),
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if not isinstance(in_channels, int):
            raise TypeError('LPBHeatmapHead takes the last feature map only: '
                            'in_channels must be an int, but got '
                            f'{in_channels!r}')
        lpb_out_channels = tuple(lpb_out_channels)
        lpb_mid_channels = tuple(lpb_mid_channels)
        if len(lpb_out_channels) != len(lpb_mid_channels):
            raise ValueError(
                'lpb_out_channels and lpb_mid_channels must have one entry '
                f'per LPB, but got {lpb_out_channels} and {lpb_mid_channels}')
        lpb_cfg = copy.deepcopy(dict(lpb_cfg or {}))
        # Read by _make_deconv_layers, which HeatmapHead.__init__ calls.
        self.lpb_out_channels = lpb_out_channels
        self.lpb_mid_channels = lpb_mid_channels
        self.lpb_cfg = lpb_cfg

        super().__init__(
            in_channels=in_channels,
            out_channels=out_channels,
            deconv_out_channels=lpb_out_channels,
            deconv_kernel_sizes=(lpb_cfg.get('kernel_size', 4), ) *
            len(lpb_out_channels),
            conv_out_channels=None,
            final_layer=final_layer,
            loss=loss,
            decoder=decoder,
            init_cfg=init_cfg)

    def _make_deconv_layers(self, in_channels: int,
                            layer_out_channels: Sequence[int],
                            layer_kernel_sizes: Sequence[int]) -> nn.Module:
        """Build the LPB stack in place of HeatmapHead's deconv layers.

        HeatmapHead calls this hook with the LPBs' output channels and
        kernel sizes; the expanded widths and the other LPB options come from
        :attr:`lpb_mid_channels` and :attr:`lpb_cfg`.

        Args:
            in_channels (int): Channels of the head's input.
            layer_out_channels (Sequence[int]): Output channels of each LPB.
            layer_kernel_sizes (Sequence[int]): Transposed-conv kernel size
                of each LPB.

        Returns:
            nn.Sequential: The LPBs, in order.
        """
        layers = []
        for out_channels, mid_channels, kernel_size in zip(
                layer_out_channels, self.lpb_mid_channels,
                layer_kernel_sizes):
            cfg = dict(copy.deepcopy(self.lpb_cfg), kernel_size=kernel_size)
            layers.append(LPB(in_channels, out_channels, mid_channels, **cfg))
            in_channels = out_channels
        return nn.Sequential(*layers)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Forward the network: LPBs, then the final layer.

        Args:
            feats (Tuple[Tensor]): Multi-scale feature maps; the last one is
                used.

        Returns:
            Tensor: The heatmaps.
        """
        if not self._phases_through_final_layer():
            return super().forward(feats)
        *blocks, last = self.deconv_layers
        x = feats[-1]
        for block in blocks:
            x = block(x)
        # a 1x1 convolution works pixel by pixel, so it may run on the
        # phases side by side; interleaving its narrower output is cheaper
        return interleave_phases(self.final_layer(last(x, interleave=False)))

    def _phases_through_final_layer(self) -> bool:
        """Whether the last LPB is in deploy form and followed only by layers
        that work pixel by pixel."""
        if not isinstance(self.deconv_layers, nn.Sequential):
            return False
        last = self.deconv_layers[-1]
        if not (isinstance(last, LPB) and last.deploy):
            return False
        final = self.final_layer
        pointwise = isinstance(final, nn.Identity) or (
            isinstance(final, nn.Conv2d) and final.kernel_size == (1, 1)
            and final.stride == (1, 1) and final.padding == (0, 0))
        return pointwise and isinstance(self.conv_layers, nn.Identity)

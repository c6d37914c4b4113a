"""LPB, the lightweight upsampling block of MobilePoseNet.

A plain transposed convolution upsampling C to C' channels costs
``k * k * C * C'`` weights per output pixel. LPB spends its width in a
depthwise transposed convolution instead, between two pointwise convolutions
(the inverted-residual pattern of MobileNetV2/V3 turned into an upsampler),
and re-weights the result with channel attention, SENet's
(`Squeeze-and-Excitation Networks <https://arxiv.org/abs/1709.01507>`_,
sigmoid gate) as the paper states.

LPB trains in that form and deploys in a sub-pixel form, as RepVGG blocks
deploy fused. Every output pixel ``(2m + a, 2n + b)`` of a stride-2
transposed convolution is a plain convolution of the input around ``(m,
n)`` whose kernel depends only on the pixel's phase ``(a, b)``: for a 4x4
transposed kernel, 2x2 of its taps, placed in a 3x3 kernel whose other taps
are zero so that every phase pads its input alike. The deploy form computes
the four phases with four depthwise convolutions at the input resolution,
BatchNorm folded into every convolution, projects each phase, and keeps the
phases side by side along the width through the attention (its global
average over the four phases is the one over the upsampled map, and its gate
acts per channel) until one interleave gives the upsampled layout. Inference
engines run a depthwise transposed convolution one channel at a time, and a
depthwise convolution with their fast kernels, so the deploy form is faster
(docs/int8.md has the measurements).
"""
import copy
import warnings
from typing import Dict, List, Optional, Tuple

import torch
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from mmpose.models.backbones.utils import SELayer
from mmpose.utils.typing import OptConfigType, OptMultiConfig
from mmpose_light_runtime.checks import check_bool, check_int
from torch import Tensor, nn

from ..utils.conv_norm_fusion import check_foldable_norm, fuse_conv_norm

__all__ = [
    'LPB', 'PHASES', 'SE_CFG', 'interleave_phases', 'deinterleave_phases'
]

#: LPB's default attention, as keyword arguments of MMPose's ``SELayer``.
#: The paper "directly use[s] SENet": global average, a 1x1 conv squeezing
#: the channels, ReLU, a 1x1 conv restoring them, a sigmoid gate. It does
#: not state the squeeze ratio; 4 is that of the encoder's (MobileNetV3's)
#: SE blocks, where SENet's own default is 16.
SE_CFG = dict(ratio=4, act_cfg=(dict(type='ReLU'), dict(type='Sigmoid')))

# kernel size of the x2 transposed convolution -> padding that doubles H, W
_UPSAMPLE_PADDING = {2: 0, 4: 1}
# output phases (a, b) (rows 2m + a, columns 2n + b) in the order they lie
# side by side along the width
PHASES = ((0, 0), (0, 1), (1, 0), (1, 1))
# the modules that exist in one form only (state dict keys tell the forms
# apart)
_TRAINING_ONLY = 'upsample_conv'
_DEPLOY_ONLY = 'upsample_phases'


def _phase_taps(kernel_size: int, padding: int, phase: int) -> Dict[int, int]:
    """The taps of a stride-2 transposed kernel that reach one output phase.

    Along one axis, ``y[o] = sum_t x[i] w[t]`` over ``o = 2i + t -
    padding``, so output ``o = 2m + phase`` receives the taps ``t`` of the
    parity of ``phase + padding``, each from input ``x[m + d]`` with ``d =
    (phase + padding - t) / 2``: a plain (cross-correlation) convolution
    whose kernel holds ``w[t]`` at offset ``d`` from its centre.

    Args:
        kernel_size (int): Kernel size of the transposed convolution.
        padding (int): Its padding.
        phase (int): 0 for the even outputs, 1 for the odd ones.

    Returns:
        dict[int, int]: Input offset ``d`` to kernel tap ``t``.
    """
    return {(phase + padding - t) // 2: t
            for t in range(kernel_size) if (t - phase - padding) % 2 == 0}


def _sizes(x: Tensor) -> List[int]:
    """``x.shape`` as Python ints, with the batch as -1 under tracing.

    An exported graph then reshapes to constant shapes, dynamic in the batch
    only, which ONNX's static shape inference (and with it the quantizer and
    the profiler) follows through the interleaving.
    """
    if not torch.jit.is_tracing():
        return list(x.shape)
    with warnings.catch_warnings():
        # the tracer warns that these sizes become constants of the graph,
        # which is the point here
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        return [-1] + [int(size) for size in x.shape[1:]]


def interleave_phases(phases: Tensor) -> Tensor:
    """Interleave four phases lying side by side into the upsampled map.

    Args:
        phases (Tensor): Shape ``(N, C, H, 4W)``: the phases of
            :data:`PHASES`, each ``(N, C, H, W)``, concatenated along the
            width.

    Returns:
        Tensor: Shape ``(N, C, 2H, 2W)``, phase ``(a, b)`` at rows ``2m +
        a`` and columns ``2n + b``.
    """
    n, c, h, w4 = _sizes(phases)
    w = w4 // 4
    # (N, C, H, [a, b, W]) -> (N, C, [H, a], [W, b])
    return phases.reshape(n, c, h, 2, 2, w).transpose(4, 5).reshape(
        n, c, 2 * h, 2 * w)


def deinterleave_phases(x: Tensor) -> Tensor:
    """The inverse of :func:`interleave_phases`.

    Args:
        x (Tensor): Shape ``(N, C, 2H, 2W)``.

    Returns:
        Tensor: Shape ``(N, C, H, 4W)``, the phases of :data:`PHASES` side
        by side.
    """
    n, c, h2, w2 = _sizes(x)
    h, w = h2 // 2, w2 // 2
    return x.reshape(n, c, h, 2, w, 2).transpose(4, 5).reshape(
        n, c, h, 4 * w)


class LPB(BaseModule):
    """Lightweight upsampling block: x2 upsampling with channel attention.

    ``expand_conv`` (1x1, C -> E, BN, act) -> ``upsample_conv`` (depthwise
    transposed conv, stride 2, on the E channels, BN, act) ->
    ``project_conv`` (1x1, E -> C', BN, no activation by default) gives
    ``y``; the output is ``y + y * se(y)`` where ``se(y)`` are the per-channel
    weights of a squeeze-and-excitation layer.

    In deploy form (``deploy=True``, or after :meth:`switch_to_deploy`)
    ``expand_conv`` and ``project_conv`` are 1x1 convolutions with bias and
    ``upsample_conv`` is replaced by ``upsample_phases``, four depthwise
    convolutions with bias and activation, one per output phase (see
    :data:`PHASES` and :attr:`phase_kernel_size`); the output is the same.
    A checkpoint of one form does not load into the other:
    ``tools/reparameterize.py`` converts training checkpoints.

    Args:
        in_channels (int): Input channels C.
        out_channels (int): Output channels C'.
        mid_channels (int): Expanded channels E of the depthwise transposed
            convolution.
        kernel_size (int): Kernel size of the transposed convolution, 4 or 2
            (both double the height and width exactly). Defaults to 4.
        norm_cfg (dict, optional): Config of the normalization layers; the
            deploy form needs a BatchNorm (or none) to fold.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation after the expansion and the
            upsampling. Defaults to ``dict(type='ReLU')``.
        project_act_cfg (dict, optional): Activation after the projection.
            Defaults to ``None`` (a linear bottleneck, as in MobileNetV2/V3).
        with_se (bool): Apply the attention; without it the output is
            ``y``. Defaults to ``True``.
        se_cfg (dict, optional): Keyword arguments of
            :class:`mmpose.models.backbones.utils.SELayer` besides
            ``channels``. Defaults to ``None``: :data:`SE_CFG`, the SENet
            attention that the paper names (squeeze, ReLU, excitation,
            sigmoid gate).
        deploy (bool): Build the deploy form directly, so that a converted
            checkpoint loads with ``strict=True``. Defaults to ``False``.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to ``None``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: int,
                 kernel_size: int = 4,
                 norm_cfg: OptConfigType = dict(type='BN'),
                 act_cfg: OptConfigType = dict(type='ReLU'),
                 project_act_cfg: OptConfigType = None,
                 with_se: bool = True,
                 se_cfg: OptConfigType = None,
                 deploy: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_int('`in_channels` of LPB', in_channels, minimum=1)
        check_int('`out_channels` of LPB', out_channels, minimum=1)
        check_int('`mid_channels` of LPB', mid_channels, minimum=1)
        if kernel_size not in _UPSAMPLE_PADDING:
            raise ValueError('LPB kernel_size must be one of '
                             f'{sorted(_UPSAMPLE_PADDING)}, but got '
                             f'{kernel_size!r}')
        check_bool('`deploy` of LPB', deploy)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mid_channels = mid_channels
        self.kernel_size = kernel_size
        self.norm_cfg = copy.deepcopy(norm_cfg)
        self.act_cfg = copy.deepcopy(act_cfg)
        self.project_act_cfg = copy.deepcopy(project_act_cfg)
        self.deploy = deploy

        if deploy:
            # Fail at build time rather than on a later conversion: a norm
            # that cannot fold has no deploy form.
            if norm_cfg is not None:
                check_foldable_norm(
                    build_norm_layer(self.norm_cfg, mid_channels)[1])
            self._build_deploy_layers()
        else:
            self.expand_conv = self._conv(in_channels, mid_channels,
                                          self.norm_cfg, self.act_cfg)
            self.upsample_conv = ConvModule(
                mid_channels,
                mid_channels,
                kernel_size=kernel_size,
                stride=2,
                padding=_UPSAMPLE_PADDING[kernel_size],
                groups=mid_channels,
                conv_cfg=dict(type='deconv'),
                norm_cfg=copy.deepcopy(self.norm_cfg),
                act_cfg=copy.deepcopy(self.act_cfg))
            self.project_conv = self._conv(mid_channels, out_channels,
                                           self.norm_cfg,
                                           self.project_act_cfg)
        self.with_se = with_se
        if with_se:
            self.se = SELayer(out_channels,
                              **copy.deepcopy(SE_CFG if se_cfg is None
                                              else se_cfg))

    @staticmethod
    def _conv(in_channels: int, out_channels: int, norm_cfg: OptConfigType,
              act_cfg: OptConfigType) -> ConvModule:
        """A 1x1 conv (with bias when there is no norm), norm and
        activation."""
        return ConvModule(
            in_channels,
            out_channels,
            kernel_size=1,
            norm_cfg=copy.deepcopy(norm_cfg),
            act_cfg=copy.deepcopy(act_cfg))

    @property
    def phase_kernel_size(self) -> int:
        """int: Kernel size of the deploy form's phase convolutions: 3 for
        a 4x4 transposed kernel, 1 for a 2x2 one.

        Odd, so that one symmetric padding serves every phase (PyTorch's
        convolutions pad symmetrically, and an explicit ``F.pad`` exports
        to ONNX with computed pads that static shape inference cannot
        follow): a phase that reads input offsets (-1, 0) has the last row
        or column of its 3x3 kernel zero, one that reads (0, +1) the first.
        """
        padding = _UPSAMPLE_PADDING[self.kernel_size]
        radius = max(
            abs(offset) for phase in (0, 1)
            for offset in _phase_taps(self.kernel_size, padding, phase))
        return 2 * radius + 1

    def _build_deploy_layers(self) -> None:
        """Set ``expand_conv``, ``upsample_phases`` and ``project_conv`` to
        their deploy form (convolutions with bias, no norm)."""
        self.expand_conv = self._conv(self.in_channels, self.mid_channels,
                                      None, self.act_cfg)
        self.upsample_phases = nn.ModuleList([
            ConvModule(
                self.mid_channels,
                self.mid_channels,
                kernel_size=self.phase_kernel_size,
                padding=self.phase_kernel_size // 2,
                groups=self.mid_channels,
                norm_cfg=None,
                act_cfg=copy.deepcopy(self.act_cfg)) for _ in PHASES
        ])
        self.project_conv = self._conv(self.mid_channels, self.out_channels,
                                       None, self.project_act_cfg)

    def forward(self, x: Tensor, interleave: bool = True) -> Tensor:
        """Upsample ``x`` by 2.

        Args:
            x (Tensor): Input in shape ``(N, in_channels, H, W)``.
            interleave (bool): Whether to return the upsampled map. With
                ``False`` the output's four phases come side by side, as the
                deploy form computes them, so that layers after the block
                that work pixel by pixel (1x1 convolutions, activations) can
                run on them and interleave once, later
                (:func:`interleave_phases`). Defaults to ``True``.

        Returns:
            Tensor: Output in shape ``(N, out_channels, 2H, 2W)``; with
            ``interleave=False``, ``(N, out_channels, H, 4W)``: its phases
            ``(a, b)`` of :data:`PHASES` (rows ``2m + a``, columns ``2n +
            b``), each ``(N, out_channels, H, W)``, concatenated along the
            width.
        """
        if not self.deploy:
            y = self.project_conv(self.upsample_conv(self.expand_conv(x)))
            y = self._attend(y)
            return y if interleave else deinterleave_phases(y)
        x = self.expand_conv(x)
        # Projecting each phase before the concatenation moves the narrower
        # projected maps instead of the expanded ones.
        y = torch.cat(
            [self.project_conv(conv(x)) for conv in self.upsample_phases],
            dim=3)
        # The attention's global average over the four phases is the one
        # over the interleaved map, so it applies to the phases as they are.
        y = self._attend(y)
        return interleave_phases(y) if interleave else y

    def _attend(self, y: Tensor) -> Tensor:
        """``y + y * se(y)``, or ``y`` without attention."""
        if self.with_se:
            # SELayer returns y * se(y): adding y keeps the identity path, so
            # attention can only boost channels, never zero them out.
            y = y + self.se(y)
        return y

    def get_equivalent_kernel_bias(self) -> Dict[str, Tuple[Tensor, Tensor]]:
        """The deploy form's kernels and biases, BatchNorm folded.

        This does not modify the block.

        Returns:
            dict[str, tuple[Tensor, Tensor]]: Kernel and bias by deploy-form
            convolution: ``'expand_conv'`` (E, C, 1, 1), ``'project_conv'``
            (C', E, 1, 1), and ``'upsample_phases.i'`` (E, 1, K, K) for
            the phase ``PHASES[i]``, with K the :attr:`phase_kernel_size`;
            biases are (out channels, ).
        """
        if self.deploy:
            convs = dict(
                expand_conv=self.expand_conv,
                project_conv=self.project_conv,
                **{
                    f'{_DEPLOY_ONLY}.{i}': conv
                    for i, conv in enumerate(self.upsample_phases)
                })
            return {
                name: (module.conv.weight.detach().clone(),
                       module.conv.bias.detach().clone())
                for name, module in convs.items()
            }
        params = dict(
            expand_conv=_fold(self.expand_conv),
            project_conv=_fold(self.project_conv))
        # A depthwise transposed kernel is (E, 1, k, k) with input channel e
        # feeding output channel e, so the BatchNorm scales its dim 0 as it
        # scales a conv's output channels.
        kernel, bias = _fold(self.upsample_conv)
        padding = _UPSAMPLE_PADDING[self.kernel_size]
        size = self.phase_kernel_size
        for i, (a, b) in enumerate(PHASES):
            phase_kernel = kernel.new_zeros(self.mid_channels, 1, size, size)
            for dy, ty in _phase_taps(self.kernel_size, padding, a).items():
                for dx, tx in _phase_taps(self.kernel_size, padding,
                                          b).items():
                    phase_kernel[:, :, dy + size // 2,
                                 dx + size // 2] = kernel[:, :, ty, tx]
            params[f'{_DEPLOY_ONLY}.{i}'] = (phase_kernel, bias.clone())
        return params

    def switch_to_deploy(self, test_cfg: Optional[dict] = None) -> None:
        """Convert the block to its deploy form, in place.

        Calling it again does nothing, so MMPose's
        ``BasePoseEstimator.switch_to_deploy()``, which walks every
        sub-module, is safe after :func:`reparameterize_model`.

        Args:
            test_cfg (dict, optional): Passed by MMPose's estimator walk;
                unused. Defaults to None.
        """
        if self.deploy:
            return
        params = self.get_equivalent_kernel_bias()
        weight = self.upsample_conv.conv.weight
        del self.upsample_conv
        self._build_deploy_layers()
        for name, (kernel, bias) in params.items():
            conv = self.get_submodule(name).conv
            conv.to(device=weight.device, dtype=weight.dtype)
            conv.weight.data.copy_(kernel)
            conv.bias.data.copy_(bias)
        self.deploy = True

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Refuse a state dict of the other form with a clear message.

        Without this, a non-strict load (MMEngine's default for
        ``load_from``) would silently keep random weights.
        """
        modules = {
            key[len(prefix):].split('.', 1)[0]
            for key in state_dict if key.startswith(prefix)
        }
        if self.deploy and _TRAINING_ONLY in modules:
            raise ValueError(
                'The state dict holds training-form weights '
                f'({prefix}{_TRAINING_ONLY} ...) for a deploy-form LPB; '
                'convert the checkpoint with tools/reparameterize.py first.')
        if not self.deploy and _DEPLOY_ONLY in modules:
            raise ValueError(
                'The state dict holds deploy-form weights '
                f'({prefix}{_DEPLOY_ONLY} ...) for a training-form LPB; '
                'build the model with deploy=True (LPBHeatmapHead: '
                'lpb_cfg=dict(deploy=True)) to load it.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


def _fold(module: ConvModule) -> Tuple[Tensor, Tensor]:
    """Kernel and bias of a ConvModule's conv with its norm folded in."""
    conv = module.conv
    if module.with_norm:
        return fuse_conv_norm(conv.weight, module.norm, conv.bias)
    return conv.weight.detach().clone(), conv.bias.detach().clone()

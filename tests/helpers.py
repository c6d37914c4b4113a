"""Helpers for tests of mmpose_light models and of models built from it.

Re-parameterization and export checks must run with non-default BatchNorm
statistics: with the defaults (mean 0, variance 1, weight 1, bias 0) a fusion
that drops ``running_mean`` or mis-scales by ``running_var`` still passes.

mmpretrain's backbones are the reference for the layouts of published
ImageNet checkpoints; :func:`import_mmpretrain_backbones` imports them
without torchvision.
"""
import enum
import importlib
import sys
import types
from typing import Tuple

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'randomize_batchnorm', 'predict_keypoints', 'import_mmpretrain_backbones'
]


def randomize_batchnorm(model: nn.Module,
                        seed: int = 0,
                        mean_std: float = 0.2,
                        var_range: Tuple[float, float] = (0.5, 1.5),
                        weight_range: Tuple[float, float] = (0.2, 0.6),
                        bias_std: float = 0.2) -> nn.Module:
    """Give every BatchNorm of ``model`` random statistics and parameters.

    Args:
        model (nn.Module): Changed in place.
        seed (int): Seed of the generator. Defaults to 0.
        mean_std (float): ``running_mean`` ~ N(0, mean_std^2).
            Defaults to 0.2.
        var_range (tuple[float, float]): ``running_var`` ~ U(var_range).
            Defaults to (0.5, 1.5).
        weight_range (tuple[float, float]): ``weight`` ~ U(weight_range).
            Defaults to (0.2, 0.6), mild enough that activations stay of
            order one through a deep network.
        bias_std (float): ``bias`` ~ N(0, bias_std^2). Defaults to 0.2.

    Returns:
        nn.Module: ``model``.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(n: int, low_high: Tuple[float, float]) -> torch.Tensor:
        low, high = low_high
        return torch.rand(n, generator=gen) * (high - low) + low

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=gen) * mean_std)
                m.running_var.copy_(uniform(n, var_range))
                m.weight.copy_(uniform(n, weight_range))
                m.bias.copy_(torch.randn(n, generator=gen) * bias_std)
    return model


def predict_keypoints(model: nn.Module,
                      batch_size: int = 2,
                      input_size: Tuple[int, int] = (192, 256)
                      ) -> torch.Tensor:
    """Keypoints a top-down estimator predicts on fixed packed inputs.

    Args:
        model (nn.Module): A top-down pose estimator in eval mode.
        batch_size (int): Number of samples. Defaults to 2.
        input_size (tuple[int, int]): Input (w, h). Defaults to (192, 256).

    Returns:
        torch.Tensor: Predicted keypoints. Shape (batch_size, K, 2).
    """
    from mmpose.testing import get_packed_inputs

    # get_packed_inputs shuffles flip indices with numpy's global generator;
    # seeding it gives every call the same samples.
    np.random.seed(0)
    data = get_packed_inputs(
        batch_size=batch_size,
        num_keypoints=17,
        img_shape=(64, 48),
        input_size=input_size,
        with_heatmap=False,
        with_simcc_label=False)
    data = model.data_preprocessor(data, training=False)
    with torch.no_grad():
        preds = model(data['inputs'], data['data_samples'], mode='predict')
    return torch.stack(
        [torch.from_numpy(p.pred_instances.keypoints).float() for p in preds])


class _InterpolationMode(enum.Enum):
    """The members of ``torchvision.transforms.InterpolationMode`` that
    mmpretrain reads at import time."""
    NEAREST = 'nearest'
    BILINEAR = 'bilinear'
    BICUBIC = 'bicubic'
    BOX = 'box'
    HAMMING = 'hamming'
    LANCZOS = 'lanczos'


def import_mmpretrain_backbones() -> types.ModuleType:
    """Import ``mmpretrain.models.backbones``, with torchvision or without.

    ``import mmpretrain`` imports its data transforms and box utilities,
    which import torchvision at module level; the backbones never use it.
    When no working torchvision is installed (see
    :mod:`mmpose_light.compat.torchvision_fallback`), stand-in modules with
    just the names those imports read are put in ``sys.modules`` for the
    duration of the import and removed afterwards, so that ``import
    torchvision`` fails again as before. For tests only: mmpretrain's
    torchvision-based transforms do not work after this.

    Returns:
        module: ``mmpretrain.models.backbones``.
    """
    from mmpose_light.compat.torchvision_fallback import (
        ToPILImage, torchvision_available)

    name = 'mmpretrain.models.backbones'
    if name in sys.modules or torchvision_available():
        return importlib.import_module(name)

    def module(path: str, **attrs) -> types.ModuleType:
        stand_in = types.ModuleType(path)
        stand_in.__dict__.update(attrs)
        return stand_in

    functional = module('torchvision.transforms.functional')
    transforms_module = module(
        'torchvision.transforms.transforms',
        InterpolationMode=_InterpolationMode)
    transforms = module(
        'torchvision.transforms',
        ToPILImage=ToPILImage,
        InterpolationMode=_InterpolationMode,
        functional=functional,
        transforms=transforms_module)
    boxes = module('torchvision.ops.boxes')
    ops = module('torchvision.ops', boxes=boxes)
    stand_ins = {
        'torchvision': module('torchvision', transforms=transforms, ops=ops),
        'torchvision.transforms': transforms,
        'torchvision.transforms.functional': functional,
        'torchvision.transforms.transforms': transforms_module,
        'torchvision.ops': ops,
        'torchvision.ops.boxes': boxes,
    }
    sys.modules.update(stand_ins)
    try:
        return importlib.import_module(name)
    finally:
        for path in stand_ins:
            sys.modules.pop(path, None)

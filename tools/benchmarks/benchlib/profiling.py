"""Build models offline and measure their size the way MMPose users do.

Params and FLOPs come from MMEngine's complexity counter applied to the
estimator's ``_forward`` (as MMPose's ``tools/analysis_tools/get_flops.py``
does), so figures match what users get from that tool. Timing lives in
:mod:`benchlib`.
"""
from typing import Sequence, Tuple

import torch
from torch import nn

__all__ = ['get_complexity', 'load_config', 'build_offline', 'strip_external']


def load_config(config: str):
    """Load a config file, or a stock one given as ``mmpose::path``."""
    from mmengine.config import Config
    from mmengine.hub import get_config
    if config.startswith('mmpose::'):
        return get_config(config)
    return Config.fromfile(config)


def strip_external(cfg: object) -> object:
    """Drop what needs a network or another package from a model config.

    Every ``init_cfg`` that loads a checkpoint goes; other initialisers stay,
    so weights are random but distributed as when training from scratch.
    ``_scope_='mmdet'`` (RTMPose's ``CSPNeXt``) goes too: MMPose registers
    the same backbone itself.
    """
    if isinstance(cfg, dict):
        init_cfg = cfg.get('init_cfg')
        inits = init_cfg if isinstance(init_cfg, list) else [init_cfg]
        if any(isinstance(i, dict) and i.get('type') == 'Pretrained'
               for i in inits):
            cfg.pop('init_cfg')
        if cfg.get('_scope_') == 'mmdet':
            cfg.pop('_scope_')
        for value in cfg.values():
            strip_external(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_external(value)
    return cfg


def build_offline(config: str) -> Tuple[nn.Module, object]:
    """Build a config's model with random weights, without a network.

    Args:
        config (str): A config file, or a stock one as ``mmpose::path``.

    Returns:
        tuple[nn.Module, Config]: The model in eval mode, on CPU, and the
        loaded config.
    """
    from mmengine.registry import DefaultScope
    from mmpose.registry import MODELS

    cfg = load_config(config)
    # MMEngine's complexity counter leaves its own scope as the default one
    with DefaultScope.overwrite_default_scope('mmpose'):
        model = MODELS.build(strip_external(cfg.model.to_dict()))
        model.init_weights()
    return model.eval(), cfg


def get_complexity(model: nn.Module,
                   input_shape: Sequence[int]) -> Tuple[int, int]:
    """Count parameters and FLOPs with MMEngine's counter.

    Args:
        model (nn.Module): A pose estimator (its ``_forward`` is counted, the
            network without post-processing) or any module.
        input_shape (Sequence[int]): Input shape without the batch dimension,
            e.g. ``(3, 256, 192)``.

    Returns:
        tuple[int, int]: ``(params, flops)``; FLOPs count one multiply-add as
        one operation, as MMEngine (and the papers' tables) do.
    """
    from mmengine.analysis import get_model_complexity_info

    target = model
    if hasattr(model, '_forward'):
        target = _ForwardOnly(model)
    was_training = model.training
    model.eval()
    try:
        info = get_model_complexity_info(
            target, tuple(input_shape), show_table=False, show_arch=False)
    finally:
        model.train(was_training)
    return int(info['params']), int(info['flops'])


class _ForwardOnly(nn.Module):
    """Wrap an estimator so that calling it runs ``_forward`` only."""

    def __init__(self, estimator: nn.Module) -> None:
        super().__init__()
        self.estimator = estimator

    def forward(self, inputs: torch.Tensor):
        return self.estimator._forward(inputs)

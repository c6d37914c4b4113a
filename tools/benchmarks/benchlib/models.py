"""The models the benchmarks measure, built offline with random weights.

:data:`MODELS_TABLE` names every model of the benchmark suite: ours, in
training and deployed form where they re-parameterize, and MMPose's stock
references, each with the COCO AP its paper or MMPose's model zoo reports.
Speed does not depend on the weights, so models are built from their
configs without checkpoints (:func:`~benchlib.build_offline`);
:func:`calibrate_batchnorm` gives their BatchNorm layers the statistics of
a forward pass, so that activations neither vanish nor explode through a
deep random network, as they would not in a trained one (which matters to
INT8 calibration ranges and to float denormals).

Benchmarks run from a clone: configs and sample data are read from the
repository (:data:`ROOT`).
"""
import functools
import logging
import os
import os.path as osp
import sys
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Tuple

import torch
from mmengine.logging import MMLogger
from torch import nn

from mmpose_light.models.utils import reparameterize_model
from .model_index import (ModelIndexError, find_model, load_index,
                          mmpose_index_root, reported_metric)
from .profiling import build_offline

__all__ = [
    'ROOT', 'SAMPLE_DIR', 'ModelSpec', 'MODELS_TABLE', 'build_model',
    'input_hw', 'quiet_mmengine', 'calibrate_batchnorm', 'export_model'
]

#: The repository the benchmarks run from.
ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
#: The bundled COCO and MPII samples.
SAMPLE_DIR = osp.join(ROOT, 'data', 'sample')

_OURS = 'configs/body_2d_keypoint/'
_MPN = (_OURS + 'topdown_heatmap/coco/'
        'td-hm_mobilenetv3-lpb_1xb32-210e_coco-{}.py')
_REPNET = (_OURS + 'topdown_regression/coco/'
           'td-reg_repvgg-{}-fusion_rle-1xb64-210e_coco-256x192.py')
_STOCK = 'mmpose::body_2d_keypoint/'


@dataclass(frozen=True)
class ModelSpec:
    """A benchmarked model.

    Its reported accuracy comes from the model index that lists its config:
    ours (``model-index.yml``) or MMPose's, installed with it.

    Args:
        config (str): Config path relative to the repository, or
            ``mmpose::`` path of a stock config.
        ours (bool): Whether the model is one of mmpose_light's.
        form (str): ``'train'`` or ``'deploy'`` for re-parameterizable
            models (``'deploy'`` is the training model converted with
            ``reparameterize_model``), ``'-'`` otherwise. Defaults to
            ``'-'``.
    """
    config: str
    ours: bool
    form: str = '-'

    @property
    def path(self) -> str:
        """The config file to build."""
        if self.config.startswith('mmpose::'):
            return self.config
        return osp.join(ROOT, self.config)

    @property
    def index_entry(self) -> dict:
        """The config's entry in its model index."""
        if self.ours:
            return find_model(_our_index(), self.config)
        rel = 'configs/' + self.config[len('mmpose::'):]
        return find_model(_mmpose_index(), rel)

    @property
    def ap(self) -> float:
        """COCO val2017 AP (percent) as reported (:attr:`ap_source`)."""
        ap = reported_metric(self.index_entry)
        if ap is None:
            raise ModelIndexError(
                f'{self.config}: its model index entry reports no AP')
        return round(ap * 100, 1)

    @property
    def paper_size(self) -> Optional[Tuple[float, float]]:
        """The paper's (params in M, GFLOPs) of this model in this form, from
        the metafile entry of the same family, input and form; None where
        the paper gives none."""
        if not self.ours:
            return None
        entry = self.index_entry
        form = 'deploy' if self.form == 'deploy' else 'training'
        for model in _our_index().values():
            meta = model['Metadata']
            if (model['_metafile'] == entry['_metafile']
                    and meta.get('Form') == form
                    and meta.get('Input Size') ==
                    entry['Metadata'].get('Input Size')
                    and meta.get('Architecture') ==
                    entry['Metadata'].get('Architecture')
                    and meta.get('Paper Parameters')):
                return meta['Paper Parameters'] / 1e6, \
                    meta['Paper FLOPs'] / 1e9
        return None

    @property
    def ap_source(self) -> str:
        """Where :attr:`ap` comes from."""
        if self.ours:
            entry = self.index_entry
            return f'{entry["In Collection"]} paper ({entry["_metafile"]})'
        return 'MMPose model zoo'


@functools.lru_cache(maxsize=None)
def _our_index() -> Dict[str, dict]:
    return load_index(ROOT)


@functools.lru_cache(maxsize=None)
def _mmpose_index() -> Dict[str, dict]:
    return load_index(mmpose_index_root(), strict=False)


# Ours first, then MMPose's stock references.
MODELS_TABLE: Dict[str, ModelSpec] = {
    'MobilePoseNet-256x192-train': ModelSpec(_MPN.format('256x192'), True,
                                             'train'),
    'MobilePoseNet-256x192-deploy': ModelSpec(_MPN.format('256x192'), True,
                                              'deploy'),
    'MobilePoseNet-384x288-train': ModelSpec(_MPN.format('384x288'), True,
                                             'train'),
    'MobilePoseNet-384x288-deploy': ModelSpec(_MPN.format('384x288'), True,
                                              'deploy'),
    'RepNet-A-train': ModelSpec(_REPNET.format('a'), True, 'train'),
    'RepNet-A-deploy': ModelSpec(_REPNET.format('a'), True, 'deploy'),
    'RepNet-B-train': ModelSpec(_REPNET.format('b'), True, 'train'),
    'RepNet-B-deploy': ModelSpec(_REPNET.format('b'), True, 'deploy'),
    'SimpleBaseline-R50': ModelSpec(
        _STOCK + 'topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
        False),
    'SimpleBaseline-MNv2': ModelSpec(
        _STOCK + 'topdown_heatmap/coco/'
        'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py', False),
    'LiteHRNet-18': ModelSpec(
        _STOCK + 'topdown_heatmap/coco/'
        'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py', False),
    'RTMPose-t': ModelSpec(
        _STOCK + 'rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py', False),
    'RTMPose-s': ModelSpec(
        _STOCK + 'rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py', False),
    'RLE-R50': ModelSpec(
        _STOCK + 'topdown_regression/coco/'
        'td-reg_res50_rle-8xb64-210e_coco-256x192.py', False),
}

# Stock layers call the deprecated ``torch.cuda.amp.autocast`` on every
# forward; the warning says nothing about a benchmark.
warnings.filterwarnings(
    'ignore', message=r'`torch\.cuda\.amp\.autocast', category=FutureWarning)
warnings.filterwarnings(
    'ignore', message='In MMCV v1.4.4, we modified', category=UserWarning)


@contextmanager
def quiet_mmengine() -> Iterator[None]:
    """Hide MMEngine's info and warnings (weight-init dumps, operators
    the FLOP counter skips, as MMPose's ``get_flops.py`` also skips them)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def input_hw(cfg) -> Tuple[int, int]:
    """Input (H, W) of a config, from its codec's ``input_size`` (W, H)."""
    codec = cfg.get('codec') or cfg.model.head.decoder
    width, height = codec['input_size']
    return int(height), int(width)


def calibrate_batchnorm(model: nn.Module,
                        input_hw: Tuple[int, int],
                        seed: int = 0) -> nn.Module:
    """Set every BatchNorm's statistics from one forward pass of a random
    normal batch of 4; returns the model in eval mode.

    Args:
        model (nn.Module): A pose estimator, changed in place.
        input_hw (tuple[int, int]): Its input (H, W).
        seed (int): Seed of the batch. Defaults to 0.
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a cumulative average: this batch
    generator = torch.Generator().manual_seed(seed)
    model.train()
    with torch.no_grad():
        model._forward(torch.randn(4, 3, *input_hw, generator=generator))
    return model.eval()


def build_model(name: str,
                calibrate: bool = False) -> Tuple[nn.Module, Tuple[int, int]]:
    """Build a benchmarked model on CPU in eval mode, random weights.

    Args:
        name (str): A key of :data:`MODELS_TABLE`.
        calibrate (bool): Set BatchNorm statistics with
            :func:`calibrate_batchnorm` (before re-parameterizing a deploy
            form). Defaults to False.

    Returns:
        tuple[nn.Module, tuple[int, int]]: The estimator and its input
        (H, W).
    """
    if name not in MODELS_TABLE:
        raise ValueError(f'unknown model {name!r}; choose from: '
                         f'{", ".join(MODELS_TABLE)}')
    spec = MODELS_TABLE[name]
    with quiet_mmengine():
        model, cfg = build_offline(spec.path)
    hw = input_hw(cfg)
    if calibrate:
        calibrate_batchnorm(model, hw)
    if spec.form == 'deploy':
        model = reparameterize_model(model, inplace=True)
    return model.eval(), hw


@contextmanager
def _stderr_fd_to_devnull() -> Iterator[None]:
    """Discard what is written to file descriptor 2, C++ code included.

    On failure PyTorch's TorchScript ONNX exporter logs the whole traced
    graph (thousands of lines), to stdout unless told otherwise; it is sent
    here and dropped.
    """
    set_stream = getattr(torch._C, '_jit_set_onnx_log_output_stream', None)
    if set_stream is not None:
        set_stream('stderr')
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, 'w') as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def export_model(model: nn.Module, input_hw: Tuple[int, int],
                 onnx_file: str) -> float:
    """Export ``model`` with :func:`~mmpose_light.deploy.export_onnx`
    (checked against PyTorch), quietly.

    Returns:
        float: The export check's max absolute error.
    """
    from mmpose_light.deploy import export_onnx

    with warnings.catch_warnings(), _stderr_fd_to_devnull():
        warnings.simplefilter('ignore')
        check = export_onnx(
            model, onnx_file, input_shape=(1, 3, *input_hw), check=True)
    return check['max_abs_err']

"""Export the network of an MMPose top-down estimator to ONNX.

What is exported is ``model._forward``: backbone, neck and head forward, the
tensor(s) the head's ``predict`` decodes, without flip test and without the
decoding itself. The batch axis is dynamic. Everything the runtime
(:mod:`mmpose_light_runtime`) needs to go from an image and person boxes to
keypoints (input size, crop settings, normalisation, codec, flip-test
settings, dataset meta) is embedded as JSON in the model's
``metadata_props`` under :data:`mmpose_light_runtime.META_KEY`.

A model whose re-parameterizable modules are still in training form (a
module with ``deploy=False`` and a ``switch_to_deploy`` method, such as a
training-form RepNet) is converted on a copy with
:func:`~mmpose_light.models.utils.reparameterize_model`, with a warning; the
exported graph therefore never holds the training branches.
"""
import os
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmpose.models.heads import RLEHead
from mmpose.models.pose_estimators.base import BasePoseEstimator
from torch import Tensor, nn

from mmpose_light_runtime.checks import check_number, is_int
from mmpose_light_runtime.fileio import AtomicFile
from mmpose_light_runtime.meta import (META_VERSION, embed_onnx_meta,
                                       nested_get, to_builtin)
from ..models.utils import reparameterize_model

__all__ = ['export_onnx', 'build_deploy_meta', 'training_form_modules']

# The default bound on the relative error of ONNX Runtime's outputs (see
# :func:`export_onnx` for its definition).
REL_ERR_TOL = 1e-4

# The output names of the codecs the runtime pipeline decodes.
_OUTPUT_NAMES = {
    'MSRAHeatmap': ['heatmaps'],
    'UDPHeatmap': ['heatmaps'],
    'RegressionLabel': ['coords'],
    'SimCCLabel': ['simcc_x', 'simcc_y'],
}

# The codec attributes that decoding uses, by codec type.
_CODEC_PARAMS = {
    'MSRAHeatmap':
    ('input_size', 'heatmap_size', 'sigma', 'unbiased', 'blur_kernel_size'),
    'UDPHeatmap': ('input_size', 'heatmap_size', 'heatmap_type', 'sigma',
                   'radius_factor', 'blur_kernel_size'),
    'RegressionLabel': ('input_size', ),
    'SimCCLabel': ('input_size', 'simcc_split_ratio', 'use_dark', 'sigma'),
}

# The head settings of MMPose's flip test (``test_cfg``) the runtime reads.
_FLIP_TEST_KEYS = ('flip_mode', 'shift_heatmap', 'shift_coords')


class _NetworkForward(nn.Module):
    """``model._forward`` as a module whose outputs are a flat tuple."""

    def __init__(self, model: BasePoseEstimator) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        outputs = self.model._forward(inputs)
        return tuple(_flatten_outputs(outputs))


def _flatten_outputs(outputs: Any) -> List[Tensor]:
    if isinstance(outputs, Tensor):
        return [outputs]
    if isinstance(outputs, (list, tuple)):
        return [t for item in outputs for t in _flatten_outputs(item)]
    raise TypeError('the network should return tensors or (nested) '
                    f'tuples of tensors, but returned {type(outputs)}')


def training_form_modules(model: nn.Module) -> List[str]:
    """Names of the sub-modules still in training (not deploy) form.

    A module counts when it has a ``switch_to_deploy`` method and its
    ``deploy`` attribute is ``False``. Pose estimators are skipped: their
    ``switch_to_deploy`` only walks the sub-modules.

    Args:
        model (nn.Module): The model to inspect.

    Returns:
        List[str]: The qualified names of those modules.
    """
    return [
        name for name, module in model.named_modules()
        if not isinstance(module, BasePoseEstimator)
        and callable(getattr(module, 'switch_to_deploy', None))
        and getattr(module, 'deploy', None) is False
    ]


def _pipeline_settings(cfg: Optional[Config]) -> Dict[str, Any]:
    """Box padding and UDP flag of the config's test pipeline."""
    settings = dict(bbox_padding=1.25, use_udp=False)
    pipeline = nested_get(cfg, 'test_dataloader', 'dataset', 'pipeline')
    for transform in pipeline or []:
        if transform.get('type') == 'GetBBoxCenterScale':
            settings['bbox_padding'] = float(transform.get('padding', 1.25))
        elif transform.get('type') == 'TopdownAffine':
            settings['use_udp'] = bool(transform.get('use_udp', False))
    return settings


def _rescore_settings(cfg: Optional[Config]) -> Dict[str, Any]:
    """How ``CocoMetric`` scores poses before NMS, from the test evaluator.
    """
    settings = dict(score_mode='bbox_keypoint', keypoint_score_thr=0.2)
    evaluator = nested_get(cfg, 'test_evaluator')
    if isinstance(evaluator, (list, tuple)):
        evaluator = evaluator[0] if evaluator else None
    if isinstance(evaluator, dict):
        for key in settings:
            if key in evaluator:
                settings[key] = evaluator[key]
    return settings


def _codec_meta(model: BasePoseEstimator) -> Optional[Dict[str, Any]]:
    """Type and decoding parameters of the head's codec, or None."""
    decoder = getattr(getattr(model, 'head', None), 'decoder', None)
    if decoder is None:
        return None
    codec_type = type(decoder).__name__
    names = _CODEC_PARAMS.get(codec_type, ('input_size', 'heatmap_size'))
    params = {
        name: to_builtin(getattr(decoder, name))
        for name in names if hasattr(decoder, name)
    }
    return dict(type=codec_type, **params)


def build_deploy_meta(model: BasePoseEstimator,
                      input_shape: Sequence[int],
                      output_names: Sequence[str],
                      meta: Optional[dict] = None) -> Dict[str, Any]:
    """Collect what the ONNX Runtime pipeline needs about ``model``.

    Args:
        model (BasePoseEstimator): The estimator being exported.
        input_shape (Sequence[int]): The export input shape (N, C, H, W).
        output_names (Sequence[str]): The graph's output names.
        meta (dict, optional): Extra entries, stored under ``'extra'``.
            Defaults to None.

    Returns:
        dict: JSON-serialisable metadata; see
        :class:`mmpose_light_runtime.TopdownEstimator`.
    """
    cfg = getattr(model, 'cfg', None)
    preprocessor = model.data_preprocessor
    mean = getattr(preprocessor, 'mean', None)
    std = getattr(preprocessor, 'std', None)
    normalize = bool(getattr(preprocessor, '_enable_normalize', False))
    dataset_meta = getattr(model, 'dataset_meta', None) or {}
    dataset_keys = ('dataset_name', 'num_keypoints', 'sigmas',
                    'keypoint_id2name', 'flip_indices', 'skeleton_links',
                    'skeleton_link_colors', 'keypoint_colors')
    test_cfg = getattr(model, 'test_cfg', None) or {}
    head = getattr(model, 'head', None)
    return dict(
        version=META_VERSION,
        input_name='input',
        output_names=list(output_names),
        # (w, h) as MMPose's codecs and TopdownAffine give sizes
        input_size=[int(input_shape[3]),
                    int(input_shape[2])],
        codec=_codec_meta(model),
        # RLE heads apply the sigmoid to the sigmas in predict()
        sigmoid_sigma=isinstance(head, RLEHead),
        output_keypoint_indices=to_builtin(
            test_cfg.get('output_keypoint_indices', None)),
        test_cfg={
            key: to_builtin(test_cfg[key])
            for key in _FLIP_TEST_KEYS if key in test_cfg
        },
        preprocess=dict(
            mean=to_builtin(mean.flatten()) if normalize else None,
            std=to_builtin(std.flatten()) if normalize else None,
            swap_channels=bool(
                getattr(preprocessor, '_channel_conversion', False)),
            **_pipeline_settings(cfg)),
        rescore=_rescore_settings(cfg),
        dataset_meta={
            key: to_builtin(dataset_meta[key])
            for key in dataset_keys if key in dataset_meta
        },
        extra=to_builtin(meta) if meta is not None else None)


def _check_input_shape(input_shape: Any) -> Tuple[int, int, int, int]:
    if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 4 \
            or not all(is_int(v, 1) for v in input_shape):
        raise ValueError('`input_shape` should be 4 positive ints '
                         f'(N, C, H, W), but got {input_shape!r}')
    return tuple(int(v) for v in input_shape)


def _check_codec_size(model: BasePoseEstimator,
                      input_shape: Tuple[int, ...]) -> None:
    """The network must be exported at the size its codec decodes."""
    codec = _codec_meta(model)
    if codec is None or 'input_size' not in codec:
        return
    width, height = codec['input_size']
    if (input_shape[2], input_shape[3]) != (height, width):
        raise ValueError(
            f'`input_shape` {tuple(input_shape)} does not match the input '
            f'size of the model\'s {codec["type"]} codec (H, W) = '
            f'({height}, {width}); export with input_shape=(N, '
            f'{input_shape[1]}, {height}, {width})')


def _compare(ort_outputs: Sequence[np.ndarray],
             torch_outputs: Sequence[np.ndarray]) -> Tuple[float, float]:
    max_abs, max_rel = 0., 0.
    for ort_out, ref in zip(ort_outputs, torch_outputs):
        if ort_out.shape != ref.shape:
            raise RuntimeError('ONNX Runtime output shape '
                               f'{ort_out.shape} differs from PyTorch\'s '
                               f'{ref.shape}')
        abs_err = float(np.abs(ort_out.astype(np.float64) - ref).max())
        scale = float(np.abs(ref).max())
        rel_err = abs_err / scale if scale > 0 else abs_err
        max_abs, max_rel = max(max_abs, abs_err), max(max_rel, rel_err)
    return max_abs, max_rel


def export_onnx(model: BasePoseEstimator,
                out_file: str,
                input_shape: Sequence[int] = (1, 3, 256, 192),
                opset_version: int = 17,
                check: bool = True,
                meta: Optional[dict] = None,
                rel_tol: float = REL_ERR_TOL) -> Dict[str, Any]:
    """Export a top-down estimator's network to ONNX and check it.

    The graph has one input ``'input'`` of shape (N, C, H, W), the
    preprocessed crops, and the head's forward output(s): ``'heatmaps'``
    (N, K, H', W') for heatmap codecs, ``'coords'`` (N, K, 2 or 4) for
    ``RegressionLabel`` (RLE heads: raw sigma logits in the last two
    channels), otherwise ``'output_0'``, ``'output_1'``, ... The batch axis
    is dynamic.

    With ``check``, ONNX Runtime runs the exported graph on a random input of
    batch 2 and its outputs are compared with PyTorch's on the same input.
    The relative error of an output is ``max|ort - torch| / max|torch|``
    (the absolute error where PyTorch's output is all zeros); the largest
    over the outputs is reported.

    The file is written atomically: the graph goes to a temporary file next
    to ``out_file``, which replaces ``out_file`` only once the export (and
    the check) succeeded; on any failure nothing is left behind.

    Args:
        model (BasePoseEstimator): A built MMPose top-down estimator. It is
            not modified; a training-form model is converted on a copy.
        out_file (str): The ONNX file to write.
        input_shape (Sequence[int]): Export input shape (N, C, H, W); H and
            W must match the codec's input size. Defaults to
            ``(1, 3, 256, 192)``.
        opset_version (int): ONNX opset. Defaults to 17.
        check (bool): Whether to compare ONNX Runtime with PyTorch.
            Defaults to True.
        meta (dict, optional): Extra JSON-serialisable entries to embed
            (under ``'extra'``). Defaults to None.
        rel_tol (float): The largest relative error ``check`` accepts.
            Defaults to ``1e-4``. Deep networks with random weights can
            reach it from float32 rounding alone (PyTorch's own float32
            output then differs from float64 by as much); trained weights
            stay far below.

    Returns:
        dict: ``max_abs_err`` and ``max_rel_err`` (None without ``check``),
        ``output_names`` and ``meta``, the embedded metadata.

    Raises:
        TypeError: If ``model`` is not a pose estimator.
        ValueError: If ``input_shape`` is malformed or does not match the
            codec, or ``out_file``'s folder does not exist.
        RuntimeError: If ONNX Runtime's outputs differ from PyTorch's by
            more than ``rel_tol`` relative error.
    """
    if not isinstance(model, BasePoseEstimator):
        raise TypeError('`model` should be an MMPose pose estimator '
                        f'(BasePoseEstimator), but got {type(model)}')
    input_shape = _check_input_shape(input_shape)
    _check_codec_size(model, input_shape)
    mean = getattr(model.data_preprocessor, 'mean', None)
    if mean is not None and mean.numel() != input_shape[1]:
        raise ValueError(f'`input_shape` {input_shape} has {input_shape[1]} '
                         f'channels, but the data preprocessor normalises '
                         f'{mean.numel()}')
    check_number('`rel_tol`', rel_tol, 0, low_open=True)
    if not isinstance(out_file, (str, os.PathLike)):
        raise TypeError(f'`out_file` should be a path, but got {out_file!r}')
    out_file = os.fspath(out_file)
    out_dir = osp.dirname(osp.abspath(out_file))
    if not osp.isdir(out_dir):
        raise ValueError(f'the folder of `out_file` {out_file!r} does not '
                         'exist')

    training_form = training_form_modules(model)
    if training_form:
        warnings.warn(
            f'{len(training_form)} module(s) are in training form (e.g. '
            f'{training_form[0]!r}); exporting a re-parameterized copy '
            '(reparameterize_model). Convert the checkpoint with '
            'tools/reparameterize.py to export the deploy form directly.',
            UserWarning)
        model = reparameterize_model(model, inplace=False)
        remaining = training_form_modules(model)
        if remaining:
            raise RuntimeError('re-parameterization left modules in '
                               f'training form: {remaining}')

    codec = _codec_meta(model)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    # the wrapper in eval mode too: the exporter restores the wrapper's mode
    # recursively afterwards
    network = _NetworkForward(model).eval()
    generator = torch.Generator().manual_seed(0)
    dummy = torch.randn(input_shape, generator=generator).to(device)
    check_input = torch.randn((2, ) + input_shape[1:],
                              generator=generator).to(device)
    try:
        with torch.no_grad():
            reference = [
                t.detach().cpu().double().numpy() for t in network(check_input)
            ]
        num_outputs = len(reference)
        codec_type = codec['type'] if codec else None
        output_names = _OUTPUT_NAMES.get(codec_type)
        if output_names is None or len(output_names) != num_outputs:
            output_names = [f'output_{i}' for i in range(num_outputs)]
        deploy_meta = build_deploy_meta(model, input_shape, output_names, meta)

        output = AtomicFile(out_file)
        try:
            dynamic_axes = {
                name: {
                    0: 'batch'
                }
                for name in ['input'] + output_names
            }
            with torch.no_grad():
                torch.onnx.export(network, (dummy, ),
                                  output.tmp,
                                  input_names=['input'],
                                  output_names=output_names,
                                  opset_version=opset_version,
                                  dynamic_axes=dynamic_axes,
                                  do_constant_folding=True,
                                  dynamo=False)
            embed_onnx_meta(output.tmp, deploy_meta)
            max_abs = max_rel = None
            if check:
                max_abs, max_rel = _check_with_ort(output.tmp, check_input,
                                                   reference)
                if not max_rel <= rel_tol:
                    raise RuntimeError(
                        'ONNX Runtime and PyTorch outputs differ: max '
                        f'relative error {max_rel:.3g} > {rel_tol:g} '
                        f'(max abs error {max_abs:.3g}); {out_file!r} was '
                        'not written')
            output.commit()
        finally:
            output.discard()
    finally:
        model.train(was_training)
    return dict(max_abs_err=max_abs,
                max_rel_err=max_rel,
                output_names=output_names,
                meta=deploy_meta)


def _check_with_ort(onnx_file: str, inputs: Tensor,
                    reference: List[np.ndarray]) -> Tuple[float, float]:
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_file,
                                   providers=['CPUExecutionProvider'])
    outputs = session.run(None, {'input': inputs.cpu().numpy()})
    return _compare(outputs, reference)

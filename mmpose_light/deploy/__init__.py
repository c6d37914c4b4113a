"""Deployment: ONNX export and an ONNX Runtime top-down pipeline."""
from .onnx_export import build_deploy_meta, export_onnx, training_form_modules
from .ort_inference import (META_KEY, SUPPORTED_CODECS, OrtTopdownEstimator,
                            read_image)

__all__ = [
    'export_onnx', 'build_deploy_meta', 'training_form_modules',
    'OrtTopdownEstimator', 'read_image', 'META_KEY', 'SUPPORTED_CODECS'
]

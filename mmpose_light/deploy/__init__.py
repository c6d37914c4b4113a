"""Deployment: ONNX export. The exported files run in
:mod:`mmpose_light_runtime` (numpy, OpenCV and ONNX Runtime only)."""
from .onnx_export import build_deploy_meta, export_onnx, training_form_modules

__all__ = ['export_onnx', 'build_deploy_meta', 'training_form_modules']

"""Deployment: ONNX export of pose models and person detectors. The
exported files run in :mod:`mmpose_light_runtime` (numpy, OpenCV and ONNX
Runtime only)."""
from .detector_export import (DETECTOR_REL_TOL, build_detector_meta,
                              check_detector, export_detector,
                              init_person_detector, person_label)
from .onnx_export import build_deploy_meta, export_onnx, training_form_modules

__all__ = [
    'export_onnx', 'build_deploy_meta', 'training_form_modules',
    'export_detector', 'init_person_detector', 'build_detector_meta',
    'check_detector',
    'person_label', 'DETECTOR_REL_TOL'
]

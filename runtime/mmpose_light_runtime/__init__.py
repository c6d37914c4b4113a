"""mmpose_light_runtime: top-down pose estimation with numpy, OpenCV and
ONNX Runtime only.

Runs the models that ``mmpose_light``'s ``tools/export_onnx.py`` exports
(MobilePoseNet, RepNet and any MMPose top-down model with an MSRA, UDP,
regression or SimCC codec) on images, folders, videos and cameras, with
person boxes from a detection file, an ONNX person detector or the whole
frame, Matrix-OKS-NMS, flip test, pose tracking and smoothing. Nothing here
imports torch, mmcv, mmengine or mmpose.
"""
from .backends import BACKENDS, create_backend
from .codecs import SUPPORTED_CODECS, rescore_poses
from .detectors import (CallableDetector, DetectionFile, OnnxDetector,
                        PersonDetector, WholeFrame)
from .draw import draw_poses
from .estimator import TopdownEstimator
from .fileio import atomic_output, dump_json, read_image, write_image
from .meta import META_KEY, META_VERSION
from .nms import greedy_oks_nms, matrix_oks_nms, pairwise_oks
from .pipeline import DEFAULT_NMS, PosePipeline
from .preprocess import pose_areas
from .smoothing import DEFAULT_SMOOTHING, OneEuroFilter, PoseSmoother
from .sources import Frame, open_source
from .structures import PoseResult
from .tracker import PoseTracker
from .version import __version__

__all__ = [
    '__version__', 'TopdownEstimator', 'PosePipeline', 'PoseResult',
    'PoseTracker', 'PersonDetector', 'WholeFrame', 'DetectionFile',
    'OnnxDetector', 'CallableDetector', 'open_source', 'Frame', 'draw_poses',
    'matrix_oks_nms', 'greedy_oks_nms', 'pairwise_oks', 'pose_areas',
    'rescore_poses', 'read_image', 'write_image', 'dump_json',
    'atomic_output', 'create_backend', 'BACKENDS', 'SUPPORTED_CODECS',
    'META_KEY', 'META_VERSION', 'DEFAULT_NMS', 'OneEuroFilter',
    'PoseSmoother', 'DEFAULT_SMOOTHING'
]

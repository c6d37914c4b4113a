"""Inference with PyTorch behind the runtime's estimator interface."""
from .topdown_estimator import TorchTopdownEstimator

__all__ = ['TorchTopdownEstimator']

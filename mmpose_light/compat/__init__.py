"""Fixes that make MMPose 1.3 run on torch >= 2.6, numpy 2 and no
torchvision; applied once by ``import mmpose_light``. See
docs/compatibility.md."""
import warnings

from .checkpoint import (CheckpointLoadError, load_local_checkpoint,
                         mmengine_safe_globals,
                         register_safe_checkpoint_loading)
from .numpy2 import patch_opencv_visualizer_radius
from .torchvision_fallback import (ToPILImage, import_simcc_visualizer,
                                   torchvision_available)

__all__ = [
    'apply_compat', 'CheckpointLoadError', 'load_local_checkpoint',
    'mmengine_safe_globals', 'register_safe_checkpoint_loading', 'ToPILImage',
    'import_simcc_visualizer', 'torchvision_available',
    'patch_opencv_visualizer_radius'
]


def apply_compat() -> None:
    """Apply every fix; idempotent."""
    # mmengine looks up installed packages through pkg_resources, which
    # warns on every first use; the pinned setuptools still provides it.
    warnings.filterwarnings(
        'ignore', message='pkg_resources is deprecated', category=UserWarning)
    register_safe_checkpoint_loading()
    import_simcc_visualizer()
    patch_opencv_visualizer_radius()

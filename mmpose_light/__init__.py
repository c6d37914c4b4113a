"""mmpose_light: lightweight top-down pose estimation for MMPose 1.x.

Importing the package applies the stack fixes in :mod:`mmpose_light.compat`
and registers every component (models, metrics) in MMPose's registries.
"""
from .compat import apply_compat
from .version import __version__

apply_compat()

from . import evaluation, models  # noqa: E402,F401  (registers components)

__all__ = ['__version__', 'apply_compat', 'evaluation', 'models']

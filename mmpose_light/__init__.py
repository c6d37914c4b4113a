"""mmpose_light: lightweight top-down pose estimation for MMPose 1.x.

Importing the package applies the stack fixes in :mod:`mmpose_light.compat`,
registers every component (models, metrics) in MMPose's registries, and
lets MMEngine resolve the config prefix ``mmpose_light::``
(:mod:`mmpose_light.configs`).
"""
from .compat import apply_compat
from .configs import register_config_prefix
from .version import __version__

apply_compat()
register_config_prefix()

from . import evaluation, models  # noqa: E402,F401  (registers components)

__all__ = [
    '__version__', 'apply_compat', 'register_config_prefix', 'evaluation',
    'models'
]

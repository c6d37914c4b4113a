# One version serves both distributions, mmpose-light and the
# mmpose-light-runtime it requires exactly: it is set in
# runtime/mmpose_light_runtime/version.py.
from mmpose_light_runtime.version import __version__

__all__ = ['__version__']

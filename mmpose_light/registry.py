"""Registries of the scope ``mmpose_light``: children of MMPose's.

Our components register in MMPose's registries, where MMPose's tools and
configs find them. A config that inherits ours through the prefix
``mmpose_light::`` (:mod:`mmpose_light.configs`) gets, from MMEngine, the
scope ``mmpose_light`` on every part it takes from that base, and MMEngine
builds such a part from the registry of that scope. These children hold
nothing of their own: each finds every name in its MMPose parent.
"""
from mmengine.registry import Registry
from mmpose import registry as _mmpose

__all__ = []
for _name in dir(_mmpose):
    _parent = getattr(_mmpose, _name)
    if isinstance(_parent, Registry) and _parent.scope == 'mmpose':
        globals()[_name] = Registry(
            _parent.name,
            parent=_parent,
            scope='mmpose_light',
            locations=['mmpose_light'])
        __all__.append(_name)

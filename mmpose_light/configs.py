"""The configs shipped in the package, and the ``mmpose_light::`` prefix.

An installed mmpose_light holds its configs in ``mmpose_light/.mim/configs``
(MMPose keeps its own in ``mmpose/.mim/configs``), where ``mim train
mmpose_light CONFIG`` finds them by file name. ``import mmpose_light`` also
teaches MMEngine the prefix ``mmpose_light::`` so that a config of yours can
inherit one of ours wherever it is parsed after that import (our
``tools/train.py`` and ``tools/test.py``, ``mim train mmpose_light``, your
own scripts)::

    _base_ = ['mmpose_light::body_2d_keypoint/topdown_heatmap/coco/'
              'td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py']

MMEngine resolves such prefixes only for the packages it knows (its
``MODULE2PACKAGE``), and MMPose's stock ``tools/train.py`` parses a config
before the config's ``custom_imports`` run, so with the stock tool inherit
by path instead (``python -m mmpose_light.configs --path NAME`` prints it).

``python -m mmpose_light.configs`` lists what is shipped.
"""
import argparse
import os
import os.path as osp
from typing import List, Optional, Sequence

__all__ = [
    'ConfigNotFoundError', 'PREFIX', 'config_root', 'list_configs',
    'get_config_path', 'register_config_prefix'
]


class ConfigNotFoundError(FileNotFoundError):
    """A config is neither a file nor the name of a shipped config."""


#: The prefix of our configs in ``_base_`` and in MMEngine's ``get_config``.
PREFIX = 'mmpose_light::'
_DISTRIBUTION = 'mmpose-light'


def config_root() -> str:
    """The folder of the configs shipped with the installed package."""
    root = osp.join(osp.dirname(osp.abspath(__file__)), '.mim', 'configs')
    if not osp.isdir(root):
        raise FileNotFoundError(
            f'mmpose_light has no configs at {root}: install it with pip '
            '(a wheel, or "pip install -e ." in a clone), which puts them '
            'there')
    return root


def list_configs() -> List[str]:
    """Every shipped config but the ``_base_`` snippets, as paths relative
    to :func:`config_root`, sorted."""
    root = config_root()
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = sorted(d for d in dirs if d not in ('_base_', '__pycache__'))
        rel = osp.relpath(folder, root)
        found += [
            osp.normpath(osp.join(rel, f)) for f in files if f.endswith('.py')
        ]
    return sorted(found)


def get_config_path(name: str) -> str:
    """Absolute path of a shipped config.

    Args:
        name (str): ``'mmpose_light::<path>'``, a path relative to the
            configs folder, or a file name (with or without ``.py``) that
            names one shipped config.

    Returns:
        str: The path.

    Raises:
        ConfigNotFoundError: No shipped config has that name; the message
            says how to list them.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f'a config name must be a non-empty str, not {name!r}')
    rel = name[len(PREFIX):] if name.startswith(PREFIX) else name
    root = config_root()
    path = osp.join(root, rel)
    if osp.isfile(path):
        return path
    base = osp.basename(rel)
    base = base if base.endswith('.py') else base + '.py'
    matches = [c for c in list_configs() if osp.basename(c) == base]
    if len(matches) == 1:
        return osp.join(root, matches[0])
    raise ConfigNotFoundError(
        f'mmpose_light ships no config {name!r}'
        + (f' (several are named {base}: {matches})' if matches else '')
        + '; list the shipped configs with "python -m mmpose_light.configs" '
        'or the models with "mim search mmpose_light"')


def register_config_prefix() -> None:
    """Let MMEngine resolve ``mmpose_light::`` in ``_base_`` and
    ``get_config``; idempotent.

    MMEngine maps the prefix to a distribution (``MODULE2PACKAGE``) and
    finds the package beside the distribution's metadata, which is not where
    an editable install keeps it; the configs are looked up where this
    module is instead.
    """
    from mmengine.config import config as config_module
    from mmengine.config import utils as config_utils
    from mmengine.hub import hub
    config_utils.MODULE2PACKAGE.setdefault('mmpose_light', _DISTRIBUTION)
    for module in (config_module, hub):
        found = module.get_installed_path
        if getattr(found, '_mmpose_light', False):
            continue

        def get_installed_path(package: str, _found=found) -> str:
            if package == _DISTRIBUTION:
                return osp.dirname(osp.abspath(__file__))
            return _found(package)

        get_installed_path._mmpose_light = True
        module.get_installed_path = get_installed_path


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m mmpose_light.configs',
        description='List the configs shipped with mmpose_light, or print '
        'the path of one.')
    parser.add_argument(
        '--path', metavar='NAME', help='print the path of this config '
        '(a file name, a path under the configs folder, or mmpose_light::...)')
    args = parser.parse_args(argv)
    try:
        if args.path:
            print(get_config_path(args.path))
        else:
            print('\n'.join(list_configs()))
    except ConfigNotFoundError as e:
        parser.exit(2, f'error: {e}\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())

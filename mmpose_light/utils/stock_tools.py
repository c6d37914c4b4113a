"""Run the tools MMPose ships in its package with mmpose_light loaded.

MMPose installs ``tools/train.py`` and ``tools/test.py`` under
``mmpose/.mim/tools``. Running them (rather than copies) keeps our entry
points argument-for-argument identical to MMPose's: ``tools/train.py`` and
``tools/test.py`` of mmpose_light (installed as
``mmpose_light/.mim/tools/``, which ``mim train/test mmpose_light`` runs)
are :func:`tool_main` and nothing else. The config may also be the name of
a shipped config (``python -m mmpose_light.configs`` lists them). On a
machine without CUDA, ``--launcher pytorch`` (``tools/dist_train.sh``)
trains over gloo.
"""
import os.path as osp
import runpy
import sys
from typing import List

import torch

__all__ = ['stock_tool_path', 'run_stock_tool', 'tool_main']


def stock_tool_path(name: str) -> str:
    """Path of a tool shipped inside the installed MMPose package.

    Args:
        name (str): Path relative to MMPose's ``tools`` folder, e.g.
            ``'train.py'``.

    Returns:
        str: The absolute path.
    """
    import mmpose
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'MMPose tool {name!r} not found at {path}; mmpose_light needs '
            f'mmpose 1.x installed from its wheel, which ships its tools')
    return path


def _launched_distributed(argv: List[str]) -> bool:
    for i, arg in enumerate(argv):
        if arg.startswith('--launcher='):
            return arg.split('=', 1)[1] != 'none'
        if arg == '--launcher' and i + 1 < len(argv):
            return argv[i + 1] != 'none'
    return False


def _prepare_cpu_distributed(argv: List[str]) -> List[str]:
    """Let MMEngine's runner train with several processes on CPU.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP
    wrapper passes ``device_ids=[LOCAL_RANK]``; both fail without CUDA. The
    process group is started here with gloo (the runner then skips its own
    start), and DDP is told to use the module's device.
    """
    if not _launched_distributed(argv) or torch.cuda.is_available():
        return argv
    import torch.distributed as dist
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    return argv + [
        '--cfg-options', 'model_wrapper_cfg.type=MMDistributedDataParallel',
        'model_wrapper_cfg.device_ids=None', 'env_cfg.dist_cfg.backend=gloo'
    ]


def run_stock_tool(name: str, argv: List[str]) -> None:
    """Run one of MMPose's tools as ``__main__`` with the given arguments.

    Args:
        name (str): Tool path relative to MMPose's ``tools`` folder.
        argv (list[str]): Command-line arguments, without the program name.
            The first, the config, may name a shipped config
            (:func:`mmpose_light.configs.get_config_path`).

    Raises:
        ConfigNotFoundError: The config is neither a file nor a shipped
            config's name.
    """
    path = stock_tool_path(name)
    argv = list(argv)
    if argv and not argv[0].startswith('-') and not osp.isfile(argv[0]):
        # a shipped config by name; otherwise an error naming it
        from ..configs import get_config_path
        argv[0] = get_config_path(argv[0])
    sys.argv = [path] + _prepare_cpu_distributed(argv)
    runpy.run_path(path, run_name='__main__')


def tool_main(name: str) -> None:
    """The whole of our ``tools/train.py`` and ``tools/test.py``: run
    MMPose's tool ``name`` with this process's arguments (importing this
    module has imported mmpose_light: compat fixes and registration), and
    end with a one-line error for a config that is not found.
    """
    from ..configs import ConfigNotFoundError
    try:
        run_stock_tool(name, sys.argv[1:])
    except ConfigNotFoundError as e:
        sys.exit(f'error: {e}')

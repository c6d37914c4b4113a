"""Load MMEngine checkpoints with ``torch.load(weights_only=True)`` kept on.

Since torch 2.6, ``torch.load`` unpickles only allow-listed types by default.
MMEngine 0.10 checkpoints hold numpy arrays and scalars (dataset metadata,
RNG state) and MMEngine's ``HistoryBuffer`` (message hub), so stock
``tools/test.py``, ``--resume`` and ``load_checkpoint`` fail on checkpoints
that stock ``tools/train.py`` has just written. Turning ``weights_only`` off
would make every checkpoint a program (a pickle runs code), so instead this
module allow-lists exactly the types MMEngine writes, and replaces MMEngine's
loader of local files with one that names the file and the reason when it
refuses one.
"""
import os.path as osp
import pickle
import zipfile
from typing import Any, List, Optional

import numpy as np
import torch

__all__ = [
    'CheckpointLoadError', 'history_buffer_getattr', 'mmengine_safe_globals',
    'load_local_checkpoint', 'register_safe_checkpoint_loading'
]


_BUILTIN_STATISTICS = frozenset(('min', 'max', 'current', 'mean'))


class CheckpointLoadError(RuntimeError):
    """A checkpoint file exists but cannot be loaded safely or at all."""


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling checkpoints.

    A ``HistoryBuffer`` pickles its statistics methods as
    ``getattr(HistoryBuffer, 'mean')`` (pickle protocol 2). Allowing the real
    ``getattr`` would let a crafted pickle reach any attribute of any object,
    and from there ``os.system``; this one resolves only those methods.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    from mmengine.logging import HistoryBuffer

    # The built-in statistics enter _statistics_methods only once a buffer
    # has been created, which a process that just loads may not have done.
    allowed = _BUILTIN_STATISTICS.union(HistoryBuffer._statistics_methods)
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'getattr({obj!r}, {name!r}) is not allowed in a checkpoint')


def mmengine_safe_globals() -> List[Any]:
    """Return the non-tensor globals found in MMEngine checkpoints.

    Returns:
        list: numpy's array, dtype and scalar reconstruction functions with
        every concrete dtype class, MMEngine's ``HistoryBuffer`` and, under
        the name ``builtins.getattr``, :func:`history_buffer_getattr`.
    """
    from mmengine.logging import HistoryBuffer

    multiarray = np._core.multiarray if hasattr(
        np, '_core') else np.core.multiarray
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All']}
    return [
        np.ndarray, np.dtype, multiarray._reconstruct, multiarray.scalar,
        HistoryBuffer, (history_buffer_getattr, 'builtins.getattr'),
        *sorted(dtype_classes, key=lambda t: t.__name__)
    ]


def _unsafe_globals(filename: str) -> Optional[List[str]]:
    try:
        return torch.serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # the file may be unreadable as a checkpoint at all
        return None


def load_local_checkpoint(filename: str,
                          map_location: Optional[Any] = None) -> Any:
    """Load a local checkpoint with only allow-listed types unpickled.

    Args:
        filename (str): Path of the checkpoint.
        map_location (optional): Same as :func:`torch.load`. Defaults to None.

    Returns:
        The loaded object (a dict for MMEngine checkpoints).

    Raises:
        FileNotFoundError: The file does not exist.
        CheckpointLoadError: The file is truncated, not a PyTorch checkpoint,
            or holds objects outside the allow-list (it could run code).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        unsafe = _unsafe_globals(filename)
        if unsafe:
            raise CheckpointLoadError(
                f'refused to load checkpoint {filename!r}: it holds objects '
                f'that are not tensors or MMEngine checkpoint data '
                f'({", ".join(unsafe)}). Unpickling them could run '
                f'arbitrary code, so it is not done. If you made this file '
                f'and trust it, re-save its state_dict with plain tensors.'
            ) from err
        raise CheckpointLoadError(
            f'checkpoint {filename!r} cannot be unpickled: {err}') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointLoadError(
            f'{filename!r} is not a readable PyTorch checkpoint (truncated, '
            f'corrupt or another format): {err}') from err


def register_safe_checkpoint_loading() -> None:
    """Allow-list MMEngine's checkpoint types and install the local loader.

    Idempotent. Remote schemes of MMEngine keep their loaders; they call
    ``torch.load`` with its default ``weights_only=True`` and so also benefit
    from the allow-list.
    """
    from mmengine.runner import CheckpointLoader

    torch.serialization.add_safe_globals(mmengine_safe_globals())
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_local_checkpoint, force=True)

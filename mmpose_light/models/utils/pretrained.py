"""Load a published backbone checkpoint strictly, from an ``init_cfg``.

MMEngine's ``Pretrained`` initializer loads with ``strict=False`` and only
logs the keys it could not use, so a backbone whose module names drift from
the checkpoint's silently keeps random weights. The backbones of this
package take MMEngine's own ``init_cfg=dict(type='Pretrained', ...)`` and
load it through :func:`load_pretrained`, which fails on any missing,
unexpected or mis-shaped tensor, naming it and the file.

They do so with :class:`StrictPretrainedMixin`, an override of
``init_weights``, rather than with a strict initializer registered in
MMEngine's ``WEIGHT_INITIALIZERS``, because of the order in which
``BaseModule.init_weights`` runs an ``init_cfg``: first its initializers,
then every child's own ``init_weights``, and last only the entries whose
type is exactly ``'Pretrained'``. A registered ``'StrictPretrained'`` would
run first, and the children would then silently re-initialize what it
loaded (mmcv's ``ConvModule.init_weights`` redraws its convolution, and
``TruncatedMobileNetV3`` has a ``ConvModule`` stem and ``BaseModule``
blocks); putting it last needs this same override. Registering the strict
loader as ``'Pretrained'`` instead would make every MMPose model of the
process load strictly. The mixin keeps MMEngine's order and config, and
changes only how the checkpoint is loaded.
"""
import os.path as osp
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.runner.checkpoint import _load_checkpoint
from torch import Tensor, nn

__all__ = ['load_pretrained', 'split_pretrained_init', 'StrictPretrainedMixin']

StateDict = Dict[str, Tensor]

# Checkpoints written before PyTorch 0.4.1 (among them some published
# ImageNet ones) have no BatchNorm step counters; MMEngine tolerates their
# absence too, and eval-mode BatchNorm never reads them.
_OPTIONAL_SUFFIX = 'num_batches_tracked'


def split_pretrained_init(init_cfg: object) -> Tuple[Optional[dict], object]:
    """Separate a ``Pretrained`` entry from the other entries of an init.

    Args:
        init_cfg (dict | list[dict], optional): A module's ``init_cfg``.

    Returns:
        tuple[dict | None, object]: The ``Pretrained`` config (``None`` if
        there is none) and the remaining ``init_cfg`` (``None``, a dict or a
        list, as given).

    Raises:
        ValueError: If there is more than one ``Pretrained`` entry or it has
            no ``checkpoint``.
    """
    if init_cfg is None:
        return None, None
    entries = list(init_cfg) if isinstance(init_cfg, (list, tuple)) else [
        init_cfg
    ]
    pretrained = [
        e for e in entries
        if isinstance(e, dict) and e.get('type') == 'Pretrained'
    ]
    if not pretrained:
        return None, init_cfg
    if len(pretrained) > 1:
        raise ValueError('init_cfg holds more than one Pretrained entry: '
                         f'{pretrained}')
    cfg = pretrained[0]
    if not cfg.get('checkpoint'):
        raise ValueError(
            f'A Pretrained init_cfg needs a checkpoint, got {cfg}')
    others = [e for e in entries if e is not cfg]
    if isinstance(init_cfg, dict):
        return dict(cfg), None
    return dict(cfg), others or None


def _read_state_dict(checkpoint: str, prefix: Optional[str],
                     map_location: str) -> StateDict:
    """The checkpoint's tensors under ``prefix``, with the prefix removed."""
    if '://' not in checkpoint and not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'Pretrained checkpoint {checkpoint!r} does not exist. Give the '
            'path of a downloaded file, or train from scratch with '
            '--cfg-options model.backbone.init_cfg=None')
    try:
        loaded = _load_checkpoint(checkpoint, map_location=map_location)
    except OSError as error:
        if '://' not in checkpoint:
            raise
        # urllib's errors (no network, no such file on the server) say
        # neither which checkpoint nor what to do instead.
        raise OSError(
            f'Cannot fetch pretrained checkpoint {checkpoint!r}: {error}. '
            'Offline, download it elsewhere and pass --cfg-options '
            'model.backbone.init_cfg.checkpoint=PATH, or train from random '
            'weights with --cfg-options model.backbone.init_cfg=None'
        ) from error
    state_dict = loaded.get('state_dict', loaded) if isinstance(
        loaded, dict) else None
    if not isinstance(state_dict, dict):
        raise ValueError(f'Pretrained checkpoint {checkpoint!r} holds no '
                         'state dict')
    if not prefix:
        return dict(state_dict)
    if not prefix.endswith('.'):
        prefix += '.'
    selected = {
        k[len(prefix):]: v
        for k, v in state_dict.items() if k.startswith(prefix)
    }
    if not selected:
        raise ValueError(
            f'No tensor of pretrained checkpoint {checkpoint!r} starts with '
            f'prefix {prefix!r}; its keys start with '
            f'{sorted({k.split(".")[0] + "." for k in state_dict})}')
    return selected


def _listing(keys: Iterable[str], limit: int = 8) -> str:
    """The first ``limit`` keys, in the order given, and how many more."""
    keys = list(keys)
    more = f' and {len(keys) - limit} more' if len(keys) > limit else ''
    return ', '.join(keys[:limit]) + more


def load_pretrained(module: nn.Module,
                    checkpoint: str,
                    prefix: Optional[str] = None,
                    map_location: str = 'cpu',
                    new_modules: Iterable[str] = (),
                    is_dropped: Optional[Callable[[str], bool]] = None
                    ) -> List[str]:
    """Load a checkpoint into ``module``, every tensor or an error.

    Every tensor of ``module`` outside ``new_modules`` must be in the
    checkpoint with the same shape, and every tensor of the checkpoint must
    be used, except those for which ``is_dropped`` is true (layers the
    module deliberately does not build, such as a classifier or the layers
    past a truncation).

    Args:
        module (nn.Module): The module to load into, in place.
        checkpoint (str): A local file or a URL MMEngine can load
            (``https://``, ``torchvision://``, ``open-mmlab://`` ...).
        prefix (str, optional): Only the checkpoint's tensors under this
            prefix are read, with the prefix removed (``'backbone.'`` for
            the backbone of a classifier's checkpoint). Defaults to ``None``.
        map_location (str): Passed to the loader. Defaults to ``'cpu'``.
        new_modules (Iterable[str]): Names of sub-modules of ``module`` that
            the checkpoint does not hold (e.g. a fusion neck); they keep
            their weights. Defaults to ``()``.
        is_dropped (Callable[[str], bool], optional): Whether a checkpoint
            key (after the prefix) belongs to a layer the module does not
            build. Defaults to ``None``: none is.

    Returns:
        list[str]: The keys of the checkpoint that were left out as dropped.

    Raises:
        FileNotFoundError: If ``checkpoint`` is a local path that does not
            exist.
        OSError: If a URL cannot be fetched; the message names it and the
            offline options.
        ValueError: If no tensor is under ``prefix``, or a tensor is missing
            from the checkpoint, unexpected in it or of another shape; the
            message names the keys and the file.
    """
    state_dict = _read_state_dict(checkpoint, prefix, map_location)
    new_prefixes = tuple(f'{name}.' for name in new_modules)
    own = {
        k: v
        for k, v in module.state_dict().items()
        if not k.startswith(new_prefixes)
    }
    dropped = [
        k for k in state_dict
        if k not in own and is_dropped is not None and is_dropped(k)
    ]
    for key in dropped:
        del state_dict[key]

    where = f'pretrained checkpoint {checkpoint!r}' + (
        f' (prefix {prefix!r})' if prefix else '')
    missing = [
        k for k in own
        if k not in state_dict and not k.endswith(_OPTIONAL_SUFFIX)
    ]
    if missing:
        raise ValueError(
            f'{type(module).__name__} expects tensors that {where} lacks: '
            f'{_listing(missing)}')
    unexpected = [k for k in state_dict if k not in own]
    if unexpected:
        raise ValueError(f'{where} holds tensors that '
                         f'{type(module).__name__} has no place for: '
                         f'{_listing(unexpected)}')
    mismatched = [
        f'{k} {tuple(v.shape)} (expected {tuple(own[k].shape)})'
        for k, v in state_dict.items() if v.shape != own[k].shape
    ]
    if mismatched:
        raise ValueError(f'{where} holds tensors of other shapes than '
                         f'{type(module).__name__}: {_listing(mismatched)}')

    result = module.load_state_dict(state_dict, strict=False)
    # What load_state_dict itself left out can only be the new modules and
    # absent step counters, checked above; anything else is a bug here.
    assert not result.unexpected_keys, result.unexpected_keys
    print_log(
        f'loaded {len(state_dict)} tensors of {type(module).__name__} from '
        f'{where}' + (f'; left out {len(dropped)} of layers it does not '
                      'build' if dropped else ''),
        logger='current')
    return dropped


class StrictPretrainedMixin:
    """Make a ``BaseModule``'s ``Pretrained`` init load strictly.

    Put it before the ``BaseModule`` subclass in the bases and implement
    ``_load_pretrained(cfg)``. ``init_weights`` then runs the other
    initializers of ``init_cfg`` (and the children's own) as MMEngine does,
    and loads the checkpoint through ``_load_pretrained`` instead of
    MMEngine's non-strict ``PretrainedInit``, from a config as from Python.
    """

    def init_weights(self) -> None:
        """Initialize the weights, loading a ``Pretrained`` init strictly."""
        pretrained, others = split_pretrained_init(self.init_cfg)
        if pretrained is None or self.is_init:
            super().init_weights()
            return
        init_cfg = self.init_cfg
        self.init_cfg = others
        try:
            super().init_weights()
        finally:
            self.init_cfg = init_cfg
        self._load_pretrained(pretrained)

    def _load_pretrained(self, cfg: dict) -> None:
        """Load the checkpoint of a ``Pretrained`` init config."""
        raise NotImplementedError

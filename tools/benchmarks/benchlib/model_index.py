"""The model index: ``model-index.yml`` and the metafiles it imports.

Each figure of a model lives in one metafile entry, as in MMPose's model
zoo: the paper's reported accuracy (``Results``) and sizes (``Paper
Parameters``, ``Paper FLOPs``), and the sizes measured here (``Parameters``,
``FLOPs``). The benchmarks' model table, the size checks and the tables of
the results pages and the README read them from here. MMPose's stock
references are read from MMPose's own index, installed with it.
"""
import os.path as osp
from typing import Dict, List, Optional

import yaml

__all__ = [
    'ModelIndexError', 'load_index', 'find_model', 'reported_metric',
    'mmpose_index_root'
]


class ModelIndexError(ValueError):
    """The model index is inconsistent or lacks an entry."""


def load_index(root: str, strict: bool = True) -> Dict[str, dict]:
    """Every model of a model index, by config path.

    Args:
        root (str): The folder of ``model-index.yml`` (the repository, or an
            installed package's ``.mim``).
        strict (bool): Raise on an entry whose config is missing or listed
            twice; otherwise skip it (MMPose 1.3.2's own index names a
            config it does not ship). Defaults to True.

    Returns:
        dict: Config path (relative to ``root``) to the model's entry, with
        ``'_metafile'`` (the metafile's path relative to ``root``) and
        ``'_collection'`` (its collection's entry, or ``{}``) added.

    Raises:
        ModelIndexError: A metafile, or a model's config, is missing, or two
            entries name the same config.
    """
    index_path = osp.join(root, 'model-index.yml')
    with open(index_path) as f:
        imports = yaml.safe_load(f)['Import']
    metafiles = {}
    for rel in imports:
        path = osp.join(root, rel)
        if not osp.isfile(path):
            raise ModelIndexError(
                f'{index_path} imports {rel}, which does not exist')
        with open(path) as f:
            metafiles[rel] = yaml.safe_load(f)
    # a collection is defined once, in any metafile of the index
    collections = {
        c['Name']: c
        for meta in metafiles.values() for c in meta.get('Collections', [])
    }
    models: Dict[str, dict] = {}
    for rel, meta in metafiles.items():
        for model in meta['Models']:
            config = model.get('Config')
            missing = not config or not osp.isfile(osp.join(root, config))
            if not strict and (missing or config in models):
                continue
            if missing:
                raise ModelIndexError(
                    f'{rel}: model {model.get("Name")!r} names config '
                    f'{config!r}, which does not exist')
            if config in models:
                raise ModelIndexError(
                    f'{rel}: config {config} is listed twice (also in '
                    f'{models[config]["_metafile"]})')
            models[config] = dict(
                model,
                _metafile=rel,
                _collection=collections.get(model.get('In Collection'), {}))
    return models


def find_model(models: Dict[str, dict], config: str) -> dict:
    """The entry of ``config`` (a path relative to the index's root)."""
    config = osp.normpath(config)
    if config not in models:
        raise ModelIndexError(
            f'{config} has no entry in the model index (model-index.yml '
            'and the metafiles it imports)')
    return models[config]


def reported_metric(model: dict, metric: str = 'AP') -> Optional[float]:
    """The first reported value of ``metric`` in a model's ``Results``, on
    the scale of the metafile (MMPose writes AP as a fraction), or None."""
    for result in model.get('Results') or []:
        value = (result.get('Metrics') or {}).get(metric)
        if value is not None:
            return float(value)
    return None


def mmpose_index_root() -> str:
    """The ``.mim`` folder of the installed MMPose (its model index)."""
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim')


def configs_without_entry(root: str, models: Dict[str, dict],
                          exempt: List[str]) -> List[str]:
    """Configs under ``root/configs`` that no metafile lists, but for those
    whose path contains one of ``exempt``."""
    import glob
    found = sorted(
        osp.relpath(p, root) for p in glob.glob(
            osp.join(root, 'configs', '**', '*.py'), recursive=True))
    return [
        c for c in found
        if c not in models and not any(e in c for e in exempt)
    ]

"""Convert a training checkpoint of a re-parameterizable model to its deploy
form.

Usage::

    python tools/reparameterize.py CONFIG CHECKPOINT OUT

CONFIG is the training config the checkpoint was trained with. The output
holds the fused weights (and the input's ``meta``, without optimizer state)
and loads with ``strict=True`` into the model of the matching deploy config
(the training config with ``deploy=True`` where the model has a training
form: ``model.backbone.deploy=True`` for RepNet,
``model.head.lpb_cfg.deploy=True`` for the LPBs of MobilePoseNet), which
this script checks before writing. The output is written atomically and
never replaces the input.
"""
import argparse
import copy
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import CheckpointLoader  # noqa: E402
from mmpose.registry import MODELS  # noqa: E402

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmpose_light.compat import CheckpointLoadError  # noqa: E402
from mmpose_light.deploy import training_form_modules  # noqa: E402
from mmpose_light.models.utils import reparameterize_model  # noqa: E402
from mmpose_light_runtime.fileio import atomic_output  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fold the training-time branches of a checkpoint into '
        'the deploy form')
    parser.add_argument('config', help='training config file')
    parser.add_argument('checkpoint', help='training checkpoint file')
    parser.add_argument('out', help='output checkpoint file')
    return parser.parse_args(argv)


def build_model(cfg: Config, deploy: bool) -> torch.nn.Module:
    """Build the config's model on CPU, optionally in deploy form.

    The deploy form sets ``deploy=True`` in each part of the model that has
    training-form modules: the backbone's config (RepNet), or the
    ``lpb_cfg`` of the head (MobilePoseNet's ``LPBHeatmapHead``).
    """
    model_cfg = copy.deepcopy(cfg.model)
    model = MODELS.build(model_cfg)
    if not deploy:
        return model
    parts = {name.split('.', 1)[0] for name in training_form_modules(model)}
    if 'backbone' in parts:
        model_cfg['backbone']['deploy'] = True
    if 'head' in parts:
        head = model_cfg['head']
        head['lpb_cfg'] = dict(head.get('lpb_cfg') or {}, deploy=True)
    return MODELS.build(model_cfg)


def convert(config: str, checkpoint: str, out: str) -> None:
    """Convert ``checkpoint`` and write it to ``out`` (see module doc)."""
    for path, what in ((config, 'config'), (checkpoint, 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} {path!r} does not exist')
    if osp.exists(out) and osp.samefile(out, checkpoint):
        raise ValueError(f'refusing to overwrite the input checkpoint '
                         f'{checkpoint!r}; choose another OUT')
    out_dir = osp.dirname(osp.abspath(out))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir!r} does not exist')

    cfg = Config.fromfile(config)
    model = build_model(cfg, deploy=False)
    if not training_form_modules(model):
        raise ValueError(f'{config!r} builds no training-form module (a '
                         'deploy-form model, or one that does not '
                         're-parameterize); pass the training config the '
                         'checkpoint was trained with')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    state_dict = ckpt.get('state_dict', ckpt)

    model.load_state_dict(state_dict, strict=True)
    model = reparameterize_model(model, inplace=True)
    converted = {'state_dict': model.state_dict()}
    if 'meta' in ckpt:
        converted['meta'] = ckpt['meta']

    # The written weights must load strictly into the deploy-config model.
    build_model(
        cfg, deploy=True).load_state_dict(
            converted['state_dict'], strict=True)

    with atomic_output(out) as tmp:
        torch.save(converted, tmp)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        convert(args.config, args.checkpoint, args.out)
    except (FileNotFoundError, ValueError, CheckpointLoadError) as err:
        sys.exit(f'error: {err}')
    print(f'Deploy checkpoint written to {args.out}')


if __name__ == '__main__':
    main()

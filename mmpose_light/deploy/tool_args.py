"""What the export tools' command lines share (``tools/export_onnx.py``,
``tools/export_detector.py``): the positional files, the export options and
the checks of the paths before any model is built."""
import argparse
import os.path as osp

from mmengine.config import DictAction

__all__ = ['export_parser', 'add_export_options', 'check_export_paths']


def export_parser(description: str,
                  config_help: str) -> argparse.ArgumentParser:
    """A parser with the positional ``config``, ``checkpoint`` and ``out``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help=config_help)
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('out', help='output ONNX file')
    return parser


def add_export_options(parser: argparse.ArgumentParser, rel_tol: float,
                       reference: str) -> None:
    """``--opset``, ``--rel-tol`` (against ``reference``), ``--device`` and
    ``--cfg-options``."""
    parser.add_argument(
        '--opset', type=int, default=17, help='ONNX opset (default: 17)')
    parser.add_argument(
        '--rel-tol',
        type=float,
        default=rel_tol,
        help='fail beyond this relative error of ONNX Runtime vs '
        f'{reference} (default: {rel_tol:g})')
    parser.add_argument(
        '--device', default='cpu', help='device to build the model on')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config (KEY=VALUE ...), as in '
        'MMPose\'s and MMDetection\'s tools')


def check_export_paths(args: argparse.Namespace) -> None:
    """Fail before building anything: the config and the checkpoint must
    exist, and so must the output's folder.

    Raises:
        FileNotFoundError: Naming the path.
    """
    for path, what in ((args.config, 'config'), (args.checkpoint,
                                                 'checkpoint')):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} {path!r} does not exist')
    out_dir = osp.dirname(osp.abspath(args.out))
    if not osp.isdir(out_dir):
        raise FileNotFoundError(f'output folder {out_dir!r} does not exist')

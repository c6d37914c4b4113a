"""Export the network of a top-down pose model to ONNX.

Usage::

    python tools/export_onnx.py CONFIG CHECKPOINT OUT.onnx \\
        [--input-shape H W] [--opset N] [--cfg-options KEY=VALUE ...]

Any top-down config works: mmpose_light's (a training-form RepNet is
re-parameterized on the way, with a warning) and MMPose's stock heatmap,
regression and SimCC models. The graph has a dynamic batch axis and embeds
what the runtime (``mmpose-light-runtime``, ``mmpose_light_runtime``) needs
to run the whole pipeline. ONNX Runtime's
outputs are checked against PyTorch's on a random batch of 2; beyond
``--rel-tol`` (default ``1e-4``) relative error, ``max|ort - torch| /
max|torch|``, the tool fails and writes nothing. The output is
written atomically.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmpose_light.deploy import export_onnx  # noqa: E402
from mmpose_light.deploy.tool_args import (  # noqa: E402
    add_export_options, check_export_paths, export_parser)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = export_parser(
        'Export a top-down pose model to ONNX and check it with ONNX Runtime',
        'config file')
    parser.add_argument(
        '--input-shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        default=None,
        help='network input height and width; defaults to the codec\'s '
        'input size')
    add_export_options(parser, rel_tol=1e-4, reference='PyTorch')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the tool; returns :func:`export_onnx`'s result."""
    # mmpose.apis needs mmpose_light's compat fixes applied first
    from mmpose.apis import init_model

    args = parse_args(argv)
    check_export_paths(args)
    if args.input_shape is not None and min(args.input_shape) < 1:
        raise ValueError('--input-shape should be two positive ints H W, '
                         f'but got {args.input_shape}')

    model = init_model(args.config,
                       args.checkpoint,
                       device=args.device,
                       cfg_options=args.cfg_options)
    if args.input_shape is not None:
        height, width = args.input_shape
    else:
        decoder = getattr(model.head, 'decoder', None)
        width, height = getattr(decoder, 'input_size', (192, 256))
    result = export_onnx(model,
                         args.out,
                         input_shape=(1, 3, int(height), int(width)),
                         opset_version=args.opset,
                         rel_tol=args.rel_tol)
    print(f'exported {args.out} (input 1x3x{height}x{width}, dynamic batch; '
          f'outputs {", ".join(result["output_names"])})')
    print('ONNX Runtime vs PyTorch on a batch of 2: max abs error '
          f'{result["max_abs_err"]:.3g}, max relative error '
          f'{result["max_rel_err"]:.3g}')
    return result


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        sys.exit(f'export_onnx.py: error: {error}')

"""Benchmark RepNet: size against the paper and CPU latency side by side.

Usage::

    python tools/benchmarks/repnet.py [--rounds 30] [--threads 1]

Size: params and FLOPs of RepNet-A and -B (COCO 256x192 configs), in
training form and deployed (``reparameterize_model``), from MMEngine's
counter as MMPose's ``get_flops.py`` counts them, against Table 5 of the
paper, with the relative differences. The exit status is 1 if any of them
exceeds 5%. The RLE flow (0.05M, used by the loss only) is part of the
model in both forms.

Latency: batch 1, 1x3x256x192, ``model._forward`` (network without
post-processing), PyTorch eager, median of interleaved rounds, for RepNet-A
and -B in both forms and MMPose's RLE ResNet-50 (the models of
``benchlib``), and their ratios beside the paper's. Only
the ratios measured in this one run mean anything (paper, on CPU: RepNet-A
81 ms training form, 50 ms deployed). Where the deployed network already
runs near the CPU's matmul peak, the ratios are bounded by the FLOP ratios
(training form / deployed 1.12x, ResNet-50 / RepNet-A deployed 3.0x) plus
the memory passes of the training-form branches (BN, 1x1 conv, sums).
"""
import argparse
import os.path as osp
import sys
from typing import Dict, Tuple

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401
from benchlib import (MODELS_TABLE, build_model,  # noqa: E402
                      compare_latency, fmt, print_table, quiet_mmengine,
                      timing_parser)
from benchlib import get_complexity  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

# names in benchlib's model table
MODELS = ('RepNet-A-train', 'RepNet-A-deploy', 'RepNet-B-train',
          'RepNet-B-deploy', 'RLE-R50')
TOLERANCE = 0.05

# Table 5 of the paper, from the metafile: (params in M, GFLOPs)
TABLE5: Dict[str, Tuple[float, float]] = {
    name: MODELS_TABLE[name].paper_size
    for name in MODELS if MODELS_TABLE[name].paper_size
}

# (slower, faster, the paper's ratio)
RATIOS = (
    ('RepNet-A-train', 'RepNet-A-deploy', '1.62x (81/50 ms)'),
    ('RepNet-B-train', 'RepNet-B-deploy', '-'),
    ('RLE-R50', 'RepNet-A-deploy', 'about 5x'),
    ('RLE-R50', 'RepNet-B-deploy', '-'),
)


def parse_args() -> argparse.Namespace:
    return timing_parser(__doc__.split('\n')[0], rounds=30).parse_args()


def main() -> int:
    args = parse_args()
    print(format_cpu_info(threads=args.threads))
    with quiet_mmengine():
        built = {name: build_model(name) for name in MODELS}
        input_shape = (3, *built[MODELS[0]][1])
        print(f'Size (MMEngine counter, input {input_shape}); paper: '
              'Table 5')
        lines = []
        within = True
        for name, (model, hw) in built.items():
            params, flops = get_complexity(model, (3, *hw))
            params, gflops = params / 1e6, flops / 1e9
            paper_params, paper_gflops = TABLE5.get(name, (None, None))
            dp = df = None
            if name in TABLE5:
                dp = params / paper_params - 1
                df = gflops / paper_gflops - 1
                within &= abs(dp) <= TOLERANCE and abs(df) <= TOLERANCE
            lines.append([
                name,
                fmt(params, '.2f'),
                fmt(paper_params, '.2f'),
                fmt(dp, '+.1%'),
                fmt(gflops, '.3f'),
                fmt(paper_gflops, '.2f'),
                fmt(df, '+.1%')
            ])
        print_table(('model', 'params (M)', 'paper', 'diff', 'GFLOPs',
                     'paper', 'diff'), lines)

        x = torch.rand(1, *input_shape)
        candidates = {
            name: (lambda m=model: m._forward(x))
            for name, (model, _) in built.items()
        }
        times = compare_latency(
            candidates, rounds=args.rounds, threads=args.threads)
    print(f'\nCPU latency (batch 1, {args.threads} thread(s), median of '
          f'{args.rounds} interleaved rounds, this run only)')
    print_table(('model', 'ms'),
                [[name, fmt(ms, '.1f')] for name, ms in times.items()])
    print()
    print_table(('ratio', 'measured', 'paper'),
                [[f'{slow} / {fast}',
                  fmt(times[slow] / times[fast], '.2f') + 'x', paper]
                 for slow, fast, paper in RATIOS])
    return 0 if within else 1


if __name__ == '__main__':
    sys.exit(main())

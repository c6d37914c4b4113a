"""Benchmark RepNet: size against the paper and CPU latency side by side.

Usage::

    python tools/benchmarks/repnet.py [--rounds 30] [--threads 1]

Size: params and FLOPs of RepNet-A and -B (COCO 256x192 configs), in
training form and deployed (``reparameterize_model``), from MMEngine's
counter as MMPose's ``get_flops.py`` counts them, against Table 5 of the
paper with a +-5% check (exit status 1 if any figure is off). The RLE flow
(0.05M, used by the loss only) is part of the model in both forms.

Latency: batch 1, 1x3x256x192, ``model._forward`` (network without
post-processing), PyTorch eager, median of interleaved rounds, for RepNet-A
and -B in both forms and MMPose's RLE ResNet-50. Only the ratios measured in
this one run mean anything (paper, on CPU: RepNet-A 81 ms training form,
50 ms deployed). Where the deployed network already runs near the CPU's
matmul peak, the ratios are bounded by the FLOP ratios (training form /
deployed 1.12x, ResNet-50 / RepNet-A deployed 3.0x) plus the memory passes
of the training-form branches (BN, 1x1 conv, sums).
"""
import argparse
import logging
import os.path as osp
import sys
from typing import Dict, Tuple

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import mmpose_light  # noqa: E402,F401
from mmpose_light.models.utils import reparameterize_model  # noqa: E402
from mmpose_light.utils import (  # noqa: E402
    build_offline, compare_latency, get_complexity)

CFG_DIR = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_regression',
                   'coco')
REPNET_CONFIG = osp.join(
    CFG_DIR, 'td-reg_repvgg-{}-fusion_rle-1xb64-210e_coco-256x192.py')
RLE_RES50_CONFIG = ('mmpose::body_2d_keypoint/topdown_regression/coco/'
                    'td-reg_res50_rle-8xb64-210e_coco-256x192.py')
INPUT_SHAPE = (3, 256, 192)
TOLERANCE = 0.05

# Table 5 of the paper: (params in M, GFLOPs)
TABLE5: Dict[str, Tuple[float, float]] = {
    'RepNet-A train': (7.96, 1.49),
    'RepNet-A deploy': (7.16, 1.34),
    'RepNet-B train': (12.95, 2.59),
    'RepNet-B deploy': (11.64, 2.32),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--rounds', type=int, default=30, help='timed rounds per model')
    parser.add_argument(
        '--threads', type=int, default=1, help='torch threads while timing')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    init_default_scope('mmpose')
    # the counter's notes on untraced operators and the init log are noise
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    models = {}
    for arch in 'AB':
        train = build_offline(REPNET_CONFIG.format(arch.lower()))[0]
        models[f'RepNet-{arch} train'] = train
        models[f'RepNet-{arch} deploy'] = reparameterize_model(train)
    models['RLE ResNet-50'] = build_offline(RLE_RES50_CONFIG)[0]

    print(f'Size (MMEngine counter, input {INPUT_SHAPE}); paper: Table 5')
    print(f'{"model":<17}{"params":>9}{"paper":>8}{"diff":>8}'
          f'{"GFLOPs":>9}{"paper":>8}{"diff":>8}')
    all_ok = True
    for name, model in models.items():
        params, flops = get_complexity(model, INPUT_SHAPE)
        params, gflops = params / 1e6, flops / 1e9
        line = f'{name:<17}{params:>8.2f}M'
        if name in TABLE5:
            paper_params, paper_gflops = TABLE5[name]
            dp = params / paper_params - 1
            df = gflops / paper_gflops - 1
            ok = abs(dp) <= TOLERANCE and abs(df) <= TOLERANCE
            all_ok &= ok
            line += (f'{paper_params:>7.2f}M{dp:>+8.1%}{gflops:>9.3f}'
                     f'{paper_gflops:>8.2f}{df:>+8.1%}'
                     f'  {"ok" if ok else "OFF BY MORE THAN 5%"}')
        else:
            line += f'{"":>16}{gflops:>9.3f}'
        print(line)

    x = torch.rand(1, *INPUT_SHAPE)
    candidates = {
        name: (lambda m=model: m._forward(x))
        for name, model in models.items()
    }
    times = compare_latency(
        candidates, rounds=args.rounds, threads=args.threads)
    print(f'\nCPU latency (batch 1, {args.threads} thread(s), median of '
          f'{args.rounds} interleaved rounds, this run only)')
    for name, ms in times.items():
        print(f'{name:<17}{ms:>8.1f} ms')
    print('\nRatios (paper in brackets)')
    for label, slow, fast, paper in (
        ('RepNet-A train / deploy', 'RepNet-A train', 'RepNet-A deploy',
         '81/50 = 1.62x; goal >= 1.4x'),
        ('RepNet-B train / deploy', 'RepNet-B train', 'RepNet-B deploy', '-'),
        ('RLE ResNet-50 / RepNet-A deploy', 'RLE ResNet-50', 'RepNet-A deploy',
         'about 5x'),
        ('RLE ResNet-50 / RepNet-B deploy', 'RLE ResNet-50', 'RepNet-B deploy',
         '-'),
    ):
        print(f'{label:<33}{times[slow] / times[fast]:>6.2f}x  [{paper}]')
    return 0 if all_ok else 1


if __name__ == '__main__':
    sys.exit(main())

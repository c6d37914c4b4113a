"""Benchmark MobilePoseNet: size against the paper, the LPB ablation, speed.

Usage::

    python tools/benchmarks/mobileposenet.py [--rounds 20] [--threads 1]

Size: params and FLOPs of MobilePoseNet at 256x192 and 384x288 (COCO
configs) from MMEngine's counter, as MMPose's ``get_flops.py`` counts them,
against the paper (1.5M params; 0.557 and 1.23 GFLOPs), with the relative
differences. The exit status is 1 if any of them exceeds 10%.

Ablation: each LPB of the 256x192 head against a transposed-conv upsampling
block with the same input and output channels (MMPose's SimpleBaseline
deconv layer: 4x4 stride-2 ``ConvTranspose2d``, BN, ReLU), at the feature
size it sees in the model: params, FLOPs and CPU latency, with the
LPB / deconv ratios side by side.

Latency: batch 1, 1x3x256x192, ``model._forward`` (network without
post-processing), PyTorch eager, median of interleaved rounds, for
MobilePoseNet and MMPose's SimpleBaseline MobileNetV2, LiteHRNet-18 and
RTMPose-t (``benchlib``'s model table: stock configs,
pretrained weights not loaded), plus MobilePoseNet's backbone and head
apart, to show where its time goes. Only the ratios measured in this one
run mean anything.
"""
import argparse
import os.path as osp
import sys
from typing import Callable, Dict, Tuple

import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmpose.models.heads import HeatmapHead  # noqa: E402

import mmpose_light  # noqa: E402,F401
from benchlib import (MODELS_TABLE, build_model,  # noqa: E402
                      compare_latency, fmt, print_table, quiet_mmengine,
                      timing_parser)
from mmpose_light.models.layers import LPB  # noqa: E402
from benchlib import get_complexity  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

MODEL = 'MobilePoseNet-256x192-train'
# names in benchlib's model table
STOCK_MODELS = ('SimpleBaseline-MNv2', 'LiteHRNet-18', 'RTMPose-t')
TOLERANCE = 0.10

# the paper's figures (from the metafile): model -> (params in M, GFLOPs)
PAPER: Dict[str, Tuple[float, float]] = {
    name: MODELS_TABLE[name].paper_size
    for name in ('MobilePoseNet-256x192-train', 'MobilePoseNet-384x288-train')
}


def check_size() -> bool:
    """Print MobilePoseNet's size against the paper; True if every figure
    is within 10% of it."""
    print('Size (MMEngine counter) against the paper (its metafile)')
    lines = []
    within = True
    for name, (paper_params, paper_gflops) in PAPER.items():
        model, hw = build_model(name)
        params, flops = get_complexity(model, (3, *hw))
        params, gflops = params / 1e6, flops / 1e9
        dp = params / paper_params - 1
        df = gflops / paper_gflops - 1
        within &= abs(dp) <= TOLERANCE and abs(df) <= TOLERANCE
        lines.append([
            '{}x{}'.format(*hw),
            fmt(params, '.3f'),
            fmt(paper_params, '.2f'),
            fmt(dp, '+.1%'),
            fmt(gflops, '.3f'),
            fmt(paper_gflops, '.3f'),
            fmt(df, '+.1%')
        ])
    print_table(('input', 'params (M)', 'paper', 'diff', 'GFLOPs', 'paper',
                 'diff'), lines)
    return within


def deconv_block(in_channels: int, out_channels: int) -> nn.Module:
    """SimpleBaseline's upsampling layer, built by MMPose's HeatmapHead."""
    head = HeatmapHead(
        in_channels=in_channels,
        out_channels=out_channels,
        deconv_out_channels=(out_channels, ),
        deconv_kernel_sizes=(4, ),
        final_layer=None)
    return head.deconv_layers


def ablation(model: nn.Module, input_shape: Tuple[int, int, int],
             rounds: int, threads: int) -> None:
    """Each LPB of ``model``'s head against a deconv block, side by side."""
    with torch.no_grad():
        feats = model.backbone(torch.rand(1, *input_shape))
    x = feats[-1]
    rows = []
    for i, lpb in enumerate(model.head.deconv_layers):
        assert isinstance(lpb, LPB)
        deconv = deconv_block(lpb.in_channels, lpb.out_channels)
        deconv.eval()
        shape = tuple(x.shape[1:])
        row = dict(name=f'LPB{i + 1} {lpb.in_channels}->{lpb.mid_channels}'
                   f'->{lpb.out_channels} @{shape[1]}x{shape[2]}')
        for key, block in (('lpb', lpb), ('deconv', deconv)):
            row[key] = get_complexity(block, shape)
        inputs = x.clone()
        row['candidates'] = dict(
            lpb=lambda b=lpb, t=inputs: b(t),
            deconv=lambda b=deconv, t=inputs: b(t))
        rows.append(row)
        with torch.no_grad():
            x = lpb(x)

    candidates: Dict[str, Callable[[], object]] = {}
    for i, row in enumerate(rows):
        for key, fn in row['candidates'].items():
            candidates[f'{i}/{key}'] = fn
    times = compare_latency(candidates, rounds=rounds, threads=threads)

    def cells(name, lpb_figures, deconv_figures):
        (lp, lf, lt), (dp, df, dt) = lpb_figures, deconv_figures
        return [
            name,
            fmt(lp / 1e3, '.1f'),
            fmt(dp / 1e3, '.1f'),
            fmt(lp / dp, '.3f'),
            fmt(lf / 1e6, '.1f'),
            fmt(df / 1e6, '.1f'),
            fmt(lf / df, '.3f'),
            fmt(lt, '.2f'),
            fmt(dt, '.2f'),
            fmt(lt / dt, '.3f')
        ]

    lines = []
    totals = dict(lpb=(0, 0, 0.0), deconv=(0, 0, 0.0))
    for i, row in enumerate(rows):
        measured = {
            key: (*row[key], times[f'{i}/{key}'])
            for key in ('lpb', 'deconv')
        }
        for key, vals in measured.items():
            totals[key] = tuple(a + b for a, b in zip(totals[key], vals))
        lines.append(cells(row['name'], measured['lpb'],
                           measured['deconv']))
    lines.append(cells('all LPBs', totals['lpb'], totals['deconv']))
    print('\nAblation: LPB against a transposed-conv block (4x4 deconv '
          'stride 2, BN, ReLU) with the same input and output channels; '
          f'CPU ms: batch 1, {threads} thread(s), median of {rounds} '
          'interleaved rounds; ratio: LPB / deconv')
    print_table(('block', 'LPB params (K)', 'deconv', 'ratio',
                 'LPB MFLOPs', 'deconv', 'ratio', 'LPB ms', 'deconv', 'ratio'),
                lines)


def speed(model: nn.Module, input_shape: Tuple[int, int, int], rounds: int,
          threads: int) -> None:
    """Latency of MobilePoseNet against MMPose's stock light models."""
    models = {MODEL: model}
    for name in STOCK_MODELS:
        models[name] = build_model(name)[0]

    print(f'\nStock models (MMEngine counter, input {input_shape})')
    lines = []
    for name, m in models.items():
        params, flops = get_complexity(m, input_shape)
        lines.append(
            [name, fmt(params / 1e6, '.2f'),
             fmt(flops / 1e9, '.3f')])
    print_table(('model', 'params (M)', 'GFLOPs'), lines)

    x = torch.rand(1, *input_shape)
    with torch.no_grad():
        feats = model.backbone(x)
    candidates = {
        name: (lambda m=m: m._forward(x))
        for name, m in models.items()
    }
    candidates[f'{MODEL} backbone'] = lambda: model.backbone(x)
    candidates[f'{MODEL} head'] = lambda: model.head(feats)
    times = compare_latency(candidates, rounds=rounds, threads=threads)
    print(f'\nCPU latency (batch 1, {threads} thread(s), median of {rounds} '
          'interleaved rounds, this run only)')
    ours = times[MODEL]
    print_table(('model', 'ms', 'MobilePoseNet / model'),
                [[name, fmt(ms, '.1f'),
                  fmt(ours / ms, '.3f')] for name, ms in times.items()])


def parse_args() -> argparse.Namespace:
    return timing_parser(__doc__.split('\n')[0], rounds=20).parse_args()


def main() -> int:
    args = parse_args()
    print(format_cpu_info(threads=args.threads))
    with quiet_mmengine():
        size_ok = check_size()
        model, hw = build_model(MODEL)
        input_shape = (3, *hw)
        ablation(model, input_shape, args.rounds, args.threads)
        speed(model, input_shape, args.rounds, args.threads)
    return 0 if size_ok else 1


if __name__ == '__main__':
    sys.exit(main())

"""Benchmark MobilePoseNet: size against the paper, the LPB ablation, speed.

Usage::

    python tools/benchmarks/mobileposenet.py [--rounds 20] [--threads 1]

Size: params and FLOPs of MobilePoseNet at 256x192 and 384x288 (COCO
configs) from MMEngine's counter, as MMPose's ``get_flops.py`` counts them,
against the paper (1.5M params; 0.557 and 1.23 GFLOPs) with a +-10% check
(exit status 1 if any figure is off).

Ablation: each LPB of the 256x192 head against a transposed-conv upsampling
block with the same input and output channels (MMPose's SimpleBaseline
deconv layer: 4x4 stride-2 ``ConvTranspose2d``, BN, ReLU), at the feature
size it sees in the model: params, FLOPs and CPU latency, with the
LPB / deconv ratios side by side.

Latency: batch 1, 1x3x256x192, ``model._forward`` (network without
post-processing), PyTorch eager, median of interleaved rounds, for
MobilePoseNet and MMPose's SimpleBaseline MobileNetV2, LiteHRNet-18 and
RTMPose-t (stock configs, pretrained weights not loaded), plus
MobilePoseNet's backbone and head apart, to show where its time goes. Only
the ratios measured in this one run mean anything.
"""
import argparse
import logging
import os.path as osp
import sys
from typing import Callable, Dict, Tuple

import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpose.models.heads import HeatmapHead  # noqa: E402

import mmpose_light  # noqa: E402,F401
from mmpose_light.models.layers import LPB  # noqa: E402
from mmpose_light.utils import (  # noqa: E402
    build_offline, compare_latency, get_complexity)

CFG_DIR = osp.join(ROOT, 'configs', 'body_2d_keypoint', 'topdown_heatmap',
                   'coco')
MOBILEPOSENET_CONFIG = osp.join(CFG_DIR,
                                'td-hm_mobilenetv3-lpb_1xb32-210e_coco-{}.py')
STOCK_CONFIGS = {
    'SimpleBaseline MobileNetV2':
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py',
    'LiteHRNet-18':
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py',
    'RTMPose-t':
    'mmpose::body_2d_keypoint/rtmpose/coco/'
    'rtmpose-t_8xb256-420e_coco-256x192.py',
}
INPUT_SHAPE = (3, 256, 192)
TOLERANCE = 0.10

# the paper's figures: input size -> (params in M, GFLOPs)
PAPER: Dict[str, Tuple[float, float]] = {
    '256x192': (1.5, 0.557),
    '384x288': (1.5, 1.23),
}


def check_size() -> bool:
    """Print MobilePoseNet's size against the paper; True if within 10%."""
    print('Size (MMEngine counter); paper: 1.5M params, 0.557 GFLOPs at '
          '256x192, 1.23 GFLOPs at 384x288')
    print(f'{"input":<9}{"params":>9}{"paper":>8}{"diff":>8}'
          f'{"GFLOPs":>9}{"paper":>8}{"diff":>8}')
    all_ok = True
    for size, (paper_params, paper_gflops) in PAPER.items():
        h, w = (int(s) for s in size.split('x'))
        model = build_offline(MOBILEPOSENET_CONFIG.format(size))[0]
        params, flops = get_complexity(model, (3, h, w))
        params, gflops = params / 1e6, flops / 1e9
        dp = params / paper_params - 1
        df = gflops / paper_gflops - 1
        ok = abs(dp) <= TOLERANCE and abs(df) <= TOLERANCE
        all_ok &= ok
        print(f'{size:<9}{params:>8.3f}M{paper_params:>7.2f}M{dp:>+8.1%}'
              f'{gflops:>9.3f}{paper_gflops:>8.3f}{df:>+8.1%}'
              f'  {"ok" if ok else "OFF BY MORE THAN 10%"}')
    return all_ok


def deconv_block(in_channels: int, out_channels: int) -> nn.Module:
    """SimpleBaseline's upsampling layer, built by MMPose's HeatmapHead."""
    head = HeatmapHead(
        in_channels=in_channels,
        out_channels=out_channels,
        deconv_out_channels=(out_channels, ),
        deconv_kernel_sizes=(4, ),
        final_layer=None)
    return head.deconv_layers


def ablation(model: nn.Module, rounds: int, threads: int) -> None:
    """Each LPB of ``model``'s head against a deconv block, side by side."""
    with torch.no_grad():
        feats = model.backbone(torch.rand(1, *INPUT_SHAPE))
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

    print('\nAblation: LPB against a transposed-conv block (4x4 deconv '
          'stride 2, BN, ReLU) with the same input and output channels')
    print(f'{"block":<28}{"params LPB/deconv":>22}{"ratio":>7}'
          f'{"MFLOPs LPB/deconv":>22}{"ratio":>7}{"ms LPB/deconv":>18}'
          f'{"ratio":>7}')
    totals = dict(lpb=[0, 0, 0.0], deconv=[0, 0, 0.0])
    for i, row in enumerate(rows):
        (lp, lf), (dp, df) = row['lpb'], row['deconv']
        lt, dt = times[f'{i}/lpb'], times[f'{i}/deconv']
        for key, vals in (('lpb', (lp, lf, lt)), ('deconv', (dp, df, dt))):
            totals[key] = [a + b for a, b in zip(totals[key], vals)]
        print(f'{row["name"]:<28}{lp / 1e3:>10.1f}K/{dp / 1e3:>8.1f}K'
              f'{lp / dp:>8.3f}{lf / 1e6:>10.1f}/{df / 1e6:>10.1f}'
              f'{lf / df:>8.3f}{lt:>8.2f}/{dt:>8.2f}{lt / dt:>8.3f}')
    (lp, lf, lt), (dp, df, dt) = totals['lpb'], totals['deconv']
    print(f'{"all LPBs":<28}{lp / 1e3:>10.1f}K/{dp / 1e3:>8.1f}K'
          f'{lp / dp:>8.3f}{lf / 1e6:>10.1f}/{df / 1e6:>10.1f}'
          f'{lf / df:>8.3f}{lt:>8.2f}/{dt:>8.2f}{lt / dt:>8.3f}')


def speed(model: nn.Module, rounds: int, threads: int) -> None:
    """Latency of MobilePoseNet against MMPose's stock light models."""
    models = {'MobilePoseNet': model}
    for name, config in STOCK_CONFIGS.items():
        models[name] = build_offline(config)[0]

    print(f'\nStock models (MMEngine counter, input {INPUT_SHAPE})')
    for name, m in models.items():
        params, flops = get_complexity(m, INPUT_SHAPE)
        print(f'{name:<28}{params / 1e6:>8.2f}M{flops / 1e9:>9.3f} GFLOPs')

    x = torch.rand(1, *INPUT_SHAPE)
    with torch.no_grad():
        feats = model.backbone(x)
    candidates = {
        name: (lambda m=m: m._forward(x))
        for name, m in models.items()
    }
    candidates['MobilePoseNet backbone'] = lambda: model.backbone(x)
    candidates['MobilePoseNet head'] = lambda: model.head(feats)
    times = compare_latency(candidates, rounds=rounds, threads=threads)
    print(f'\nCPU latency (batch 1, {threads} thread(s), median of {rounds} '
          'interleaved rounds, this run only)')
    ours = times['MobilePoseNet']
    print(f'{"model":<28}{"ms":>8}{"MobilePoseNet / model":>24}')
    for name, ms in times.items():
        print(f'{name:<28}{ms:>8.1f}{ours / ms:>24.3f}')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--rounds', type=int, default=20, help='timed rounds per model')
    parser.add_argument(
        '--threads', type=int, default=1, help='torch threads while timing')
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    # weight-init dumps and the operators the FLOP counter skips (as
    # MMPose's get_flops.py skips them) would bury the tables
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    init_default_scope('mmpose')
    size_ok = check_size()
    model = build_offline(MOBILEPOSENET_CONFIG.format('256x192'))[0]
    ablation(model, args.rounds, args.threads)
    speed(model, args.rounds, args.threads)
    return 0 if size_ok else 1


if __name__ == '__main__':
    sys.exit(main())

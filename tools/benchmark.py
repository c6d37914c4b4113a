"""Benchmark our pose estimators against MMPose's stock models on this CPU.

Usage::

    python tools/benchmark.py [--models NAME ...] [--reference NAME]
        [--engines ENGINE ...] [--rounds 20] [--skip-onnx [NAME ...]]
        [--out-dir DIR] [--quick]

Size, batch-1 latency (1 thread and all threads), batch-32 throughput,
peak memory and the fraction of the fp32 matmul peak, for PyTorch eager,
ONNX Runtime, ONNX Runtime INT8, OpenVINO and OpenVINO INT8, every
candidate timed interleaved in one run: compare ratios, not milliseconds
across runs. What each figure means: ``benchlib.suite``
(and the ``columns`` of the JSON). OpenVINO columns need ``pip install
openvino``; without it they are left out.

Writes ``benchmark.csv``, ``benchmark.json`` and ``benchmark.png``
(reported AP against measured latency) to ``--out-dir``, each atomically.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Optional, Sequence

HERE = osp.dirname(osp.abspath(__file__))
sys.path[:0] = [osp.dirname(HERE), osp.join(HERE, 'benchmarks')]

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
import torch  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

from benchlib import (ENGINES, MODELS_TABLE,  # noqa: E402
                      available_engines, plot_ap_latency,
                      print_report, run_suite, write_report)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark our pose estimators and MMPose\'s stock ones '
        'on this CPU (size, latency, throughput, memory, FLOP rate; '
        'PyTorch, ONNX Runtime, INT8, OpenVINO)')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS_TABLE),
        default=list(MODELS_TABLE),
        metavar='NAME',
        help='models to benchmark (default: all): ' +
        ', '.join(MODELS_TABLE))
    parser.add_argument(
        '--reference',
        choices=list(MODELS_TABLE),
        metavar='NAME',
        help='model the ratios refer to (default: RTMPose-t if benchmarked, '
        'else the first model)')
    parser.add_argument(
        '--engines',
        nargs='+',
        choices=list(ENGINES),
        metavar='ENGINE',
        help='engines to time (default: all installed): ' +
        ', '.join(ENGINES))
    parser.add_argument(
        '--rounds',
        type=int,
        help='timed rounds at batch 1 (default 20, 3 with --quick); batch '
        '32 uses a quarter of them')
    parser.add_argument(
        '--skip-onnx',
        nargs='*',
        choices=list(MODELS_TABLE),
        metavar='NAME',
        help='PyTorch only (no ONNX export, INT8 or OpenVINO); for the '
        'models named, or for all when none is named')
    parser.add_argument(
        '--out-dir',
        default=osp.join('work_dirs', 'benchmark'),
        help='where the CSV, JSON and PNG go (default: %(default)s)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='few rounds and a smaller matmul, for tests; figures are rough')
    args = parser.parse_args(argv)
    if len(set(args.models)) != len(args.models):
        parser.error('--models lists a model twice')
    if args.reference is None:
        args.reference = ('RTMPose-t'
                          if 'RTMPose-t' in args.models else args.models[0])
    elif args.reference not in args.models:
        parser.error(f'--reference {args.reference!r} is not among --models '
                     f'({", ".join(args.models)})')
    if args.engines is None:
        args.engines = available_engines()
    missing = sorted(set(args.engines) - set(available_engines()))
    if missing:
        parser.error(f'--engines {" ".join(missing)}: OpenVINO is not '
                     'installed (pip install openvino)')
    if args.rounds is None:
        args.rounds = 3 if args.quick else 20
    if args.rounds < 1:
        parser.error(f'--rounds must be >= 1, got {args.rounds}')
    if args.skip_onnx is None:
        args.skip_onnx = []
    elif not args.skip_onnx:
        args.skip_onnx = list(args.models)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    print(format_cpu_info(threads=f'1 and {torch.get_num_threads()}'))
    result = run_suite(
        args.models,
        args.reference,
        rounds=args.rounds,
        engines=args.engines,
        skip_onnx=args.skip_onnx,
        quick=args.quick)
    print_report(result)
    panels = {e: n for e, n in ENGINES.items() if e in args.engines}
    paths = write_report(
        args.out_dir,
        'benchmark',
        result,
        result['rows'],
        result['columns'],
        png=plot_ap_latency(result['rows'], panels,
                            result['machine']['cpu']))
    print(f'\nTook {result["elapsed_s"]:.0f} s. Wrote ' +
          ', '.join(paths.values()))
    return 0


if __name__ == '__main__':
    sys.exit(main())

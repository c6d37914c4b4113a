"""MobilePoseNet with the paper's SENet gate in its LPBs against the hard gate.

Usage::

    python tools/benchmarks/lpb_attention.py [--rounds 40] [--threads 1]

The LPB's attention is SENet's (sigmoid gate, ``LPB.SE_CFG``), as the paper
states; it used to be MMPose's ``SELayer`` default gate, the hard
``clamp((x + 1) / 2)``. This tool builds deployed MobilePoseNet 256x192
with each gate (random weights, BatchNorm statistics from a forward pass),
exports both as ``tools/export_onnx.py`` does, quantizes both to INT8 as
``tools/quantize.py`` does (calibration: the MPII sample's frames), and
times ONNX Runtime float and INT8 on both at batch 1, interleaved in one
run.
"""
import os.path as osp
import sys
import tempfile
from typing import Optional, Sequence

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401
from benchlib import (SAMPLE_DIR, build_model,  # noqa: E402
                      compare_latency, export_model, ort_call, ort_session,
                      print_table, timing_parser)
from mmpose_light.models.layers import lpb  # noqa: E402
from mmpose_light_runtime.timing import format_cpu_info  # noqa: E402

MODEL = 'MobilePoseNet-256x192-deploy'
GATES = {
    'SENet (sigmoid)': lpb.SE_CFG,
    # the previous default
    'hard (clamp((x + 1) / 2))': dict(
        ratio=4,
        act_cfg=(dict(type='ReLU'), dict(type='HSigmoid', bias=1.0,
                                         divisor=2.0))),
}


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = timing_parser(__doc__.split('\n')[0], rounds=40).parse_args(argv)
    print(format_cpu_info(threads=args.threads))
    from mmpose_light_runtime.quantize import quantize_model
    x = np.random.default_rng(0).normal(size=(1, 3, 256, 192))
    x = x.astype(np.float32)
    calls = {}
    paper_gate = lpb.SE_CFG
    with tempfile.TemporaryDirectory() as folder:
        for gate, se_cfg in GATES.items():
            lpb.SE_CFG = se_cfg
            try:
                model, hw = build_model(MODEL, calibrate=True)
            finally:
                lpb.SE_CFG = paper_gate
            fp32 = osp.join(folder, f'{len(calls)}.onnx')
            export_model(model, hw, fp32)
            int8 = fp32.replace('.onnx', '_int8.onnx')
            quantize_model(fp32, int8, osp.join(SAMPLE_DIR, 'mpii'))
            for engine, path in (('float', fp32), ('INT8', int8)):
                calls[gate, engine] = ort_call(
                    ort_session(path, args.threads), x)
        times = compare_latency({f'{g}/{e}': c for (g, e), c in calls.items()},
                                rounds=args.rounds,
                                threads=args.threads)
    sen, hard = GATES
    rows = [(engine, f'{times[f"{hard}/{engine}"]:.2f}',
             f'{times[f"{sen}/{engine}"]:.2f}',
             f'{times[f"{sen}/{engine}"] / times[f"{hard}/{engine}"]:.3f}')
            for engine in ('float', 'INT8')]
    print(f'\n{MODEL}, ONNX Runtime, batch 1, {args.threads} thread(s), '
          f'median ms of {args.rounds} interleaved rounds')
    print_table(('engine', 'hard gate ms', 'SENet gate ms', 'SENet / hard'),
                rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""ncnn (fp32 and fp16 weights) against ONNX Runtime on the same files,
crops and CPU.

Usage::

    python tools/benchmarks/ncnn_vs_onnxruntime.py [--models NAME ...]
        [--rounds 30] [--crops 1 5] [--threads 1 0] [--onnx FILE.onnx ...]

Each model (random weights with BatchNorm statistics from a random batch,
exported by ``tools/export_onnx.py``'s function, unless ``--onnx`` names
trained files) is converted with ``tools/export_ncnn.py``'s function in
fp32 and in fp16, checked against ONNX Runtime (the fp16 check's bounds
are lifted here: its differences are printed, and a random network's
fp16 error is no guide to a trained one's). Then, per thread count (0:
each engine's default) and number of crops (person boxes of a sample
image), the runtime's backends run the same batch, timed interleaved:

- ``ort``: ONNX Runtime (``OnnxRuntimeBackend``: one session, a batch in
  chunks over the cores);
- ``ncnn fp32`` / ``ncnn fp16``: ncnn (``NcnnBackend``), crops one after
  the other, each on ncnn's threads, as the runtime runs them;
- ``ncnn fp32 spread``: with several crops and threads, the other way
  to run a batch: the crops spread over a pool of Python threads, each
  with its own single-thread extractor (ncnn's Python binding releases the
  GIL during inference, so the threads do run in parallel).

Each engine is timed at its best: ONNX Runtime after a pause in which
its spinning threads and the other engines' go quiet, ncnn after the pause
and one untimed call, so that its OpenMP threads, asleep after 20 ms idle,
are awake as a stream of frames keeps them. The CPU line comes first;
ratios are ncnn's median time over ONNX Runtime's. x86 is not ncnn's
home: phone figures are not measured here.
"""
import argparse
import json
import os.path as osp
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from benchlib import SAMPLE_DIR, build_model, export_model  # noqa: E402
from benchlib.report import print_table  # noqa: E402
from mmpose_light_runtime import TopdownEstimator, read_image  # noqa: E402
from mmpose_light_runtime.backends import (NcnnBackend,  # noqa: E402
                                           OnnxRuntimeBackend)
from mmpose_light_runtime.ncnn_export import export_ncnn  # noqa: E402
from mmpose_light_runtime.timing import (compare_latency,  # noqa: E402
                                         format_cpu_info)

MODELS = ('MobilePoseNet-256x192-deploy', 'RepNet-A-deploy', 'RTMPose-t')
IMAGE = osp.join(SAMPLE_DIR, 'coco', '000000196141.jpg')
NO_BOUND = dict(keypoint_px=1e9, keypoint_score=1e9, output_rel=1e9)


class SpreadCrops:
    """The crops of a batch spread over ``threads`` Python threads, each
    with its own ncnn extractor on one thread."""

    def __init__(self, param: str, threads: int) -> None:
        self.backend = NcnnBackend(param, num_threads=1)
        self.pool = ThreadPoolExecutor(threads)

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        parts = list(self.pool.map(self.backend.run_one, inputs))
        return [np.stack(outputs) for outputs in zip(*parts)]


def convert(onnx_file: str, folder: str) -> Dict[str, dict]:
    """fp32 and fp16 conversions of ``onnx_file``: their files and the
    check's differences."""
    name = osp.splitext(osp.basename(onnx_file))[0]
    results = {}
    for precision in ('fp32', 'fp16'):
        results[precision] = export_ncnn(
            onnx_file,
            osp.join(folder, f'{name}-{precision}'),
            images=[osp.join(SAMPLE_DIR, 'coco')],
            fp16=precision == 'fp16',
            tolerances=None if precision == 'fp32' else NO_BOUND)
    return results


def person_boxes() -> np.ndarray:
    """The five annotated people (x1, y1, x2, y2) of the sample image."""
    with open(osp.join(SAMPLE_DIR, 'coco', 'test_coco.json')) as f:
        coco = json.load(f)
    xywh = np.array([a['bbox'] for a in coco['annotations']
                     if a['image_id'] == 196141])
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)


def crops(onnx_file: str, num: int) -> np.ndarray:
    """The network input of the first ``num`` people of the sample."""
    estimator = TopdownEstimator(onnx_file, num_threads=1)
    return estimator.preprocess(read_image(IMAGE), person_boxes()[:num])[0]


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS))
    parser.add_argument(
        '--onnx', nargs='+', help='trained ONNX files instead of --models')
    parser.add_argument('--rounds', type=int, default=30)
    parser.add_argument(
        '--settle-ms',
        type=float,
        default=200.,
        help='untimed pause before each call: ONNX Runtime\'s idle threads '
        'spin on after a call and would slow the candidate timed next '
        '(default: %(default)s)')
    parser.add_argument('--crops', type=int, nargs='+', default=[1, 5])
    parser.add_argument(
        '--threads',
        type=int,
        nargs='+',
        default=[1, 0],
        help="thread counts; 0 is each engine's default")
    args = parser.parse_args(argv)
    if max(args.crops) > 5 or min(args.crops) < 1:
        parser.error('--crops should lie in 1..5 (the sample\'s people)')
    print(format_cpu_info(), flush=True)
    folder = tempfile.mkdtemp(prefix='ncnn-bench-')
    files = args.onnx
    if not files:
        files = []
        for name in args.models:
            model, hw = build_model(name, calibrate=True)
            files.append(osp.join(folder, f'{name}.onnx'))
            export_model(model, hw, files[-1])
    fidelity, timing = [], []
    results = dict(fidelity=fidelity, timing=timing)
    for onnx_file in files:
        name = osp.splitext(osp.basename(onnx_file))[0]
        converted = convert(onnx_file, folder)
        for precision, result in converted.items():
            check = result['check']
            fidelity.append(
                dict(model=name, precision=precision,
                     keypoint_px=check['max_keypoint_px'],
                     score=check['max_score'],
                     output_rel=check['max_output_rel'], ties=check['ties']))
        params = {p: r['files'][0] for p, r in converted.items()}
        for threads in args.threads:
            count = threads or None
            engines = dict(
                ort=OnnxRuntimeBackend(onnx_file, num_threads=count),
                **{
                    f'ncnn {p}': NcnnBackend(param, num_threads=count)
                    for p, param in params.items()
                })
            spread_threads = threads or engines['ncnn fp32'].num_threads
            spread = SpreadCrops(params['fp32'], spread_threads) \
                if spread_threads > 1 else None
            for num in args.crops:
                batch = crops(onnx_file, num)
                candidates = {
                    key: (lambda e=engine: e.run(batch))
                    for key, engine in engines.items()
                }
                if spread is not None and num > 1:
                    candidates['ncnn fp32 spread'] = \
                        lambda: spread.run(batch)
                times = compare_latency(
                    candidates,
                    rounds=args.rounds,
                    settle_ms=args.settle_ms,
                    rewarm=[k for k in candidates if k != 'ort'])
                row = dict(model=name, threads=threads or 'default',
                           crops=num, ort_ms=times['ort'])
                for key, value in times.items():
                    if key != 'ort':
                        row[key] = value / times['ort']
                timing.append(row)
                print(f'{name} threads={row["threads"]} crops={num}: ' +
                      ', '.join(f'{k} {v:.2f} ms'
                                for k, v in times.items()), flush=True)
    print('\nfidelity of the conversions (sample images, 12 crops; fp16 '
          'unbounded here):')
    print_table(['model', 'weights', 'keypoints px', 'scores',
                 'outputs rel', 'tied maxima'],
                [[r['model'], r['precision'], f'{r["keypoint_px"]:.3g}',
                  f'{r["score"]:.3g}', f'{r["output_rel"]:.3g}',
                  str(r['ties'])] for r in fidelity])
    print('\nncnn time / ONNX Runtime time (median of interleaved runs):')
    keys = ['ncnn fp32', 'ncnn fp16', 'ncnn fp32 spread']
    print_table(['model', 'threads', 'crops', 'ORT ms'] + keys,
                [[str(r['model']), str(r['threads']), str(r['crops']),
                  f'{r["ort_ms"]:.2f}'] +
                 [f'{r[k]:.2f}' if k in r else '-' for k in keys]
                 for r in timing])
    return results


if __name__ == '__main__':
    main()

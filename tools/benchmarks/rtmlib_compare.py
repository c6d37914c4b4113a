"""Benchmark the runtime's top-down estimator against rtmlib's RTMPose on
the same ONNX file, image and boxes.

Usage::

    python tools/benchmarks/rtmlib_compare.py [--model RTMPOSE.onnx]
        [--people 1 5 20] [--threads default 1] [--rounds 50]
        [--json OUT.json]

rtmlib installs beside the runtime with ``pip install --no-deps rtmlib
tqdm`` (its metadata asks for both OpenCV builds, which clash with the
runtime's headless one); without it, its column is skipped with a message.

Both sides take one frame (the sample image 000000196141.jpg, already
decoded) and 1, 5 and 20 person boxes (its detections, then shifted
copies) to keypoints in image coordinates: crops, normalisation, the
network and SimCC decoding. Ours is :class:`TopdownEstimator.predict`
(all crops in one call of the engine); rtmlib's ``RTMPose.__call__``
crops, runs and decodes one box at a time. rtmlib is given the image with
its channels already swapped, since our RTMPose file asks for RGB and
rtmlib feeds the image as it comes, so that both networks see the same
pixels (the keypoint difference is printed as a check). ``default`` is
ONNX Runtime's own thread count for both (rtmlib's session as it builds
it); ``1`` gives both sessions one intra-op thread (rtmlib's session is
rebuilt with those options, since rtmlib has no thread setting).

Without ``--model``, RTMPose-t (the benchmark suite's, random weights:
speed does not depend on them) is exported first, which needs the
training environment; with ``--model`` (a file of ``tools/export_onnx.py``
with a SimCC head) only the runtime and rtmlib are needed. Times are
medians of rounds in which each candidate runs once in turn
(:func:`mmpose_light_runtime.timing.compare_latency`); only the ratios of
this one run mean anything. The header names the CPU, its vector
extensions and its cores.
"""
import argparse
import contextlib
import io
import os.path as osp
import platform
import sys
import tempfile
from typing import Dict, List, Optional

import numpy as np
import onnxruntime as ort

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample', 'coco')
IMAGE = osp.join(SAMPLE, '000000196141.jpg')
DETS = osp.join(SAMPLE, 'test_coco_det_AP_H_56.json')
# Both engines are ONNX Runtime sessions in this one process, and an idle
# session's threads spin for a while after each call by default: without a
# pause, the one timed second would share its cores with the other's
# spinning threads, which no user running one of them meets.
SETTLE_MS = 30.
sys.path.insert(0, osp.join(ROOT, 'runtime'))

from mmpose_light_runtime import (DetectionFile,  # noqa: E402
                                  TopdownEstimator, read_image)
from mmpose_light_runtime.fileio import dump_json  # noqa: E402
from mmpose_light_runtime.timing import (compare_latency,  # noqa: E402
                                         cpu_info, format_cpu_info)

COLUMNS = ('threads', 'people', 'ours ms', 'rtmlib ms', 'ours / rtmlib',
           'max kpt diff px')


def person_boxes(num: int) -> np.ndarray:
    """``num`` boxes of the sample image: its detections, then copies
    shifted by up to 8 pixels."""
    boxes, _ = DetectionFile(DETS, score_thr=0.3)(None, 196141)
    rng = np.random.default_rng(0)
    out = np.array([boxes[i % len(boxes)] for i in range(num)])
    shifts = rng.uniform(-8, 8, (num, 2))
    shifts[:len(boxes)] = 0
    return out + np.tile(shifts, 2)


def export_rtmpose_t(folder: str) -> str:
    """RTMPose-t of the benchmark suite, exported with random weights."""
    sys.path.insert(0, ROOT)
    import mmpose_light  # noqa: F401  (compat fixes and registration)
    from benchlib import build_model, export_model

    model, hw = build_model('RTMPose-t', calibrate=True)
    path = osp.join(folder, 'rtmpose-t.onnx')
    export_model(model, hw, path)
    return path


def import_rtmlib():
    """The rtmlib module, or None where it is not installed."""
    try:
        import rtmlib
    except ImportError:
        return None
    return rtmlib


def load_rtmlib(model: str, estimator: TopdownEstimator,
                num_threads: Optional[int]):
    """rtmlib's RTMPose on ``model``, or None where rtmlib is missing."""
    rtmlib = import_rtmlib()
    if rtmlib is None:
        return None
    pre = estimator.meta['preprocess']
    # rtmlib prints a line per model it loads
    with contextlib.redirect_stdout(io.StringIO()):
        pose = rtmlib.RTMPose(
            model,
            model_input_size=estimator.input_size,
            mean=pre['mean'],
            std=pre['std'],
            backend='onnxruntime',
            device='cpu')
    if num_threads is not None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        pose.session = ort.InferenceSession(
            model, sess_options=options, providers=['CPUExecutionProvider'])
    return pose


def rtmlib_version() -> Optional[str]:
    """rtmlib's version, or None where it is not installed."""
    if import_rtmlib() is None:
        return None
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version('rtmlib')
    except PackageNotFoundError:  # importable from a source tree
        return 'unknown version'


def measure(model: str, people: List[int], threads: List[str],
            rounds: int, warmup: int) -> List[Dict]:
    """One row per thread setting and number of people."""
    image = read_image(IMAGE)
    rows = []
    for setting in threads:
        num_threads = None if setting == 'default' else int(setting)
        ours = TopdownEstimator(model, num_threads=num_threads)
        if ours.meta['codec']['type'] != 'SimCCLabel':
            raise ValueError(f'{model!r} has a {ours.meta["codec"]["type"]} '
                             'head; rtmlib\'s RTMPose decodes SimCC')
        theirs = load_rtmlib(model, ours, num_threads)
        # rtmlib normalises the channels as they come; ours swaps first
        rtmlib_image = np.ascontiguousarray(
            image[..., ::-1]
            if ours.meta['preprocess']['swap_channels'] else image)
        for num in people:
            boxes = person_boxes(num)
            candidates = {'ours': lambda b=boxes: ours.predict(image, b)}
            if theirs is not None:
                candidates['rtmlib'] = (
                    lambda b=boxes: theirs(rtmlib_image, b))
            times = compare_latency(candidates, rounds=rounds, warmup=warmup,
                                    settle_ms=SETTLE_MS)
            row = dict(threads=setting, people=num, ours_ms=times['ours'])
            if theirs is not None:
                keypoints = theirs(rtmlib_image, boxes)[0]
                row.update(
                    rtmlib_ms=times['rtmlib'],
                    ratio=times['ours'] / times['rtmlib'],
                    max_keypoint_diff=float(
                        np.abs(ours.predict(image, boxes).keypoints -
                               keypoints).max()))
            rows.append(row)
    return rows


def markdown(rows: List[Dict]) -> str:

    def cell(row, key, spec):
        return format(row[key], spec) if key in row else '-'

    lines = ['| ' + ' | '.join(COLUMNS) + ' |',
             '|' + '---|' * len(COLUMNS)]
    for row in rows:
        cells = (row['threads'], str(row['people']),
                 cell(row, 'ours_ms', '.2f'), cell(row, 'rtmlib_ms', '.2f'),
                 cell(row, 'ratio', '.2f'),
                 cell(row, 'max_keypoint_diff', '.2g'))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model',
                        help='a SimCC ONNX file of tools/export_onnx.py '
                        '(default: export RTMPose-t with random weights)')
    parser.add_argument('--people', type=int, nargs='+', default=[1, 5, 20])
    parser.add_argument('--threads', nargs='+', default=['default', '1'],
                        help="ONNX Runtime intra-op threads: 'default' "
                        '(its choice) or a count (default: default 1)')
    parser.add_argument('--rounds', type=int, default=50)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--json', help='also write the results here')
    args = parser.parse_args(argv)
    for setting in args.threads:
        if setting != 'default' and not (setting.isdigit()
                                         and int(setting) > 0):
            parser.error("--threads takes 'default' or positive counts, "
                         f'not {setting!r}')
    if min(args.people) < 1:
        parser.error(f'--people should be positive, not {args.people}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    info = cpu_info()
    version = rtmlib_version()
    print(f'# Ours / rtmlib {version or "(absent)"} per frame, ONNX Runtime '
          f'{ort.__version__}, median ms of {args.rounds} interleaved '
          f'rounds\n\n{format_cpu_info(info)}\n')
    if version is None:
        print('rtmlib is not installed (pip install --no-deps rtmlib tqdm): '
              'its columns are skipped\n')
    with tempfile.TemporaryDirectory() as folder:
        model = args.model
        if model is None:
            print('exporting RTMPose-t ...', file=sys.stderr)
            model = export_rtmpose_t(folder)
        rows = measure(model, args.people, args.threads, args.rounds,
                       args.warmup)
    print(markdown(rows))
    if version is not None:
        print('\nmax kpt diff: ours against rtmlib\'s keypoints. rtmlib '
              'normalises in float64, MMPose and ours in float32; where the '
              'SimCC maxima are nearly flat (random weights), the last bit '
              'can move an argmax.')
    if args.json:
        dump_json(
            dict(cpu=info,
                 python=platform.python_version(),
                 onnxruntime=ort.__version__,
                 rtmlib=version,
                 model=args.model or 'RTMPose-t (random weights)',
                 rounds=args.rounds,
                 rows=rows), args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())

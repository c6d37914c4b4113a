"""Frames per second of ``mmpose-light-runtime-batch`` on each engine, and
the worker-kill trial over several seeds.

Usage::

    python tools/benchmarks/batch.py [--model MODEL.onnx] [--videos 8]
        [--frames 120] [--fault-seeds 5]

The archive: ``--videos`` videos of the bundled COCO sample images, each
image moving by a few pixels a frame (``--frames`` frames each, 640 px
wide), whole frames
as person boxes, tracking and smoothing on. The pose model is ``--model``,
else RTMPose-t with random weights (BatchNorm statistics from a random
batch), exported by ``tools/export_onnx.py``'s function. One run, in turn:

- 1 process, 1 thread (``--engine local --workers 1 --num-threads 1``);
- 1 process, ONNX Runtime's default threads;
- 2 local processes, 1 thread each (``--workers 2``);
- 2 Ray workers, 1 thread each (``--engine ray --workers 2``), on a local
  cluster started before the clock starts; its start-up is timed apart.

Then, per seed, a Ray run in which each video kills its worker once at a
seeded frame; counted as passed when every (video, frame) is in the
results exactly once, equal to the run without faults. The CPU line comes
first.
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import List, Optional

import cv2
import numpy as np

from mmpose_light_runtime import read_image
from mmpose_light_runtime.batch import FAULT_ENV, run_batch
from mmpose_light_runtime.smoothing import DEFAULT_SMOOTHING
from mmpose_light_runtime.timing import format_cpu_info

# benchlib (PyTorch) is imported in main() only: the local engine's
# processes are spawned and import this module again, and a user's
# command would not make them import torch
BENCHMARKS = osp.dirname(osp.abspath(__file__))
SAMPLE_COCO = osp.join(osp.dirname(osp.dirname(BENCHMARKS)), 'data',
                       'sample', 'coco')


def make_videos(folder: str, num: int, frames: int) -> List[str]:
    """Videos of the sample images, the i-th moving 3 + i px right and
    1 px down a frame."""
    images = sorted(osp.join(SAMPLE_COCO, n) for n in os.listdir(SAMPLE_COCO)
                    if n.endswith('.jpg'))
    paths = []
    for i in range(num):
        image = read_image(images[i % len(images)])
        height, width = image.shape[:2]
        path = osp.join(folder, f'video{i}.avi')
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), 30,
                                 (width, height))
        for t in range(frames):
            # each video its own speed: no two have the same content
            shift = np.float32([[1, 0, (3 + i) * t], [0, 1, t]])
            writer.write(cv2.warpAffine(image, shift, (width, height)))
        writer.release()
        paths.append(path)
    return paths


def default_model(folder: str) -> str:
    from benchlib import build_model, export_model
    model, hw = build_model('RTMPose-t', calibrate=True)
    path = osp.join(folder, 'rtmpose-t.onnx')
    export_model(model, hw, path)
    return path


def frames_by_video(out_dir: str) -> dict:
    with open(osp.join(out_dir, 'manifest.jsonl')) as f:
        rows = [json.loads(line) for line in f]
    found = {}
    for row in rows:
        with open(osp.join(out_dir, 'results', row['result'])) as f:
            found[row['input']] = json.load(f)['frames']
    return found


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', help='pose model (default: RTMPose-t)')
    parser.add_argument('--videos', type=int, default=8)
    parser.add_argument('--frames', type=int, default=120)
    parser.add_argument('--fault-seeds', type=int, default=5)
    args = parser.parse_args(argv)
    print(format_cpu_info(), flush=True)
    import ray
    sys.path.insert(0, BENCHMARKS)
    from benchlib.report import print_table

    folder = tempfile.mkdtemp(prefix='batch-bench-')
    model = args.model or default_model(folder)
    videos = make_videos(folder, args.videos, args.frames)
    config = dict(model=model, track=True,
                  smooth=dict(DEFAULT_SMOOTHING),
                  nms=dict(kernel='gaussian', sigma=2., score_thr=0.2))
    runs = [('1 process, 1 thread', 'local', 1, 1),
            ('1 process, default threads', 'local', 1, None),
            ('2 local processes, 1 thread each', 'local', 2, 1),
            ('2 Ray workers, 1 thread each', 'ray', 2, 1)]
    rows = []
    reference = None
    for name, engine, workers, threads in runs:
        out = osp.join(folder, f'out-{len(rows)}')
        startup = None
        if engine == 'ray':
            start = time.perf_counter()
            ray.init(num_cpus=workers, log_to_driver=False,
                     include_dashboard=False)
            startup = time.perf_counter() - start
        start = time.perf_counter()
        summary = run_batch(videos, out, dict(config, num_threads=threads),
                            engine=engine, workers=workers)
        seconds = time.perf_counter() - start
        if engine == 'ray':
            ray.shutdown()
        found = frames_by_video(out)
        if reference is None:
            reference = found
        rows.append(dict(run=name, frames=summary['frames'],
                         seconds=seconds, fps=summary['frames'] / seconds,
                         startup=startup, same=found == reference))
        print(f'{name}: {summary["frames"]} frames in {seconds:.1f} s',
              flush=True)
    base = rows[0]['fps']
    best_single = max(rows[0]['fps'], rows[1]['fps'])
    print()
    print_table(['run', 'frames', 's', 'fps', 'x 1 thread', 'same results',
                 'Ray start-up s'],
                [[r['run'], str(r['frames']), f'{r["seconds"]:.1f}',
                  f'{r["fps"]:.1f}', f'{r["fps"] / base:.2f}',
                  'yes' if r['same'] else 'NO',
                  '-' if r['startup'] is None else f'{r["startup"]:.1f}']
                 for r in rows])
    ray_fps = rows[-1]['fps']
    print(f'\n2 Ray workers / 1 process 1 thread: {ray_fps / base:.2f} '
          '(goal >= 1.6); / best single process: '
          f'{ray_fps / best_single:.2f} (goal >= 0.9)')

    passed = 0
    for seed in range(args.fault_seeds):
        frame = int(np.random.default_rng(seed).integers(1, args.frames - 1))
        faults = tempfile.mkdtemp(dir=folder)
        os.environ[FAULT_ENV] = f'{faults}:{frame}'
        out = osp.join(folder, f'fault-{seed}')
        try:
            run_batch(videos, out, dict(config, num_threads=1),
                      engine='ray', workers=2)
        finally:
            del os.environ[FAULT_ENV]
        found = frames_by_video(out)
        pairs = [(v, f['frame']) for v in found for f in found[v]]
        kills = len(os.listdir(faults))
        ok = (found == reference and len(pairs) == len(set(pairs)) ==
              args.videos * args.frames and kills == args.videos)
        passed += ok
        verdict = ('all once, equal to the run without faults'
                   if ok else 'MISMATCH')
        print(f'seed {seed}: each of {kills} videos killed its worker at '
              f'frame {frame}; {len(pairs)} (video, frame) pairs, '
              f'{verdict}', flush=True)
    print(f'worker-kill trials: {passed} of {args.fault_seeds} passed')
    return dict(rows=rows, fault_trials=args.fault_seeds,
                fault_passed=passed)


if __name__ == '__main__':
    main()

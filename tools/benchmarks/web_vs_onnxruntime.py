"""The pose page in headless Chromium (onnxruntime-web, WebAssembly)
against the Python runtime's ONNX Runtime, on the same CPU, models and
frame.

Usage::

    python tools/benchmarks/web_vs_onnxruntime.py [--models NAME ...]
        [--people 1 5] [--threads 1 0] [--rounds 20] [--json OUT.json]

Each model (random weights with BatchNorm statistics from a random batch,
exported by ``tools/export_onnx.py``'s function) is timed per frame:
``predict`` on the sample image with the first 1 or 5 of its annotated
people (crops, normalisation, the network on all crops in one batch,
decoding), in the page (``poseApp.timePredict``, after warm-up runs:
Chromium compiles WebAssembly in tiers) and in Python
(``TopdownEstimator.predict``, interleaved medians), at the same thread
count (0: all cores; the page is cross-origin isolated, so WebAssembly
gets them). MobilePoseNet is also timed in its WebAssembly-friendly form
(``mmpose_light_runtime.web_export``), whose keypoints are checked equal
first. The CPU line comes first; the ratio is WebAssembly's time over
ONNX Runtime's.

Needs Node, the system's Chromium and ``npm ci --prefix web``
(``tools/setup_web_env.sh``).
"""
import argparse
import base64
import json
import os.path as osp
import sys
import tempfile
from typing import List, Optional

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from benchlib.report import print_table  # noqa: E402
from benchlib.web import (SAMPLE_IMAGE, drive,  # noqa: E402
                          export_coco_model, gt_boxes, require_tools, serve)
from mmpose_light_runtime import TopdownEstimator, read_image  # noqa: E402
from mmpose_light_runtime.timing import (compare_latency,  # noqa: E402
                                         format_cpu_info, usable_cores)

MODELS = ('MobilePoseNet-256x192-deploy', 'RTMPose-t')


def image_url() -> str:
    """The sample image as a PNG data URL (lossless: the page decodes the
    pixels OpenCV reads)."""
    ok, png = cv2.imencode('.png', read_image(SAMPLE_IMAGE))
    assert ok
    return 'data:image/png;base64,' + base64.b64encode(png).decode()


def web_friendly(onnx_file: str) -> Optional[str]:
    """MobilePoseNet's WebAssembly-friendly form, checked on ONNX Runtime
    by the rewrite itself; None where the model needs none."""
    from mmpose_light_runtime.web_export import export_web
    result = export_web(onnx_file)
    return result['file'] if result['rewrites'] else None


def time_native(onnx_file: str, threads: int, boxes: np.ndarray,
                rounds: int) -> float:
    estimator = TopdownEstimator(onnx_file, num_threads=threads or None)
    image = read_image(SAMPLE_IMAGE)
    return compare_latency(
        {'ort': lambda: estimator.predict(image, boxes)},
        rounds=rounds, warmup=5, settle_ms=50.)['ort']


def time_web(onnx_file: str, threads: int, people: List[int],
             rounds: int) -> dict:
    """Page medians per number of people, and the engine it ran."""
    url_image = image_url()
    boxes = gt_boxes().tolist()
    query = '?engine=wasm' + (f'&threads={threads}' if threads else '')
    steps = [dict(do='open', query=query)] + [
        dict(do='time', image=url_image, bboxes=boxes[:n], warmup=15,
             runs=rounds) for n in people]
    with serve(onnx_file) as url:
        outputs = drive(url, steps, timeout=900.)
    opened = outputs[0]
    if opened['state'] != 'ready':
        raise RuntimeError(f'the page failed: {opened["message"]}')
    return dict(engine=opened['engine'],
                ms={n: out['median'] for n, out in zip(people, outputs[1:])})


def main(argv: Optional[List[str]] = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=list(MODELS))
    parser.add_argument('--people', type=int, nargs='+', default=[1, 5])
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 0],
                        help='thread counts; 0 is all cores')
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--json', help='also write the rows here')
    args = parser.parse_args(argv)
    require_tools(parser)
    if max(args.people) > 5 or min(args.people) < 1:
        parser.error('--people should lie in 1..5 (the sample\'s people)')
    cores = usable_cores()
    print(format_cpu_info(), flush=True)
    folder = tempfile.mkdtemp(prefix='web-bench-')
    files = []
    for name in args.models:
        path = export_coco_model(name, osp.join(folder, f'{name}.onnx'))
        files.append((name, path))
        friendly = web_friendly(path)
        if friendly:
            files.append((name + ' (web export)', friendly))
    rows = []
    boxes = gt_boxes()
    for name, path in files:
        for threads in args.threads:
            web = time_web(path, threads, args.people, args.rounds)
            for people in args.people:
                native = time_native(path, threads, boxes[:people],
                                     args.rounds)
                wasm = web['ms'][people]
                rows.append(dict(
                    model=name, threads=threads or cores,
                    web_threads=web['engine']['threads'], people=people,
                    ort_ms=native, wasm_ms=wasm, ratio=wasm / native,
                    wasm_fps=1e3 / wasm))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(cpu=format_cpu_info(), rows=rows), f, indent=1)
    print_table(
        ['model', 'threads', 'people', 'ORT ms', 'WASM ms', 'WASM / ORT',
         'WASM frames/s'],
        [[r['model'], str(r['threads']), str(r['people']),
          f'{r["ort_ms"]:.2f}', f'{r["wasm_ms"]:.2f}', f'{r["ratio"]:.2f}',
          f'{r["wasm_fps"]:.1f}'] for r in rows])
    return dict(rows=rows)


if __name__ == '__main__':
    main()

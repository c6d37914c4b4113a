"""INT8 and OpenVINO on the bundled sample: speed and fidelity, calibration
and measurement on different images.

Usage::

    python tools/benchmarks/int8.py MODEL.onnx [MODEL.onnx ...]
        [--out-dir DIR] [--rounds 20] [--threads 1] [--no-openvino]

For each float model exported by ``tools/export_onnx.py`` (trained ones:
fidelity on random weights means nothing), ``tools/quantize.py`` runs with
the bundled sample split in two:

- calibration: the five MPII images (person boxes from their annotations)
  and COCO 000000040083 and 000000197388 (their bundled detections);
- held out: COCO 000000000785 and 000000196141, with their bundled
  detections (fidelity, and COCO AP after the same Matrix-OKS-NMS against
  their annotations) and ONNX Runtime float and INT8, OpenVINO float and
  INT8 timed interleaved at batch 1 and 8.

The INT8 files are written to ``--out-dir``.
"""
import argparse
import importlib.util
import json
import os
import os.path as osp
import sys
import tempfile
from typing import List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(ROOT, 'data', 'sample')
COCO = osp.join(SAMPLE, 'coco')
MPII = osp.join(SAMPLE, 'mpii')
DETS = osp.join(COCO, 'test_coco_det_AP_H_56.json')
CALIB_COCO = ('000000040083.jpg', '000000197388.jpg')
HELD_OUT = ('000000000785.jpg', '000000196141.jpg')


def load_quantize_tool():
    spec = importlib.util.spec_from_file_location(
        'quantize_tool', osp.join(ROOT, 'tools', 'quantize.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def mpii_boxes() -> List[dict]:
    """MPII persons as COCO detections: a square of side ``200 * scale``
    (MPII's person scale) around the annotated centre."""
    with open(osp.join(MPII, 'test_mpii.json')) as f:
        annotations = json.load(f)
    return [
        dict(image_id=int(osp.splitext(a['image'])[0]),
             category_id=1,
             score=1.,
             bbox=[
                 a['center'][0] - 100 * a['scale'],
                 a['center'][1] - 100 * a['scale'], 200 * a['scale'],
                 200 * a['scale']
             ]) for a in annotations
    ]


def make_split(folder: str) -> dict:
    """Calibration and held-out folders (links to the sample images) and
    the calibration detections."""
    calib, held_out = osp.join(folder, 'calib'), osp.join(folder, 'eval')
    os.makedirs(calib)
    os.makedirs(held_out)
    images = [osp.join(MPII, name) for name in sorted(os.listdir(MPII))
              if name.endswith('.jpg')]
    images += [osp.join(COCO, name) for name in CALIB_COCO]
    for path in images:
        os.symlink(path, osp.join(calib, osp.basename(path)))
    for name in HELD_OUT:
        os.symlink(osp.join(COCO, name), osp.join(held_out, name))
    with open(DETS) as f:
        dets = json.load(f)
    calib_dets = osp.join(folder, 'calib_dets.json')
    with open(calib_dets, 'w') as f:
        json.dump(mpii_boxes() + dets, f)
    return dict(calib=calib, held_out=held_out, calib_dets=calib_dets)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('models', nargs='+', help='float ONNX files')
    parser.add_argument('--out-dir', default=osp.join('work_dirs', 'int8'))
    parser.add_argument('--rounds', type=int, default=20)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--no-openvino', action='store_true')
    args = parser.parse_args(argv)
    tool = load_quantize_tool()
    print(tool.format_cpu_info(threads=args.threads))
    os.makedirs(args.out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        split = make_split(folder)
        for model in args.models:
            name = osp.splitext(osp.basename(model))[0]
            print(f'\n## {name}\n', flush=True)
            code = tool.main([
                model,
                osp.join(args.out_dir, f'{name}_int8.onnx'), '--calib',
                split['calib'], '--det-file', split['calib_dets'], '--eval',
                split['held_out'], '--eval-det-file', DETS, '--eval-ann',
                osp.join(COCO, 'test_coco.json'), '--threads',
                str(args.threads), '--rounds',
                str(args.rounds)
            ] + ([] if args.no_openvino else ['--openvino']))
            if code:
                return code
    return 0


if __name__ == '__main__':
    sys.exit(main())

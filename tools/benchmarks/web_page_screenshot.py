"""A screenshot of the pose page after a video of the COCO sample.

Usage::

    python tools/benchmarks/web_page_screenshot.py POSE.onnx
        [--det-model DET.onnx] [--out docs/images/web_page.png]

The video is the sample image moving by a few pixels per frame (VP8 WebM,
10 frames). Without ``--det-model`` the person boxes come from a detector
file whose network returns the sample's annotated boxes
(``benchlib.web.fixed_detector``). The page runs in headless Chromium with
tracking and smoothing on, as served by ``mmpose-light-runtime serve``.
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import List, Optional

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

from benchlib.web import (SAMPLE_IMAGE, drive, fixed_detector,  # noqa: E402
                          require_tools, serve)


def write_video(path: str, frames: int = 10) -> str:
    image = cv2.imread(SAMPLE_IMAGE)
    height, width = (s // 2 * 2 for s in image.shape[:2])
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'VP80'), 10,
                             (width, height))
    for t in range(frames):
        matrix = np.float32([[1, 0, 3 * t], [0, 1, -t]])
        writer.write(cv2.warpAffine(image, matrix, (width, height)))
    writer.release()
    return path


def main(argv: Optional[List[str]] = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model', help='pose model (tools/export_onnx.py)')
    parser.add_argument('--det-model', help='person detector '
                        '(tools/export_detector.py)')
    parser.add_argument('--out', default='docs/images/web_page.png')
    args = parser.parse_args(argv)
    require_tools(parser)
    folder = tempfile.mkdtemp(prefix='web-shot-')
    video = write_video(osp.join(folder, 'sample.webm'))
    detector = args.det_model or fixed_detector(
        osp.join(folder, 'sample_boxes.onnx'), cv2.imread(SAMPLE_IMAGE).shape)
    with serve(args.model, detector) as url:
        outputs = drive(url, [
            dict(do='open'),
            dict(do='file', path=video),
            dict(do='page-screenshot', path=osp.abspath(args.out)),
        ])
    run = outputs[1]
    if run['state'] != 'done':
        raise SystemExit(f'the page failed: {run["message"]}')
    print(f'{len(run["results"])} frames, {run["fps"]}; {run["status"]}')
    print(f'wrote {args.out}')
    return args.out


if __name__ == '__main__':
    main()

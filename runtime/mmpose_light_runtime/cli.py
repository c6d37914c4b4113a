"""Command line: pose on an image, a folder, a video or a camera.

    mmpose-light-runtime MODEL.onnx INPUT [--out OUT] [--json OUT.json]
        [--det-file DETS.json | --det-model DET.onnx] [--det-interval N]
        [--track [--smooth]] [--flip-test] [--nms {gaussian,linear,none}] ...

INPUT is an image, a folder of images, a video file or a camera index
(``0``). Person boxes come from a COCO detection file, a person detector
exported by tools/export_detector.py or in MMDeploy's ONNX format, or else
the whole frame. OUT is an image file for an image, a folder for a folder,
and a video file (``.mp4``, ``.avi``) for a video or camera; ``--json``
writes every frame's keypoints in COCO's results format. ``tools/demo.py``
is the same command with a PyTorch model.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional, TextIO

from .backends import BACKENDS, backend_for
from .detectors import DetectionFile, OnnxDetector
from .draw import draw_poses
from .estimator import TopdownEstimator
from .pipeline import DEFAULT_NMS, PosePipeline
from .smoothing import DEFAULT_SMOOTHING, PoseSmoother
from .sources import open_source
from .writers import ImageOutput, JsonOutput, Progress, VideoOutput

__all__ = [
    'add_pipeline_arguments', 'add_model_options', 'add_backend_option',
    'build_detector', 'detector_backend', 'run', 'main'
]


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The options shared by this command and ``tools/demo.py``: input,
    outputs, boxes, NMS, tracking and drawing."""
    parser.add_argument(
        'input',
        nargs='?',
        help='image, folder of images, video file, or camera index (0)')
    parser.add_argument(
        '--img', dest='input_opt', help='same as INPUT (for old scripts)')
    parser.add_argument(
        '--out',
        '--out-file',
        dest='out',
        help='drawn output: an image file for an image, a folder for a '
        'folder, a .mp4/.avi file for a video or camera')
    parser.add_argument(
        '--json', help='write the keypoints as COCO keypoint results')
    add_model_options(parser)
    parser.add_argument(
        '--kpt-thr',
        type=float,
        default=0.3,
        help='draw keypoints scored above this (default: %(default)s)')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress display')


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options that decide the poses: boxes, tracking, smoothing, flip
    test, NMS and threads (this command, ``tools/demo.py`` and
    ``mmpose-light-runtime-batch``)."""
    boxes = parser.add_argument_group('person boxes (default: whole frame)')
    boxes.add_argument(
        '--det-file', help='COCO-format detection results (JSON list)')
    boxes.add_argument(
        '--det-model',
        help='person detector ONNX from tools/export_detector.py, or in '
        "MMDeploy's end-to-end format")
    boxes.add_argument(
        '--det-score-thr',
        '--bbox-thr',
        dest='det_score_thr',
        type=float,
        default=0.3,
        help='keep person boxes scored at least this (default: 0.3)')
    boxes.add_argument(
        '--det-interval',
        type=int,
        default=1,
        help='on videos, run the detector every N frames and carry boxes '
        'from the poses in between (default: 1)')
    parser.add_argument(
        '--track',
        action='store_true',
        help='give poses track ids across video frames')
    smooth = parser.add_argument_group(
        'smoothing: one-euro filters per track, for its centre and its '
        'keypoints about it '
        '(docs/smoothing.md)')
    smooth.add_argument(
        '--smooth',
        action='store_true',
        help='smooth the keypoints of each track over time (needs --track)')
    smooth.add_argument(
        '--smooth-min-cutoff',
        type=float,
        default=DEFAULT_SMOOTHING['min_cutoff'],
        help='cutoff frequency at rest, Hz: lower smooths more '
        '(default: %(default)s)')
    smooth.add_argument(
        '--smooth-beta',
        type=float,
        default=DEFAULT_SMOOTHING['beta'],
        help='cutoff increase of a keypoint about the person\'s centre '
        'per person size per second of its speed, Hz: higher lags less '
        '(default: %(default)s)')
    smooth.add_argument(
        '--smooth-centre-beta',
        type=float,
        default=DEFAULT_SMOOTHING['centre_beta'],
        help='cutoff increase of the person\'s centre per person size per '
        'second of its speed, Hz: higher lags less (default: %(default)s)')
    smooth.add_argument(
        '--smooth-d-cutoff',
        type=float,
        default=DEFAULT_SMOOTHING['d_cutoff'],
        help='cutoff frequency of the speed estimate, Hz '
        '(default: %(default)s)')
    parser.add_argument(
        '--flip-test',
        action='store_true',
        help='average with the mirrored crops, as MMPose\'s flip_test')
    parser.add_argument(
        '--nms',
        choices=['gaussian', 'linear', 'none'],
        default=DEFAULT_NMS['kernel'],
        help='Matrix-OKS-NMS kernel, or none (default: %(default)s)')
    parser.add_argument(
        '--nms-sigma',
        type=float,
        default=DEFAULT_NMS['sigma'],
        help='gaussian kernel sigma (default: %(default)s)')
    parser.add_argument(
        '--nms-thr',
        type=float,
        default=DEFAULT_NMS['score_thr'],
        help='drop poses whose decayed score falls below this; scores are '
        'box score x mean confident keypoint score, in [0, 1] '
        '(default: %(default)s)')
    parser.add_argument(
        '--num-threads', type=int, help='inference threads of the backend')


def add_backend_option(parser: argparse.ArgumentParser) -> None:
    """``--backend``: the inference engine of the runtime's commands."""
    parser.add_argument(
        '--backend',
        default=None,
        choices=sorted(BACKENDS),
        help='inference engine (default: ncnn for .ncnn.param files, else '
        'onnxruntime; openvino and ncnn need their extras); the detector '
        'runs on it too where it reads the detector\'s file')


def build_detector(args: argparse.Namespace):
    """The person detector the options ask for (None: whole frame)."""
    if args.det_file and args.det_model:
        raise ValueError('give --det-file or --det-model, not both')
    if args.det_file:
        return DetectionFile(args.det_file, args.det_score_thr)
    if args.det_model:
        return OnnxDetector(
            args.det_model,
            score_thr=args.det_score_thr,
            backend=detector_backend(args.det_model,
                                     getattr(args, 'backend', None)),
            num_threads=args.num_threads)
    return None


def detector_backend(det_model: str, chosen: Optional[str]) -> str:
    """``chosen`` (``--backend``) where it reads the detector's file (ncnn
    reads ncnn models, the others ONNX files), else the engine its file
    needs."""
    by_file = backend_for(det_model)
    if chosen is not None and (chosen == 'ncnn') == (by_file == 'ncnn'):
        return chosen
    return by_file


def _outputs(args: argparse.Namespace, source) -> list:
    outputs = []
    if args.out:
        if source.kind in ('video', 'camera'):
            outputs.append(VideoOutput(args.out, source.fps or 30.))
        else:
            folder = source.kind == 'folder' or osp.isdir(args.out)
            outputs.append(ImageOutput(args.out, folder))
    return outputs


def run(args: argparse.Namespace,
        estimator,
        detector=None,
        stream: Optional[TextIO] = None) -> dict:
    """Run a pose estimator over the input the options name.

    Args:
        args (argparse.Namespace): Options of :func:`add_pipeline_arguments`.
        estimator: A top-down estimator (``TopdownEstimator`` or
            ``mmpose_light.apis.TorchTopdownEstimator``).
        detector (optional): Overrides the options' person detector.
        stream (TextIO, optional): Where to print the summary. Defaults to
            None: ``sys.stdout``.

    Returns:
        dict: ``frames``, ``poses`` (total), ``boxes`` (total) and
        ``empty_frames`` (frames where every pose fell below the NMS
        threshold, though boxes were found).
    """
    spec = args.input if args.input is not None else args.input_opt
    if spec is None:
        raise ValueError('give an INPUT: image, folder, video or camera')
    if args.out is None and args.json is None:
        raise ValueError('give --out and/or --json: nothing would be written')
    smoother = None
    if args.smooth:
        if not args.track:
            raise ValueError('--smooth needs --track: the filter follows '
                             'each track over the frames')
        smoother = PoseSmoother(args.smooth_min_cutoff, args.smooth_beta,
                                args.smooth_d_cutoff, args.smooth_centre_beta)
    source = open_source(spec)
    if detector is None:
        detector = build_detector(args)
    nms = None if args.nms == 'none' else dict(
        kernel=args.nms, sigma=args.nms_sigma, score_thr=args.nms_thr)
    video = source.kind in ('video', 'camera')
    pipeline = PosePipeline(
        estimator,
        detector,
        nms=nms,
        det_interval=args.det_interval if video else 1,
        tracking=args.track and video,
        smoothing=smoother if video else False)
    outputs = _outputs(args, source)
    json_out = JsonOutput(args.json) if args.json else None
    if json_out is not None:
        outputs.append(json_out)
    progress = None
    if not args.no_progress and source.kind != 'image':
        progress = Progress(source.num_frames)
    summary = dict(frames=0, poses=0, boxes=0, empty_frames=0)
    committed = False
    try:
        for frame, result in pipeline.run(source):
            summary['frames'] += 1
            summary['poses'] += len(result)
            boxes = pipeline.last_num_boxes
            summary['boxes'] += boxes
            summary['empty_frames'] += int(boxes > 0 and not len(result))
            if source.kind == 'image':
                _check_single_image(args, frame, boxes, result)
            for output in outputs:
                if output is json_out:
                    json_out.add(result.to_coco(frame.image_id))
                else:
                    output.write(
                        draw_poses(frame.image, result,
                                   pipeline.dataset_meta, args.kpt_thr),
                        frame.name)
            if progress is not None:
                progress.update()
        committed = True
    finally:
        if progress is not None:
            progress.close()
        for output in outputs:
            output.close(commit=committed)
    _report(args, summary, stream or sys.stdout)
    return summary


def _check_single_image(args: argparse.Namespace, frame, boxes: int,
                        result) -> None:
    """On a single image, no person or no pose is an error, not an empty
    picture."""
    if boxes == 0:
        source = (f'{args.det_file!r} has no person box of image id '
                  f'{frame.image_id}' if args.det_file else
                  'the detector found no person')
        raise ValueError(f'{source} scored at least --det-score-thr '
                         f'{args.det_score_thr} in {frame.name!r}')
    if not len(result):
        raise ValueError(
            f'all {boxes} poses in {frame.name!r} scored below the NMS '
            f'threshold --nms-thr {args.nms_thr}; lower it (e.g. --nms-thr '
            '0.05) or use --nms none to see them')


def _report(args: argparse.Namespace, summary: dict, stream) -> None:
    stream.write(f'{summary["frames"]} frame(s), {summary["boxes"]} person '
                 f'box(es), {summary["poses"]} pose(s) after NMS '
                 f'({args.nms})\n')
    if summary['empty_frames']:
        stream.write(
            f'{summary["empty_frames"]} frame(s) had person boxes but every '
            f'pose scored below the NMS threshold --nms-thr {args.nms_thr}; '
            'lower it (e.g. --nms-thr 0.05) or use --nms none to see them\n')
    for path in (args.out, args.json):
        if path:
            stream.write(f'wrote {path}\n')


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``mmpose-light-runtime``; ``mmpose-light-runtime
    batch ...`` is ``mmpose-light-runtime-batch ...`` and
    ``mmpose-light-runtime serve ...`` serves the pose page
    (:mod:`mmpose_light_runtime.serve`), unless a model file is called
    ``batch`` or ``serve``."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ['batch'] and not osp.exists('batch'):
        from .batch import main as batch_main
        return batch_main(args_list[1:])
    if args_list[:1] == ['serve'] and not osp.exists('serve'):
        from .serve import main as serve_main
        return serve_main(args_list[1:])
    parser = argparse.ArgumentParser(
        prog='mmpose-light-runtime',
        description='Top-down pose estimation on images, folders, videos '
        'and cameras with an exported model (numpy, OpenCV, ONNX Runtime).')
    parser.add_argument(
        'model',
        help='ONNX file from tools/export_onnx.py, or its ncnn conversion '
        '(X.ncnn.param, from tools/export_ncnn.py)')
    add_pipeline_arguments(parser)
    add_backend_option(parser)
    args = parser.parse_args(args_list)
    try:
        estimator = TopdownEstimator(
            args.model,
            backend=args.backend,
            num_threads=args.num_threads,
            flip_test=args.flip_test)
        run(args, estimator)
    except (FileNotFoundError, ImportError, ValueError, TypeError) as error:
        parser.exit(2, f'{parser.prog}: error: {error}\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Where a person detector's NMS should run: in numpy in the runtime, or
inside the ONNX graph (ONNX Runtime's ``NonMaxSuppression``).

Usage::

    python tools/benchmarks/detector_nms.py [--threads 1] [--rounds 50]
        [--sizes 10 100 300 1000 3000] [--det-model DET.onnx --image IMG]

NMS alone: ``N`` person candidates, noisy copies of ``N / 10`` boxes (a
detector's redundant boxes around each person) over a 640 px frame, scores
uniform in [0.3, 1] (all above the runtime's threshold), IoU threshold 0.65
(RTMDet's and YOLOX's). Candidates, timed interleaved in this one run
(``mmpose_light_runtime.timing.compare_latency``):

- numpy: the runtime's ``box_nms`` (greedy, one vectorised IoU row per
  kept box);
- in-graph: a graph of ONNX Runtime's ``NonMaxSuppression`` and the
  ``Gather`` of the kept boxes, fed the same arrays, on ``--threads``
  intra-op threads.

Both must keep the same boxes; the script fails otherwise.

With ``--det-model`` (a file of ``tools/export_detector.py``) and
``--image``, the detector's own numbers: its network (ONNX Runtime) and its
whole numpy post-processing on that image, side by side, with the number of
candidates above the file's score threshold.
"""
import argparse
import os.path as osp
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'runtime'))

from mmpose_light_runtime import OnnxDetector, read_image  # noqa: E402
from mmpose_light_runtime.detectors import box_nms  # noqa: E402
from mmpose_light_runtime.timing import (compare_latency,  # noqa: E402
                                         format_cpu_info)

IOU_THR = 0.65


def candidates(num: int, seed: int = 0):
    """``num`` boxes (x1, y1, x2, y2) around ``num / 10`` people."""
    rng = np.random.default_rng(seed)
    people = max(1, num // 10)
    size = rng.uniform(30, 200, (people, 2)) * [0.5, 1.]
    corner = rng.uniform(0, 640 - size.max(), (people, 2))
    person = rng.integers(0, people, num)
    jitter = rng.normal(0, 0.08, (num, 4)) * np.tile(size[person], 2)
    boxes = np.concatenate([corner, corner + size], 1)[person] + jitter
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
    scores = rng.uniform(0.3, 1., num)
    return boxes.astype(np.float32), scores.astype(np.float32)


def nms_session(threads: int):
    """ONNX Runtime's NonMaxSuppression and the Gather of kept boxes."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node('Unsqueeze', ['scores', 'axes0'], ['scores3']),
        helper.make_node('NonMaxSuppression',
                         ['boxes', 'scores3', 'max_out', 'iou'], ['sel']),
        helper.make_node('Gather', ['sel', 'two'], ['index'], axis=1),
        helper.make_node('Gather', ['boxes', 'index'], ['kept'], axis=1),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), 'axes0'),
        numpy_helper.from_array(np.array([100000], np.int64), 'max_out'),
        numpy_helper.from_array(np.array([IOU_THR], np.float32), 'iou'),
        numpy_helper.from_array(np.array(2, np.int64), 'two'),
    ]
    graph = helper.make_graph(nodes, 'nms', [
        helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                      [1, 'n', 4]),
        helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                      [1, 'n'])
    ], [helper.make_tensor_value_info('kept', TensorProto.FLOAT, None)],
                              inits)
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=['CPUExecutionProvider'])


def nms_alone(sizes, threads: int, rounds: int) -> None:
    session = nms_session(threads)
    print(f'\n## NMS alone (IoU thr {IOU_THR}; median ms, {threads} '
          'thread(s) for ONNX Runtime, numpy single-threaded)\n')
    print('| candidates | kept | numpy | in-graph | in-graph / numpy |')
    print('|---:|---:|---:|---:|---:|')
    for num in sizes:
        boxes, scores = candidates(num)
        feed = dict(boxes=boxes[None], scores=scores[None])
        kept = session.run(None, feed)[0][0]
        ours = boxes[box_nms(boxes.astype(np.float64), scores, IOU_THR)]
        if kept.shape != ours.shape or not np.allclose(kept, ours):
            raise RuntimeError(f'N = {num}: numpy kept {len(ours)} boxes, '
                               f'ONNX Runtime {len(kept)}, or others')
        times = compare_latency(
            dict(numpy=lambda: box_nms(boxes.astype(np.float64), scores,
                                       IOU_THR),
                 graph=lambda: session.run(None, feed)),
            rounds=rounds)
        print(f'| {num} | {len(ours)} | {times["numpy"]:.3f} | '
              f'{times["graph"]:.3f} | '
              f'{times["graph"] / times["numpy"]:.2f} |')


def detector_split(det_model: str, image_file: str, threads: int,
                   rounds: int) -> None:
    detector = OnnxDetector(det_model, num_threads=threads)
    if detector.format != 'mmpose_light':
        raise ValueError(f'{det_model!r} is not a file of '
                         'tools/export_detector.py')
    image = read_image(image_file)
    inputs, scale = detector.preprocess(image)
    outputs = dict(zip(detector.backend.output_names,
                       detector.backend.run(inputs)))
    above = int((outputs['scores'] >= detector.score_thr).sum())
    kept = len(detector._exported_dets(outputs, scale)[0])
    times = compare_latency(
        dict(network=lambda: detector.backend.run(inputs),
             post=lambda: detector._exported_dets(outputs, scale)),
        rounds=rounds)
    width, height = detector.input_size
    print(f'\n## {osp.basename(det_model)} ({width}x{height}) on '
          f'{osp.basename(image_file)}: {outputs["scores"].shape[1]} '
          f'priors, {above} above {detector.score_thr}, {kept} kept\n')
    print('| network (ORT) | numpy post-processing | share of post |')
    print('|---:|---:|---:|')
    total = times['network'] + times['post']
    print(f'| {times["network"]:.2f} | {times["post"]:.3f} | '
          f'{100 * times["post"] / total:.1f}% |')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--rounds', type=int, default=50)
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[10, 100, 300, 1000, 3000])
    parser.add_argument('--det-model', help='an exported detector')
    parser.add_argument('--image', help='an image for --det-model')
    args = parser.parse_args()
    if bool(args.det_model) != bool(args.image):
        parser.error('--det-model and --image go together')
    print(format_cpu_info())
    nms_alone(args.sizes, args.threads, args.rounds)
    if args.det_model:
        detector_split(args.det_model, args.image, args.threads, args.rounds)


if __name__ == '__main__':
    main()

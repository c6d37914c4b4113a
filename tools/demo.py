"""Draw the poses a top-down model finds in an image.

    python tools/demo.py CONFIG CHECKPOINT --img IMAGE --out-file OUT.jpg
        [--det-file DETS.json [--image-id ID]
         | --det-config DET_CONFIG --det-checkpoint DET_CHECKPOINT]

Person boxes come from a COCO-format detection file, from an MMDetection
detector, or, when neither is given, the whole image is one box. CHECKPOINT
is a PyTorch checkpoint, or an ONNX file from ``tools/export_onnx.py`` run
with ONNX Runtime. Redundant poses are removed with Matrix-OKS-NMS, and the
image is written with the skeletons drawn.
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmpose_light.deploy import read_image  # noqa: E402
from mmpose_light.utils import load_person_detections  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='model config file')
    parser.add_argument('checkpoint', help='.pth checkpoint or .onnx file')
    parser.add_argument('--img', required=True, help='input image')
    parser.add_argument('--out-file', required=True, help='output image')
    parser.add_argument(
        '--det-file', help='COCO-format detection results (json list)')
    parser.add_argument(
        '--image-id',
        type=int,
        help='image id of --img in --det-file; defaults to the number in the '
        'image file name, as COCO names its images')
    parser.add_argument('--det-config', help='MMDetection config')
    parser.add_argument('--det-checkpoint', help='MMDetection checkpoint')
    parser.add_argument(
        '--bbox-thr', type=float, default=0.3, help='person box threshold')
    parser.add_argument(
        '--nms',
        choices=['gaussian', 'linear', 'none'],
        default='gaussian',
        help='Matrix-OKS-NMS kernel, or none')
    parser.add_argument(
        '--nms-sigma', type=float, default=2.0, help='gaussian kernel sigma')
    parser.add_argument(
        '--nms-thr',
        type=float,
        default=0.2,
        help='poses whose decayed score falls below this are dropped '
        '(scores in [0, 1]: box score x mean confident keypoint score)')
    parser.add_argument(
        '--kpt-thr', type=float, default=0.3, help='keypoint score threshold')
    parser.add_argument('--device', default='cpu')
    return parser.parse_args(argv)


def boxes_from_detector(args: argparse.Namespace,
                        image: np.ndarray) -> np.ndarray:
    """Person boxes (N, 5) from an MMDetection model."""
    from mmdet.apis import inference_detector, init_detector
    detector = init_detector(
        args.det_config, args.det_checkpoint, device=args.device)
    pred = inference_detector(detector, image).pred_instances.cpu().numpy()
    keep = (pred.labels == 0) & (pred.scores >= args.bbox_thr)
    boxes = np.concatenate([pred.bboxes[keep], pred.scores[keep, None]], 1)
    if len(boxes) == 0:
        raise ValueError(
            f'the detector found no person with score >= {args.bbox_thr} '
            f'in {args.img!r}')
    return boxes.astype(np.float32)


def get_boxes(args: argparse.Namespace, image: np.ndarray) -> np.ndarray:
    if args.det_file and args.det_config:
        raise ValueError('give --det-file or --det-config, not both')
    if args.det_file:
        boxes, scores, _ = load_person_detections(args.det_file, args.img,
                                                  args.image_id,
                                                  args.bbox_thr)
        return np.concatenate([boxes, scores[:, None]], 1).astype(np.float32)
    if args.det_config:
        return boxes_from_detector(args, image)
    h, w = image.shape[:2]
    return np.array([[0, 0, w, h, 1]], dtype=np.float32)


def estimate_torch(args, image: np.ndarray, boxes: np.ndarray):
    """Keypoints, keypoint scores and dataset meta, with PyTorch."""
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples
    model = init_model(args.config, args.checkpoint, device=args.device)
    samples = inference_topdown(model, image, boxes[:, :4], bbox_format='xyxy')
    pred = merge_data_samples(samples).pred_instances
    return pred.keypoints, pred.keypoint_scores, model.dataset_meta


def estimate_onnx(args, image: np.ndarray, boxes: np.ndarray):
    """Keypoints, keypoint scores and dataset meta, with ONNX Runtime."""
    from mmpose_light.deploy import OrtTopdownEstimator
    estimator = OrtTopdownEstimator(args.checkpoint)
    result = estimator.predict(image, boxes[:, :4], boxes[:, 4], nms=None)
    return (result['keypoints'], result['keypoint_scores'],
            estimator.dataset_meta)


def suppress(args, boxes: np.ndarray, keypoints: np.ndarray,
             keypoint_scores: np.ndarray, sigmas) -> np.ndarray:
    """Indices of the poses Matrix-OKS-NMS keeps, best first.

    Poses are scored as ``CocoMetric`` does by default (box score times the
    mean confident keypoint score, in [0, 1] for every head, so that one
    threshold suits heatmap and RLE models alike), with the areas of the
    padded boxes the model sees.
    """
    from mmpose.structures.bbox import bbox_xyxy2cs

    from mmpose_light.deploy.ort_inference import rescore_poses
    from mmpose_light.evaluation import matrix_oks_nms
    scores = rescore_poses(keypoint_scores, boxes[:, 4])
    _, scales = bbox_xyxy2cs(boxes[:, :4], padding=1.25)
    keep, _ = matrix_oks_nms(
        keypoints,
        keypoint_scores,
        scores,
        np.prod(scales, axis=1),
        sigmas=sigmas,
        kernel=args.nms,
        sigma=args.nms_sigma,
        score_thr=args.nms_thr)
    return np.asarray(keep)


def main(argv=None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} does not exist')
    image = read_image(args.img)
    boxes = get_boxes(args, image)
    estimate = (
        estimate_onnx if args.checkpoint.endswith('.onnx') else estimate_torch)
    keypoints, keypoint_scores, meta = estimate(args, image, boxes)
    keep = np.arange(len(boxes))
    if args.nms != 'none':
        keep = suppress(args, boxes, keypoints, keypoint_scores,
                        meta.get('sigmas'))
    print(f'{len(boxes)} boxes, {len(keep)} poses after NMS ({args.nms})')
    draw(args, image, boxes[keep, :4], keypoints[keep], keypoint_scores[keep],
         meta)


def draw(args, image, boxes, keypoints, keypoint_scores, meta) -> None:
    """Draw skeletons and write the image atomically."""
    import cv2
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    from mmpose.visualization import PoseLocalVisualizer

    visualizer = PoseLocalVisualizer(radius=3, line_width=2)
    visualizer.set_dataset_meta(meta)
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=keypoints,
        keypoint_scores=keypoint_scores,
        bboxes=boxes)
    drawn = visualizer.add_datasample(
        'pose',
        image[:, :, ::-1].copy(),
        sample,
        draw_gt=False,
        draw_bbox=True,
        kpt_thr=args.kpt_thr,
        show=False)
    out_dir = osp.dirname(osp.abspath(args.out_file))
    os.makedirs(out_dir, exist_ok=True)
    ext = osp.splitext(args.out_file)[1] or '.jpg'
    fd, tmp = tempfile.mkstemp(suffix=ext, dir=out_dir)
    os.close(fd)
    try:
        if not cv2.imwrite(tmp, drawn[:, :, ::-1]):
            raise ValueError(f'cannot write an image as {args.out_file!r}')
        os.replace(tmp, args.out_file)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    print(f'wrote {args.out_file}')


if __name__ == '__main__':
    main()

"""The runtime (mmpose_light_runtime) against MMPose: the same keypoints as
``inference_topdown`` for our models and RTMPose-t, flip test off and on;
decoders and flip merging equal to MMPose's codecs and test-time
augmentation; rescoring as CocoMetric; NMS in the pipeline."""
import numpy as np
import pytest
import torch
from mmpose.codecs import (MSRAHeatmap, RegressionLabel, SimCCLabel,
                           UDPHeatmap)
from mmpose.models.utils.tta import (flip_coordinates, flip_heatmaps,
                                     flip_vectors)

from mmpose_light_runtime import PosePipeline
from mmpose_light_runtime.codecs import (decode_msra_heatmaps,
                                         decode_regression, decode_simcc,
                                         decode_udp_heatmaps,
                                         merge_flipped_outputs,
                                         rescore_poses)


def inference_topdown_keypoints(model, image, boxes):
    from mmpose.apis import inference_topdown
    samples = inference_topdown(model, image, boxes)
    return (np.concatenate([s.pred_instances.keypoints for s in samples]),
            np.concatenate([s.pred_instances.keypoint_scores
                            for s in samples]))


@pytest.mark.parametrize('flip_test', [False, True])
@pytest.mark.parametrize('kind', ['heatmap', 'regression', 'simcc'])
def test_keypoints_match_inference_topdown(models, exports, samples, kind,
                                           flip_test):
    from mmpose_light_runtime import TopdownEstimator
    model = models[kind]
    estimator = TopdownEstimator(
        exports[kind]['path'], num_threads=1, flip_test=flip_test)
    model.test_cfg['flip_test'] = flip_test
    worst, normalised = 0., []
    try:
        for _, image, boxes in samples:
            keypoints, scores = inference_topdown_keypoints(
                model, image, boxes)
            pred = estimator.predict(image, boxes)
            np.testing.assert_array_equal(pred.bboxes, boxes)
            assert pred.keypoints.shape == keypoints.shape
            normalised.append((pred.keypoints - boxes[:, None, :2]) /
                              (boxes[:, None, 2:] - boxes[:, None, :2]))
            worst = max(worst, np.abs(pred.keypoints - keypoints).max())
            np.testing.assert_allclose(pred.keypoint_scores, scores, rtol=0,
                                       atol=1e-3 * np.abs(scores).max())
    finally:
        model.test_cfg['flip_test'] = False
    assert worst < 0.5
    # the poses depend on the crops (not a constant network), so the
    # comparison above is not vacuous
    assert np.ptp(np.concatenate(normalised), axis=0).max() > 0.05


def test_torch_estimator_is_inference_topdown(models, samples, configs,
                                              tmp_path):
    """tools/demo.py's PyTorch path gives MMPose's keypoints."""
    from mmengine.runner import save_checkpoint

    from mmpose_light.apis import TorchTopdownEstimator
    path = str(tmp_path / 'model.pth')
    save_checkpoint({'state_dict': models['heatmap'].state_dict()}, path)
    estimator = TorchTopdownEstimator(configs['heatmap'], path)
    _, image, boxes = samples[0]
    keypoints, _ = inference_topdown_keypoints(models['heatmap'], image,
                                               boxes)
    result = estimator.predict(image, boxes)
    np.testing.assert_allclose(result.keypoints, keypoints, atol=1e-4)
    assert len(estimator.predict(image, np.zeros((0, 4)))) == 0


def random_heatmaps(rng, num, num_kpts, height, width):
    """Gaussian peaks (some at the border) on noise; the last keypoint of
    the first instance has no positive value."""
    ys, xs = np.mgrid[:height, :width]
    heatmaps = rng.uniform(0, 0.05, (num, num_kpts, height, width))
    centers = rng.uniform(-0.5, [width - 0.5, height - 0.5],
                          (num, num_kpts, 2))
    centers[0, :4] = [[0, 0], [width - 1, height - 1], [1, 5], [6, 1]]
    heatmaps += np.exp(-((xs - centers[..., :1, None])**2 +
                         (ys - centers[..., 1:, None])**2) / 8)
    heatmaps[0, -1] = -rng.uniform(0.1, 1, (height, width))
    return heatmaps.astype(np.float32)


@pytest.mark.parametrize('unbiased', [False, True])
def test_msra_decoding_matches_mmpose(unbiased):
    codec = MSRAHeatmap((48, 64), (12, 16), sigma=2, unbiased=unbiased)
    heatmaps = random_heatmaps(np.random.default_rng(0), 3, 17, 16, 12)
    keypoints, scores = decode_msra_heatmaps(
        heatmaps,
        dict(input_size=[48, 64], heatmap_size=[12, 16], unbiased=unbiased,
             blur_kernel_size=11))
    for n in range(3):
        expected, expected_scores = codec.decode(heatmaps[n])
        np.testing.assert_allclose(keypoints[n], expected[0], atol=1e-4)
        np.testing.assert_allclose(scores[n], expected_scores[0])


@pytest.mark.parametrize('heatmap_type', ['gaussian', 'combined'])
def test_udp_decoding_matches_mmpose(heatmap_type):
    codec = UDPHeatmap((48, 64), (12, 16), heatmap_type=heatmap_type,
                       sigma=2, radius_factor=0.0546875)
    rng = np.random.default_rng(1)
    heatmaps = random_heatmaps(rng, 2, 5, 16, 12)
    if heatmap_type == 'combined':
        offsets = rng.uniform(-1, 1, (2, 10, 16, 12)).astype(np.float32)
        heatmaps = np.stack([heatmaps, offsets[:, ::2], offsets[:, 1::2]],
                            axis=2).reshape(2, 15, 16, 12)
    keypoints, scores = decode_udp_heatmaps(
        heatmaps,
        dict(input_size=[48, 64], heatmap_size=[12, 16],
             heatmap_type=heatmap_type, radius_factor=0.0546875,
             blur_kernel_size=11))
    for n in range(2):
        expected, expected_scores = codec.decode(heatmaps[n])
        np.testing.assert_allclose(keypoints[n], expected[0], atol=1e-3)
        np.testing.assert_allclose(scores[n], expected_scores[0])


def test_regression_decoding_matches_mmpose():
    coords = np.random.default_rng(2).uniform(size=(3, 17, 4))
    expected, expected_scores = RegressionLabel((192, 256)).decode(coords)
    keypoints, scores = decode_regression(coords, dict(input_size=[192, 256]))
    np.testing.assert_allclose(keypoints, expected)
    np.testing.assert_allclose(scores, expected_scores)
    keypoints, scores = decode_regression(coords[..., :2],
                                          dict(input_size=[192, 256]))
    np.testing.assert_allclose(keypoints, expected)
    np.testing.assert_array_equal(scores, np.ones((3, 17)))


def test_simcc_decoding_matches_mmpose():
    codec = SimCCLabel((192, 256), sigma=(4.9, 5.66), simcc_split_ratio=2.0)
    rng = np.random.default_rng(3)
    simcc_x = rng.normal(size=(3, 17, 384)).astype(np.float32)
    simcc_y = rng.normal(size=(3, 17, 512)).astype(np.float32)
    simcc_y[0, 0] = -1  # no positive maximum: MMPose's -1 location
    keypoints, scores = decode_simcc(
        simcc_x, simcc_y, dict(simcc_split_ratio=2.0, use_dark=False))
    expected, expected_scores = codec.decode(simcc_x, simcc_y)
    np.testing.assert_allclose(keypoints, expected)
    np.testing.assert_allclose(scores, expected_scores)


FLIP_INDICES = [0, 2, 1, 4, 3]


@pytest.mark.parametrize('flip_mode, channels', [('heatmap', 5),
                                                 ('udp_combined', 15),
                                                 ('offset', 10)])
@pytest.mark.parametrize('shift_heatmap', [False, True])
def test_heatmap_flip_merge_matches_mmpose(flip_mode, channels,
                                           shift_heatmap):
    rng = np.random.default_rng(4)
    outputs, flipped = rng.normal(size=(2, 2, channels, 8, 6)).astype(
        np.float32)
    meta = dict(
        codec=dict(type='UDPHeatmap'),
        test_cfg=dict(flip_mode=flip_mode, shift_heatmap=shift_heatmap),
        dataset_meta=dict(flip_indices=FLIP_INDICES))
    merged = merge_flipped_outputs([outputs], [flipped], meta)[0]
    expected = (torch.from_numpy(outputs) + flip_heatmaps(
        torch.from_numpy(flipped), FLIP_INDICES, flip_mode,
        shift_heatmap)) * 0.5
    np.testing.assert_allclose(merged, expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize('shift_coords', [False, True])
def test_rle_flip_merge_matches_mmpose(shift_coords):
    rng = np.random.default_rng(5)
    outputs, flipped = rng.normal(size=(2, 3, 5, 4)).astype(np.float32)
    meta = dict(
        codec=dict(type='RegressionLabel', input_size=[192, 256]),
        sigmoid_sigma=True,
        test_cfg=dict(shift_coords=shift_coords),
        dataset_meta=dict(flip_indices=FLIP_INDICES))
    merged = merge_flipped_outputs([outputs], [flipped], meta)[0]
    # RLEHead.predict: sigmoid on the sigmas of both, then the mean
    plain = torch.from_numpy(outputs.copy())
    plain[..., 2:] = plain[..., 2:].sigmoid()
    mirrored = flip_coordinates(
        torch.from_numpy(flipped.copy()), FLIP_INDICES, shift_coords,
        (192, 256))
    mirrored[..., 2:] = mirrored[..., 2:].sigmoid()
    np.testing.assert_allclose(merged, ((plain + mirrored) * 0.5).numpy(),
                               rtol=1e-5, atol=1e-7)


def test_simcc_flip_merge_matches_mmpose():
    rng = np.random.default_rng(6)
    x, x_flip = rng.normal(size=(2, 2, 5, 12)).astype(np.float32)
    y, y_flip = rng.normal(size=(2, 2, 5, 16)).astype(np.float32)
    meta = dict(codec=dict(type='SimCCLabel'),
                dataset_meta=dict(flip_indices=FLIP_INDICES))
    merged_x, merged_y = merge_flipped_outputs([x, y], [x_flip, y_flip],
                                               meta)
    back_x, back_y = flip_vectors(torch.from_numpy(x_flip),
                                  torch.from_numpy(y_flip), FLIP_INDICES)
    np.testing.assert_allclose(merged_x, (x + back_x.numpy()) / 2)
    np.testing.assert_allclose(merged_y, (y + back_y.numpy()) / 2)


def test_rescoring_follows_coco_metric():
    kpt_scores = np.array([[0.9, 0.1, 0.5], [0.1, 0.1, 0.1]])
    bbox_scores = np.array([0.8, 1.0])
    np.testing.assert_allclose(rescore_poses(kpt_scores, bbox_scores),
                               [0.8 * 0.7, 0.])
    np.testing.assert_allclose(
        rescore_poses(kpt_scores, bbox_scores, 'bbox_rle'),
        [0.8 + 0.5 + 0.9, 1.0 + 0.1 + 0.1])
    with pytest.raises(ValueError, match='bogus'):
        rescore_poses(kpt_scores, bbox_scores, 'bogus')


def test_pipeline_nms_decays_duplicates(estimators, samples):
    estimator = estimators['regression']
    _, image, boxes = samples[0]
    far = boxes[0] + np.array([3000, 0, 3000, 0], dtype=np.float32)
    # float64, as detectors give them to the pipeline
    boxes = np.stack([boxes[0], boxes[0], far]).astype(np.float64)
    bbox_scores = np.array([0.9, 0.8, 0.7], dtype=np.float32)
    plain = estimator.predict(image, boxes, bbox_scores)
    np.testing.assert_array_equal(plain.keypoints[0], plain.keypoints[1])
    s0, s1, s2 = plain.scores
    assert s0 > s1 > s2

    def detector(image):
        return np.concatenate([boxes, bbox_scores[:, None]], 1)

    nms = dict(kernel='gaussian', sigma=2.0, score_thr=0.)
    result = PosePipeline(estimator, detector, nms=nms)(image)
    # the duplicate (OKS 1 with the best pose) decays by exp(-sigma * 1)
    # and falls below the far pose, which nothing overlaps
    # float32 scores: rounding of the rescoring
    np.testing.assert_allclose(result.scores, [s0, s2, s1 * np.exp(-2.)],
                               rtol=1e-5)
    np.testing.assert_array_equal(result.bboxes, boxes[[0, 2, 1]])
    np.testing.assert_array_equal(result.keypoints,
                                  plain.keypoints[[0, 2, 1]])

    nms['score_thr'] = (s1 * np.exp(-2.) + min(s2, s1)) / 2
    result = PosePipeline(estimator, detector, nms=nms)(image)
    np.testing.assert_array_equal(result.bboxes, boxes[[0, 2]])

"""MatrixNMSKeypointPartitionMetric on MMPose's KeypointPartitionMetric
test annotations (data/sample/coco/test_keypoint_partition_metric.json, the
133 COCO-WholeBody keypoints in ``keypoints``) with redundant poses."""
import copy
import os.path as osp

import numpy as np
import pytest
from metric_samples import SAMPLE, redundant_samples
from mmengine.fileio import dump, load
from mmengine.logging import MessageHub
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.datasets.datasets.wholebody import CocoWholeBodyDataset
from mmpose.evaluation.metrics import KeypointPartitionMetric
from mmpose.registry import METRICS

import mmpose_light  # noqa: F401
from mmpose_light.evaluation import MatrixNMSKeypointPartitionMetric

ANN_FILE = osp.join(SAMPLE, 'test_keypoint_partition_metric.json')
PARTITIONS = dict(body=range(17),
                  foot=range(17, 23),
                  face=range(23, 91),
                  left_hand=range(91, 112),
                  right_hand=range(112, 133),
                  all=range(133))
MATRIX = dict(type='MatrixNMSCocoMetric', nms_kernel='gaussian',
              nms_sigma=2.0)
HUB_KEY = 'coco_wholebody_ann_file'


@pytest.fixture(autouse=True)
def no_dataset_ann_file():
    """CocoMetric reads the dataset's annotation file from the MessageHub,
    where any test that built a dataset left it: start without it."""
    hub = MessageHub.get_current_instance()
    saved = hub.pop_info(HUB_KEY)
    yield hub
    hub.pop_info(HUB_KEY)
    if saved is not None:
        hub.update_info(HUB_KEY, saved)


def meta():
    dataset_meta = parse_pose_metainfo(CocoWholeBodyDataset.METAINFO)
    # for the ground truth converted from the data samples
    dataset_meta['CLASSES'] = load(ANN_FILE)['categories']
    return dataset_meta


def evaluate(metric_cfg, samples, partitions=PARTITIONS,
             cls=MatrixNMSKeypointPartitionMetric):
    metric = cls(metric=copy.deepcopy(metric_cfg), partitions=partitions)
    metric.dataset_meta = meta()
    metric.process([], copy.deepcopy(samples))
    return metric.evaluate(len(samples))


def sliced_by_hand(samples, name, keypoint_ids, tmp_path, metric_cfg):
    """A partition evaluated alone: MatrixNMSCocoMetric on the samples'
    and the annotation file's keypoints of the partition."""
    dataset = load(ANN_FILE)
    for ann in dataset['annotations']:
        kpts = np.array(ann['keypoints']).reshape(-1, 3)[list(keypoint_ids)]
        ann['keypoints'] = kpts.ravel().tolist()
        ann['num_keypoints'] = int((kpts[:, 2] > 0).sum())
    ann_file = str(tmp_path / f'{name}.json')
    dump(dataset, ann_file)
    part_meta = meta()
    part_meta['sigmas'] = part_meta['sigmas'][list(keypoint_ids)]
    part_meta['num_keypoints'] = len(keypoint_ids)
    metric = METRICS.build(dict(metric_cfg, ann_file=ann_file))
    metric.dataset_meta = part_meta
    sliced = copy.deepcopy(samples)
    for sample in sliced:
        pred = sample['pred_instances']
        pred['keypoints'] = pred['keypoints'][:, list(keypoint_ids)]
        pred['keypoint_scores'] = pred['keypoint_scores'][:,
                                                          list(keypoint_ids)]
    metric.process([], sliced)
    return metric.evaluate(len(sliced))


@pytest.mark.parametrize('source', ['raw_ann_info', 'ann_file', 'dataset'])
def test_each_partition_equals_its_metric_alone(source, tmp_path,
                                                no_dataset_ann_file):
    samples = redundant_samples(ANN_FILE,
                                raw_ann_info=source == 'raw_ann_info')
    metric_cfg = dict(MATRIX)
    if source == 'ann_file':
        metric_cfg['ann_file'] = ANN_FILE
    elif source == 'dataset':
        # as a test-mode dataset leaves it for CocoMetric
        no_dataset_ann_file.update_info(HUB_KEY, ANN_FILE)
    with pytest.warns(UserWarning, match='part by part'):
        results = evaluate(metric_cfg, samples)
    assert len(results) == 10 * len(PARTITIONS)
    for name, keypoint_ids in PARTITIONS.items():
        alone = sliced_by_hand(samples, name, keypoint_ids, tmp_path, MATRIX)
        for key, value in alone.items():
            assert results[f'{name}/{key}'] == pytest.approx(value,
                                                             abs=1e-12), key


def test_matrix_nms_acts_in_each_partition():
    samples = redundant_samples(ANN_FILE, seed=1, raw_ann_info=True)
    matrix = evaluate(MATRIX, samples)
    none = evaluate(dict(MATRIX, nms_mode='none'), samples)
    assert matrix['all/coco/AP'] > none['all/coco/AP'] + 0.05
    assert matrix['body/coco/AP'] > none['body/coco/AP']


def test_stock_modes_as_mmpose():
    """Without Matrix-OKS-NMS, wrapping MatrixNMSCocoMetric or CocoMetric
    gives what MMPose's KeypointPartitionMetric gives."""
    samples = redundant_samples(ANN_FILE, copies=1, raw_ann_info=True)
    stock_cfg = dict(type='CocoMetric', score_mode='bbox', nms_mode='none')
    with pytest.warns(UserWarning):
        expected = evaluate(stock_cfg, samples, cls=KeypointPartitionMetric)
    for cfg in (stock_cfg, dict(MATRIX, score_mode='bbox', nms_mode='none')):
        assert evaluate(cfg, samples) == expected
    # and with oks_nms, as stock
    stock_cfg = dict(type='CocoMetric', nms_mode='oks_nms')
    with pytest.warns(UserWarning):
        expected = evaluate(stock_cfg, samples, cls=KeypointPartitionMetric)
    assert evaluate(dict(MATRIX, nms_mode='oks_nms'), samples) == expected


def test_stock_metric_with_the_dataset_annotation_file_breaks():
    """Why the subclass slices the annotation file: MMPose's wrapper lets
    each partition load the whole file a test-mode dataset registered."""
    samples = redundant_samples(ANN_FILE, copies=1, raw_ann_info=True)
    hub = MessageHub.get_current_instance()
    hub.update_info(HUB_KEY, ANN_FILE)
    with pytest.warns(UserWarning), pytest.raises(ValueError,
                                                  match='broadcast'):
        evaluate(dict(type='CocoMetric', score_mode='bbox',
                      nms_mode='none'), samples,
                 cls=KeypointPartitionMetric)
    results = evaluate(dict(type='CocoMetric', score_mode='bbox',
                            nms_mode='none'), samples)
    assert results['body/coco/AP'] > 0.5


def test_other_metrics_and_bad_input(tmp_path):
    # the stock types pass through to MMPose's wrapper
    metric = MatrixNMSKeypointPartitionMetric(
        metric=dict(type='PCKAccuracy', thr=0.5), partitions=dict(a=[0, 1]))
    assert type(metric.metrics['a']).__name__ == 'PCKAccuracy'
    with pytest.raises(ValueError, match='Metrics supported'):
        MatrixNMSKeypointPartitionMetric(
            metric=dict(type='MatrixNMSCocoWholeBodyMetric'),
            partitions=PARTITIONS)
    with pytest.raises(ValueError, match="'NoSuchMetric' is not registered"):
        MatrixNMSKeypointPartitionMetric(metric=dict(type='NoSuchMetric'),
                                         partitions=PARTITIONS)
    with pytest.raises(TypeError, match='`metric`'):
        MatrixNMSKeypointPartitionMetric(metric='MatrixNMSCocoMetric',
                                         partitions=PARTITIONS)
    # an annotation file whose `keypoints` hold the body only
    wholebody = osp.join(SAMPLE, 'test_coco_wholebody.json')
    with pytest.warns(UserWarning), pytest.raises(
            ValueError, match='has 17 keypoints'):
        evaluate(dict(MATRIX, ann_file=wholebody), [])
    # a NaN prediction is refused, naming its image
    samples = redundant_samples(ANN_FILE, copies=2, raw_ann_info=True)
    kpts = samples[5]['pred_instances']['keypoints'].copy()
    kpts[0, 3] = np.nan
    samples[5]['pred_instances']['keypoints'] = kpts
    with pytest.warns(UserWarning), pytest.raises(
            ValueError, match=f"image {samples[5]['img_id']}: "
            '`keypoints` should be finite'):
        evaluate(MATRIX, samples, partitions=dict(body=range(17)))

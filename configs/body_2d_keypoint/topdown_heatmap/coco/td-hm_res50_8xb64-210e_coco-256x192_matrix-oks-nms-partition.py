# SimpleBaseline ResNet-50, evaluated part by part (head, arms, legs and all
# 17 keypoints: COCO AP with each part's keypoints and sigmas) with
# Matrix-OKS-NMS in each part. Only the evaluator changes: MMPose's
# KeypointPartitionMetric accepts a fixed list of metric types, so
# MatrixNMSKeypointPartitionMetric, its subclass, wraps MatrixNMSCocoMetric;
# each part is evaluated against the dataset's annotation file restricted
# to its keypoints.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-256x192.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

val_evaluator = dict(
    _delete_=True,
    type='MatrixNMSKeypointPartitionMetric',
    metric=dict(
        type='MatrixNMSCocoMetric',
        nms_mode='matrix_oks_nms',
        nms_kernel='gaussian',
        nms_sigma=2.0),
    partitions=dict(
        head=[0, 1, 2, 3, 4],
        arms=[5, 6, 7, 8, 9, 10],
        legs=[11, 12, 13, 14, 15, 16],
        all=list(range(17))))
test_evaluator = val_evaluator

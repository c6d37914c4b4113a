# SimpleBaseline ResNet-50 on COCO-WholeBody (133 keypoints), evaluated with
# Matrix-OKS-NMS (one-shot pose NMS, OKS over all 133 keypoints) in place of
# CocoWholeBodyMetric's greedy oks_nms. Only the evaluator changes: the
# metric is CocoWholeBodyMetric combined with MatrixNMSCocoMetric and takes
# all its arguments, so the base's ann_file and options merge in unchanged.
_base_ = [
    'mmpose::wholebody_2d_keypoint/topdown_heatmap/coco-wholebody/'
    'td-hm_res50_8xb64-210e_coco-wholebody-256x192.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

val_evaluator = dict(
    type='MatrixNMSCocoWholeBodyMetric',
    nms_mode='matrix_oks_nms',
    nms_kernel='gaussian',
    nms_sigma=2.0)
test_evaluator = val_evaluator

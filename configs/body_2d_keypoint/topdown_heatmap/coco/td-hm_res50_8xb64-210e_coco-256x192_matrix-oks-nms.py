# SimpleBaseline ResNet-50, evaluated with Matrix-OKS-NMS (one-shot pose NMS)
# in place of CocoMetric's greedy oks_nms. Only the evaluator changes: the
# metric subclasses CocoMetric and takes all its arguments, so the base's
# ann_file and options merge in unchanged.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-256x192.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

val_evaluator = dict(
    type='MatrixNMSCocoMetric',
    nms_mode='matrix_oks_nms',
    nms_kernel='gaussian',
    nms_sigma=2.0)
test_evaluator = val_evaluator

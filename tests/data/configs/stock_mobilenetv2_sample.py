# A stock MMPose model (SimpleBaseline MobileNetV2) on the bundled COCO sample
# with mmpose_light custom-imported: proves that MMPose's own tools run
# configs that load the plugin. One epoch keeps it fast.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py',
    '../../../configs/_base_/datasets/coco_sample.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

train_dataloader = {{_base_.sample_train_dataloader}}
val_dataloader = {{_base_.sample_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.sample_evaluator}}
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='ConstantLR', factor=1.0)]
default_hooks = dict(checkpoint=dict(interval=1, save_best=None))
model = dict(backbone=dict(init_cfg=None))

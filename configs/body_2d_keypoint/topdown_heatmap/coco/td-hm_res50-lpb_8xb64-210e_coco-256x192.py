# SimpleBaseline ResNet-50 with MobilePoseNet's LPB head in place of its three
# 4x4 deconv layers (stride 32 -> 4 through three LPBs, 2048 -> 512 -> 256,
# then 256 -> 512 -> 256 twice): everything but the head is MMPose's config.
# Paper figures are for MobilePoseNet (1.5M params, 0.557 GFLOPs at 256x192,
# COCO val AP 66.2); this config only shows the head on another backbone.
# Measured sizes: mobileposenet_coco.md beside this file.
# The backbone keeps the base's ImageNet init (torchvision://resnet50), which
# needs torchvision and a network; offline, train with
# --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-256x192.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

model = dict(
    head=dict(
        _delete_=True,
        type='LPBHeatmapHead',
        in_channels=2048,
        out_channels=17,
        lpb_out_channels=(256, 256, 256),
        lpb_mid_channels=(512, 512, 512),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=dict(
            type='MSRAHeatmap',
            input_size=(192, 256),
            heatmap_size=(48, 64),
            sigma=2)))

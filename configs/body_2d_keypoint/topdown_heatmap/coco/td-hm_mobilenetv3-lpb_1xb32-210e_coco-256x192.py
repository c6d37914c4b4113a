# MobilePoseNet on COCO at 256x192: MobileNetV3-Large cut after its first 13
# blocks, the 13th at stride 1 (stride 16, 160 channels), and two LPBs
# (160 -> 512 -> 128, 128 -> 512 -> 128) to stride-4 heatmaps.
# Paper: 1.5M params, 0.557 GFLOPs, COCO val2017 AP 66.2 (detected boxes);
# Adam, batch 32, 210 epochs, rotation +-45 deg, scale [0.65, 1.35], flip,
# half-body.
# Measured sizes: mobileposenet_coco.md beside this file.
# The encoder starts from mmpretrain's ImageNet MobileNetV3-Large
# (torchvision's weights, top-1 74.04). Offline, give a downloaded copy with
# --cfg-options model.backbone.init_cfg.checkpoint=PATH, or train from
# random weights with --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

# Adam and the 210-epoch schedule come from the base (lr 5e-4, decay at 170
# and 200; the paper's learning rate is not stated); the batch is 32 on one GPU
auto_scale_lr = dict(base_batch_size=32)

codec = dict(
    type='MSRAHeatmap', input_size=(192, 256), heatmap_size=(48, 64), sigma=2)

model = dict(
    backbone=dict(
        _delete_=True,
        type='TruncatedMobileNetV3',
        arch='large',
        num_layers=13,
        last_stride=1,
        out_indices=(-1, ),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'mobilenet_v3/convert/mobilenet_v3_large-3ea3c186.pth',
            prefix='backbone.')),
    head=dict(
        _delete_=True,
        type='LPBHeatmapHead',
        in_channels=160,
        out_channels=17,
        lpb_out_channels=(128, 128),
        lpb_mid_channels=(512, 512),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(
        type='RandomBBoxTransform',
        scale_factor=(0.65, 1.35),
        rotate_factor=45),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

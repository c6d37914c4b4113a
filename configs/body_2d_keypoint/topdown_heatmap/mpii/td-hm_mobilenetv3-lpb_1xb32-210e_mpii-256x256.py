# MobilePoseNet on MPII at 256x256: the COCO model (MobileNetV3-Large cut
# after 13 blocks, two LPBs) with 16 keypoints and stride-4 heatmaps of 64x64.
# Paper: 1.5M params, and the training recipe used here (Adam, batch 32,
# 210 epochs, rotation +-45 deg, scale [0.65, 1.35], flip, half-body); the
# paper's FLOPs and AP quoted for this port are COCO ones (0.557 GFLOPs and
# AP 66.2 at 256x192), none for MPII.
# Measured sizes: mobileposenet_mpii.md beside this file.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/mpii/'
    'td-hm_mobilenetv2_8xb64-210e_mpii-256x256.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

# Adam and the 210-epoch schedule come from the base; batch 32 on one GPU
auto_scale_lr = dict(base_batch_size=32)

codec = dict(
    type='MSRAHeatmap', input_size=(256, 256), heatmap_size=(64, 64), sigma=2)

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
        out_channels=16,
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
        shift_prob=0,
        scale_factor=(0.65, 1.35),
        rotate_factor=45),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

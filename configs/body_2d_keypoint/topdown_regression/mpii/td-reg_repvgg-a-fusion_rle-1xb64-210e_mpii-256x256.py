# RepNet-A on MPII, 256x256: a RepVGG body with (a, b) = (0.75, 2.5), its
# last three stages fused at stride 16, and an RLE regression head.
# Paper (Table 5, at COCO's 256x192): 7.96M params / 1.49 GFLOPs in training
# form, 7.16M / 1.34 GFLOPs deployed (FLOPs grow by 4/3 at 256x256). AdamW,
# lr 5e-4, batch 64, 210 epochs, lr x0.1 at epochs 170 and 200, rotation
# +-30 deg, scale [0.75, 1.25].
_base_ = [
    'mmpose::body_2d_keypoint/topdown_regression/mpii/'
    'td-reg_res50_rle-8xb64-210e_mpii-256x256.py'
]

custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

# optimizer: the branch norms' scales become the scales of the folded
# kernels, so they are not decayed (as in RepVGG)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=5e-4, weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'branch_3x3.norm': dict(decay_mult=0.),
            'branch_1x1.norm': dict(decay_mult=0.),
            'branch_norm': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(base_batch_size=64)

fusion_channels = 32
model = dict(
    backbone=dict(
        _delete_=True,
        type='RepVGGFusion',
        arch='A0',
        fusion_channels=fusion_channels,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'repvgg/repvgg-A0_8xb32_in1k_20221213-60ae8e23.pth',
            prefix='backbone.')),
    # the base's GlobalAveragePooling neck and RLEHead, on the fused map
    head=dict(in_channels=fusion_channels))

# pipelines: the paper's augmentation
codec = dict(type='RegressionLabel', input_size=(256, 256))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(
        type='RandomBBoxTransform',
        shift_prob=0,
        scale_factor=(0.75, 1.25),
        rotate_factor=30.),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))

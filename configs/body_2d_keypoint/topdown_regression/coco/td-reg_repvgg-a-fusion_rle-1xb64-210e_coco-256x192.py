# RepNet-A on COCO, 256x192: a RepVGG body with (a, b) = (0.75, 2.5), its
# last three stages fused at stride 16, and an RLE regression head.
# Paper (Table 5): 7.96M params / 1.49 GFLOPs in training form, 7.16M /
# 1.34 GFLOPs deployed; COCO val AP 63.4. AdamW, lr 1e-3, batch 64, 210
# epochs, lr x0.1 at epochs 170 and 200, rotation +-30 deg, scale
# [0.75, 1.25]. The deploy form is
# td-reg_repvgg-a-fusion-deploy_rle-1xb64-210e_coco-256x192.py; measured
# sizes: repnet_coco.md beside this file.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_regression/coco/'
    'td-reg_res50_rle-8xb64-210e_coco-256x192.py'
]

custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

# optimizer: the branch norms' scales become the scales of the folded
# kernels, so they are not decayed (as in RepVGG)
optim_wrapper = dict(
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={
            'branch_3x3.norm': dict(decay_mult=0.),
            'branch_1x1.norm': dict(decay_mult=0.),
            'branch_norm': dict(decay_mult=0.),
        }))
auto_scale_lr = dict(base_batch_size=64)

# model: the fusion width sets the head's input; 32 matches the paper's
# sizes (the RLE flow, 0.05M, is counted in both forms)
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
codec = dict(type='RegressionLabel', input_size=(192, 256))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomHalfBody'),
    dict(
        type='RandomBBoxTransform',
        scale_factor=(0.75, 1.25),
        rotate_factor=30.),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))

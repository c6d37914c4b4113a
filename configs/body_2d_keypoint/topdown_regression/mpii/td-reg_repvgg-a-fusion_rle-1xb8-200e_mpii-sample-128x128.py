# RepNet-A (paper, Table 5 at 256x192: 7.96M params / 1.49 GFLOPs in
# training form, 7.16M / 1.34 GFLOPs deployed) on the MPII sample bundled in
# data/sample/mpii (5 images): a short schedule at 128x128 for smoke training
# and testing on a fresh clone, offline: random weights (the ImageNet
# checkpoint needs a network) and the box jitter of real training
# (RandomBBoxTransform), milder. The sample
# has no head boxes, so it is evaluated with PCK (bbox-normalised). The data
# settings repeat configs/_base_/datasets/mpii_sample.py, because MMEngine
# refuses keys defined by two bases.
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb64-210e_mpii-256x256.py']


# runtime
train_cfg = dict(max_epochs=200, val_interval=200)
optim_wrapper = dict(optimizer=dict(lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.01, by_epoch=False),
    dict(
        type='MultiStepLR',
        begin=0,
        end=200,
        milestones=[170],
        gamma=0.1,
        by_epoch=True)
]
default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=200, save_best=None))
randomness = dict(seed=0)

# model: a quarter of the pixels keeps the smoke run short on a CPU; no
# flip test, as the sample is trained without flips
codec = dict(type='RegressionLabel', input_size=(128, 128))
model = dict(
    backbone=dict(init_cfg=None),
    head=dict(decoder=codec),
    test_cfg=dict(flip_test=False))

# pipelines: box jitter as in training on MPII, milder scale, no rotation
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(
        type='RandomBBoxTransform',
        shift_factor=0.1,
        shift_prob=0.5,
        scale_factor=(0.8, 1.2),
        rotate_prob=0.),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs')
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs')
]

# data: the bundled sample
sample_root = '{{fileDirname}}/../../../../data/sample/mpii/'
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_mpii.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_mpii.json',
        headbox_file=None,
        data_prefix=dict(img=''),
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='PCKAccuracy')
test_evaluator = val_evaluator

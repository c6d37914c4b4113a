# MobilePoseNet (paper: 1.5M params) on the MPII sample bundled in
# data/sample/mpii (5 images, one person each, no head boxes, so PCK
# instead of PCKh): a smoke run of the
# stock tools/train.py and tools/test.py on a fresh clone, offline, in about
# a CPU minute. It trains from random weights (the ImageNet checkpoint needs
# a network) at 128x128 (a quarter of the pixels) with the box jitter of
# real training (RandomBBoxTransform), milder, and no flips; it says nothing
# about accuracy on MPII.
_base_ = ['./td-hm_mobilenetv3-lpb_1xb32-210e_mpii-256x256.py']

sample_root = '{{fileDirname}}/../../../../data/sample/mpii/'

# runtime: one iteration per epoch
train_cfg = dict(max_epochs=200, val_interval=200)
randomness = dict(seed=0)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
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
auto_scale_lr = dict(base_batch_size=5)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=200, max_keep_ckpts=1, save_best=None))

# model: random weights; no flip test, as the sample is trained without flips
codec = dict(
    type='MSRAHeatmap', input_size=(128, 128), heatmap_size=(32, 32), sigma=2)
model = dict(
    backbone=dict(init_cfg=None),
    head=dict(decoder=codec),
    test_cfg=dict(flip_test=False))

# pipelines: box jitter as in real training, milder scale, no rotation
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

# data: all 5 training people in one batch
train_dataloader = dict(
    batch_size=5,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_mpii.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=5,
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

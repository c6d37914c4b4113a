# MobilePoseNet 256x256 (paper: 1.5M params; measured here: 1.538M params,
# 0.718 GFLOPs) on the MPII sample bundled in data/sample/mpii (5 images, one
# person each, no head boxes, so PCK instead of PCKh): a smoke run of the
# stock tools/train.py and tools/test.py on a fresh clone, offline: random
# weights (the ImageNet checkpoint needs a network), a short schedule and the
# box jitter of real training (RandomBBoxTransform), milder, so that the
# model fits its 5 training people; it says nothing about accuracy on MPII.
_base_ = ['./td-hm_mobilenetv3-lpb_1xb32-210e_mpii-256x256.py']

sample_root = '{{fileDirname}}/../../../../data/sample/mpii/'

train_cfg = dict(max_epochs=80, val_interval=80)
randomness = dict(seed=0)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.01, by_epoch=False)
]
auto_scale_lr = dict(base_batch_size=5)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=80, max_keep_ckpts=1, save_best=None))

model = dict(backbone=dict(init_cfg=None))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(
        type='RandomBBoxTransform',
        shift_factor=0.1,
        shift_prob=0.5,
        scale_factor=(0.8, 1.2),
        rotate_prob=0.),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs')
]
# one batch holds all 5 training people
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
        data_prefix=dict(img='')))
test_dataloader = val_dataloader

val_evaluator = dict(_delete_=True, type='PCKAccuracy')
test_evaluator = val_evaluator

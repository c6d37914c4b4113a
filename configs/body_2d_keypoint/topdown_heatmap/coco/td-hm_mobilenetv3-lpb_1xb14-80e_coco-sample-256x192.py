# MobilePoseNet 256x192 (paper: 1.5M params, 0.557 GFLOPs, COCO val AP 66.2;
# measured here: 1.539M params, 0.539 GFLOPs) on the COCO sample bundled in
# data/sample/coco (4 images, 14 people, ground-truth boxes): a smoke run of
# the stock tools/train.py and tools/test.py on a fresh clone. The schedule is
# short and without augmentation, so that the model from random weights fits
# its 14 training people; it says nothing about accuracy on COCO.
_base_ = ['./td-hm_mobilenetv3-lpb_1xb32-210e_coco-256x192.py']

sample_root = '{{fileDirname}}/../../../../data/sample/coco/'

train_cfg = dict(max_epochs=80, val_interval=80)
randomness = dict(seed=0)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=10, start_factor=0.01, by_epoch=False)
]
auto_scale_lr = dict(base_batch_size=14)
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=80, max_keep_ckpts=1))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs')
]
# one batch holds all 14 training people
train_dataloader = dict(
    batch_size=14,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=14,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        bbox_file=None,
        data_prefix=dict(img='')))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=sample_root + 'test_coco.json')
test_evaluator = val_evaluator

# RepNet-A (paper, Table 5: 7.96M params / 1.49 GFLOPs in training form,
# 7.16M / 1.34 GFLOPs deployed, COCO val AP 63.4) on the COCO sample bundled
# in data/sample/coco (4 images, 14 people): a short schedule at 128x96 for
# smoke training and testing on a fresh clone, offline. It trains from random
# weights (no network here) with the box jitter of real training
# (RandomBBoxTransform), so that the model works on detector boxes, and is
# tested as COCO is: on the person detections of test_coco_det_AP_H_56.json,
# with CocoMetric's OKS-NMS. Ground-truth boxes:
#   --cfg-options test_dataloader.dataset.bbox_file=None
# The sample is its own test set: this says nothing about accuracy on COCO.
# The data settings repeat configs/_base_/datasets/coco_sample.py, because
# MMEngine refuses keys defined by two bases.
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb64-210e_coco-256x192.py']


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
# flip test, as the sample is trained without flips; random weights (the
# ImageNet checkpoint needs a network)
codec = dict(type='RegressionLabel', input_size=(96, 128))
model = dict(
    backbone=dict(init_cfg=None),
    head=dict(decoder=codec),
    test_cfg=dict(flip_test=False))

# pipelines: box jitter as in training on COCO, milder scale, no rotation
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

# data: the bundled sample, tested on its person detections
sample_root = '{{fileDirname}}/../../../../data/sample/coco/'
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        data_prefix=dict(img=''),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        bbox_file=sample_root + 'test_coco_det_AP_H_56.json',
        data_prefix=dict(img=''),
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=sample_root + 'test_coco.json')
test_evaluator = val_evaluator

# The COCO sample bundled in data/sample/coco (4 val2017 images, 14 annotated
# people): a data snippet to add after a COCO config's bases, for smoke
# training and testing on a fresh clone. Ground-truth boxes are used for
# testing; coco_sample_det.py tests on the bundled redundant detections.
sample_root = '{{fileDirname}}/../../../data/sample/coco/'

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        data_prefix=dict(img='')))
val_dataloader = dict(
    batch_size=8,
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

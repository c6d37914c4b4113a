# The COCO sample bundled in data/sample/coco (4 val2017 images, 14 annotated
# people), for smoke training and testing on a fresh clone.
#
# MMEngine forbids the same key in two sibling bases, so this snippet defines
# its own names and a sample variant of a COCO config applies them:
#
#   _base_ = ['./<full config>.py', '<path>/_base_/datasets/coco_sample.py']
#   train_dataloader = {{_base_.sample_train_dataloader}}
#   val_dataloader = {{_base_.sample_val_dataloader}}
#   test_dataloader = val_dataloader
#   val_evaluator = {{_base_.sample_evaluator}}
#   test_evaluator = val_evaluator
#
# The dicts merge into the full config's, so pipelines, codecs and metric
# options are kept. sample_val_dataloader tests on ground-truth boxes;
# sample_det_val_dataloader on the bundled person detections (118 boxes,
# several per person), which exercise pose NMS.
sample_root = '{{fileDirname}}/../../../data/sample/coco/'

sample_train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        data_prefix=dict(img='')))
sample_val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        bbox_file=None,
        data_prefix=dict(img='')))
sample_det_val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco.json',
        bbox_file=sample_root + 'test_coco_det_AP_H_56.json',
        data_prefix=dict(img='')))
sample_evaluator = dict(ann_file=sample_root + 'test_coco.json')

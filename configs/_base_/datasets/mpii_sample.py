# The MPII sample bundled in data/sample/mpii (5 images), for smoke training
# and testing on a fresh clone. Used like coco_sample.py:
#
#   _base_ = ['./<full config>.py', '<path>/_base_/datasets/mpii_sample.py']
#   train_dataloader = {{_base_.sample_train_dataloader}}
#   val_dataloader = {{_base_.sample_val_dataloader}}
#   test_dataloader = val_dataloader
#   val_evaluator = {{_base_.sample_evaluator}}
#   test_evaluator = val_evaluator
#
# The sample has no head boxes, so it is evaluated with PCK normalised by the
# box size instead of PCKh (the evaluator replaces the full config's).
sample_root = '{{fileDirname}}/../../../data/sample/mpii/'

sample_train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_mpii.json',
        data_prefix=dict(img='')))
sample_val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_mpii.json',
        headbox_file=None,
        data_prefix=dict(img='')))
sample_evaluator = dict(_delete_=True, type='PCKAccuracy')

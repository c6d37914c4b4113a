# The MPII sample bundled in data/sample/mpii (5 images): a data snippet to
# add after an MPII config's bases. The sample has no head boxes, so it is
# evaluated with PCK (bbox-normalised) instead of PCKh.
sample_root = '{{fileDirname}}/../../../data/sample/mpii/'

train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_mpii.json',
        data_prefix=dict(img='')))
val_dataloader = dict(
    batch_size=8,
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

# SimpleBaseline ResNet-50 on COCO-WholeBody with Matrix-OKS-NMS, on the
# sample bundled in data/sample/coco: the 14 people of its 4 images in
# COCO-WholeBody format (MMPose's test annotations), tested on the 118
# person detections of the same images (several per person), so that pose
# NMS has redundant poses to act on: a smoke run of the stock tools/test.py.
_base_ = ['./td-hm_res50_8xb64-210e_coco-wholebody-256x192_matrix-oks-nms.py']

sample_root = '{{fileDirname}}/../../../../data/sample/coco/'
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco_wholebody.json',
        data_prefix=dict(img='')))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=sample_root,
        ann_file='test_coco_wholebody.json',
        bbox_file=sample_root + 'test_coco_det_AP_H_56.json',
        data_prefix=dict(img='')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=sample_root + 'test_coco_wholebody.json')
test_evaluator = val_evaluator

# no download of the ImageNet-pretrained backbone
model = dict(backbone=dict(init_cfg=None))

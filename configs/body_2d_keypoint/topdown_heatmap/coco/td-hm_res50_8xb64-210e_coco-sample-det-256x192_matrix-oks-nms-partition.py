# SimpleBaseline ResNet-50, evaluated part by part with Matrix-OKS-NMS, on
# the COCO sample bundled in data/sample/coco, tested on its 118 person
# detections (several per person), so that pose NMS has redundant poses to
# act on: a smoke run of the stock tools/test.py on a fresh clone. The
# partition metric takes the ground truth from the test dataset's
# annotation file, as CocoMetric does without an ann_file.
_base_ = [
    './td-hm_res50_8xb64-210e_coco-256x192_matrix-oks-nms-partition.py',
    '../../../_base_/datasets/coco_sample.py'
]

train_dataloader = {{_base_.sample_train_dataloader}}
val_dataloader = {{_base_.sample_det_val_dataloader}}
test_dataloader = val_dataloader

# no download of the ImageNet-pretrained backbone
model = dict(backbone=dict(init_cfg=None))

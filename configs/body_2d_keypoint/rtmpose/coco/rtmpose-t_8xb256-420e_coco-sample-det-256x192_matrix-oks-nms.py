# RTMPose-t with Matrix-OKS-NMS on the COCO sample bundled in
# data/sample/coco, tested on its 118 person detections (several per person),
# so that pose NMS has redundant poses to act on: a smoke run of the stock
# tools/test.py on a fresh clone.
_base_ = [
    './rtmpose-t_8xb256-420e_coco-256x192_matrix-oks-nms.py',
    '../../../_base_/datasets/coco_sample.py'
]

train_dataloader = {{_base_.sample_train_dataloader}}
val_dataloader = {{_base_.sample_det_val_dataloader}}
test_dataloader = val_dataloader
val_evaluator = {{_base_.sample_evaluator}}
test_evaluator = val_evaluator

# no download of the ImageNet-pretrained backbone
model = dict(backbone=dict(init_cfg=None))

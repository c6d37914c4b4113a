# RepNet-A deployed (paper, Table 5: 7.16M params / 1.34 GFLOPs, COCO val AP
# 63.4) on the bundled COCO sample; load a checkpoint of the training-form
# sample config converted by tools/reparameterize.py.
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb8-200e_coco-sample-128x96.py']
model = dict(backbone=dict(deploy=True))

# RepNet-B on COCO, 256x192, deployed (single 3x3 conv per block). Paper
# (Table 5): 11.64M params / 2.32 GFLOPs, COCO val AP 66.1. Load a checkpoint
# converted by tools/reparameterize.py.
_base_ = ['./td-reg_repvgg-b-fusion_rle-1xb64-210e_coco-256x192.py']
model = dict(backbone=dict(deploy=True))

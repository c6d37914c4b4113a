# RepNet-A on COCO, 256x192, deployed (single 3x3 conv per block). Paper
# (Table 5): 7.16M params / 1.34 GFLOPs, COCO val AP 63.4. Load a checkpoint
# converted by tools/reparameterize.py.
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb64-210e_coco-256x192.py']
model = dict(backbone=dict(deploy=True))

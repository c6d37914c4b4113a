# RepNet-B on COCO, 256x192: a RepVGG body with (a, b) = (1, 2.5), its last
# three stages fused at stride 16, and an RLE regression head.
# Paper (Table 5): 12.95M params / 2.59 GFLOPs in training form, 11.64M /
# 2.32 GFLOPs deployed; COCO val AP 66.1. Training as for RepNet-A.
# Measured sizes: repnet_coco.md beside this file.
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb64-210e_coco-256x192.py']
# the body of RepVGG-A1, starting from its ImageNet weights
model = dict(
    backbone=dict(
        arch='A1',
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'repvgg/repvgg-A1_8xb32_in1k_20221213-f81bf3df.pth')))

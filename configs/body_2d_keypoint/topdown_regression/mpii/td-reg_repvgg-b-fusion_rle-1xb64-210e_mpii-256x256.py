# RepNet-B on MPII, 256x256: a RepVGG body with (a, b) = (1, 2.5), its last
# three stages fused at stride 16, and an RLE regression head.
# Paper (Table 5, at 256x192): 12.95M params / 2.59 GFLOPs in training form,
# 11.64M / 2.32 GFLOPs deployed. Training as for RepNet-A (lr 5e-4).
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb64-210e_mpii-256x256.py']
# the body of RepVGG-A1, starting from its ImageNet weights
model = dict(
    backbone=dict(
        arch='A1',
        init_cfg=dict(
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'repvgg/repvgg-A1_8xb32_in1k_20221213-f81bf3df.pth')))

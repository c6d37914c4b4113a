# RepNet-B on MPII, 256x256: a RepVGG body with (a, b) = (1, 2.5), its last
# three stages fused at stride 16, and an RLE regression head.
# Paper (Table 5, at 256x192): 12.95M params / 2.59 GFLOPs in training form,
# 11.64M / 2.32 GFLOPs deployed. Training as for RepNet-A (lr 5e-4).
_base_ = ['./td-reg_repvgg-a-fusion_rle-1xb64-210e_mpii-256x256.py']
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)
model = dict(backbone=dict(arch='B'))

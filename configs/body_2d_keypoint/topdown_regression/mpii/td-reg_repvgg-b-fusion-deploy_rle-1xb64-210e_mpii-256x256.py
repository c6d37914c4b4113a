# RepNet-B on MPII, 256x256, deployed (single 3x3 conv per block). Paper
# (Table 5, at 256x192): 11.64M params / 2.32 GFLOPs. Load a checkpoint
# converted by tools/reparameterize.py.
_base_ = ['./td-reg_repvgg-b-fusion_rle-1xb64-210e_mpii-256x256.py']
model = dict(backbone=dict(deploy=True))

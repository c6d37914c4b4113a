# MobilePoseNet on COCO at 384x288, deployed: each LPB upsamples with four
# depthwise convolutions, one per output pixel phase, instead of a depthwise
# transposed convolution, BatchNorm folded; same heatmaps. Load a checkpoint
# of the training config converted by tools/reparameterize.py.
_base_ = ['./td-hm_mobilenetv3-lpb_1xb32-210e_coco-384x288.py']
model = dict(head=dict(lpb_cfg=dict(deploy=True)))

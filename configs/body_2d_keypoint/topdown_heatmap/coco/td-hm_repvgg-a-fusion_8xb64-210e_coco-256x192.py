# Mixing example: RepNet's backbone (RepVGG-A body, last three stages fused at
# stride 16) under MMPose's stock SimpleBaseline deconv heatmap head. Only the
# backbone changes, and the head loses one deconv layer because the fused map
# is at stride 16 rather than ResNet's 32. Not a paper model: no published
# accuracy. Re-parameterize with tools/reparameterize.py as for RepNet. The
# body starts from mmpretrain's ImageNet RepVGG-A0, as the base's ResNet-50
# starts from ImageNet; offline, add
# --cfg-options model.backbone.init_cfg=None.
_base_ = [
    'mmpose::body_2d_keypoint/topdown_heatmap/coco/'
    'td-hm_res50_8xb64-210e_coco-256x192.py'
]
custom_imports = dict(imports=['mmpose_light'], allow_failed_imports=False)

fusion_channels = 128
model = dict(
    backbone=dict(
        _delete_=True,
        type='RepVGGFusion',
        arch='A0',
        fusion_channels=fusion_channels,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmclassification/v0/'
            'repvgg/repvgg-A0_8xb32_in1k_20221213-60ae8e23.pth',
            prefix='backbone.')),
    head=dict(
        in_channels=fusion_channels,
        deconv_out_channels=(128, 128),
        deconv_kernel_sizes=(4, 4)))

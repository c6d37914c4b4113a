"""An RLE regression head that pools the feature map itself.

`Human Pose Regression with Residual Log-likelihood Estimation
<https://arxiv.org/abs/2107.11291>`_: the head regresses each keypoint's
mean and scale; the training loss is the likelihood under a Laplace base
distribution corrected by a RealNVP flow, which inference does not use.
MMPose's :class:`RLEHead` expects a vector per instance from a pooling neck;
this head takes the backbone's map directly, as RepNet's does.
"""
from typing import Sequence

import torch
from mmpose.models.heads import RLEHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn

__all__ = ['PooledRLEHead']


@MODELS.register_module()
class PooledRLEHead(RLEHead):
    """RLE head with global average pooling built in.

    Everything but the input handling is :class:`RLEHead`'s: a linear layer
    regresses ``(x, y, sigma_x, sigma_y)`` per keypoint; the loss is
    MMPose's :class:`RLELoss` (its RealNVP flow lives in ``loss_module`` and
    only the loss calls it); ``predict`` supports flip test, decodes with the
    codec (e.g. ``RegressionLabel``) and scores each keypoint by
    ``1 - mean(sigmoid(sigma))``, the score that ``CocoMetric``'s
    ``score_mode='bbox_rle'`` uses.

    Args:
        in_channels (int): Channels of the last input feature map.
        num_joints (int): Number of keypoints.
        loss (dict): Config of the loss. Defaults to
            ``dict(type='RLELoss', use_target_weight=True)``, which uses a
            Laplace base distribution and a RealNVP flow of 3-layer, 64-unit
            fully connected nets.
        decoder (dict, optional): Config of the codec that decodes
            predictions. Defaults to None.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to :class:`RLEHead`'s.
    """

    def __init__(self,
                 in_channels: int,
                 num_joints: int,
                 loss: ConfigType = dict(
                     type='RLELoss', use_target_weight=True),
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if isinstance(in_channels, bool) or not isinstance(in_channels, int):
            raise TypeError('PooledRLEHead needs in_channels as an int (the '
                            'width of the last feature map), got '
                            f'{in_channels!r}')
        super().__init__(
            in_channels=in_channels,
            num_joints=num_joints,
            loss=loss,
            decoder=decoder,
            init_cfg=init_cfg)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Regress keypoints from the last feature map.

        Args:
            feats (Sequence[Tensor]): Features; the last one is used, either
                a map of shape (N, C, H, W), which is average-pooled, or
                already pooled vectors of shape (N, C).

        Returns:
            Tensor: Shape (N, K, 4): normalised ``(x, y)`` and the sigma
            logits.
        """
        x = feats[-1]
        if x.dim() == 4:
            x = self.pool(x)
        x = torch.flatten(x, 1)
        if x.shape[1] != self.in_channels:
            raise ValueError(f'PooledRLEHead expected {self.in_channels} '
                             f'input channels, got {x.shape[1]}')
        return self.fc(x).reshape(-1, self.num_joints, 4)

"""MMPose's ``inference_topdown`` behind the runtime's estimator interface.

:class:`TorchTopdownEstimator` has the interface of
:class:`mmpose_light_runtime.TopdownEstimator` (``predict(image, bboxes,
bbox_scores) -> PoseResult``, ``num_keypoints``, ``dataset_meta``), so that
:class:`mmpose_light_runtime.PosePipeline` (boxes, NMS, tracking) and the
drawing and writing steps run the same for a PyTorch checkpoint as for an
exported ONNX file. Its settings (box padding, rescoring, dataset meta) come
from :func:`mmpose_light.deploy.build_deploy_meta`, the function that writes
them into exported files.
"""
from typing import Any, Dict, Optional

import numpy as np
from mmpose_light_runtime.estimator import (check_bbox_scores, check_image,
                                            make_result)
from mmpose_light_runtime.preprocess import check_bboxes
from mmpose_light_runtime.structures import PoseResult

__all__ = ['TorchTopdownEstimator']


class TorchTopdownEstimator:
    """Estimate the pose in person boxes with a PyTorch checkpoint.

    Args:
        config (str): An MMPose top-down config.
        checkpoint (str, optional): Its checkpoint. Defaults to None
            (random weights).
        device (str): Torch device. Defaults to ``'cpu'``.
        flip_test (bool): MMPose's flip test. Defaults to False.
        cfg_options (dict, optional): Config overrides, as
            ``--cfg-options``. Defaults to None.

    Attributes:
        model: The MMPose model, from ``mmpose.apis.init_model``.
        meta (dict): The pipeline settings an ONNX export would embed.
    """

    def __init__(self,
                 config: str,
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 flip_test: bool = False,
                 cfg_options: Optional[dict] = None) -> None:
        # mmpose.apis needs the compat fixes (torchvision) applied first
        import mmpose_light  # noqa: F401
        from mmpose.apis import init_model

        from ..deploy import build_deploy_meta
        options = dict(cfg_options or {})
        options['model.test_cfg.flip_test'] = bool(flip_test)
        self.model = init_model(
            config, checkpoint, device=device, cfg_options=options)
        self.flip_test = bool(flip_test)
        width, height = self.model.head.decoder.input_size
        self.meta = build_deploy_meta(self.model, (1, 3, height, width), [])

    @property
    def input_size(self):
        """The network input size (w, h)."""
        width, height = self.meta['input_size']
        return width, height

    @property
    def dataset_meta(self) -> Dict[str, Any]:
        """Keypoint names, sigmas, flip indices, skeleton and colours."""
        return self.meta['dataset_meta']

    @property
    def num_keypoints(self) -> int:
        """The number of keypoints of a pose."""
        return int(self.model.dataset_meta['num_keypoints'])

    def predict(self,
                image: np.ndarray,
                bboxes: np.ndarray,
                bbox_scores: Optional[np.ndarray] = None) -> PoseResult:
        """Estimate the pose in each box; see
        :meth:`mmpose_light_runtime.TopdownEstimator.predict`."""
        from mmpose.apis import inference_topdown
        from mmpose.structures import merge_data_samples

        image = check_image(image)
        bboxes = check_bboxes(bboxes)
        bbox_scores = check_bbox_scores(bbox_scores, len(bboxes))
        # inference_topdown takes no boxes as the whole image: not here
        if len(bboxes) == 0:
            return PoseResult.empty(self.num_keypoints)
        samples = inference_topdown(
            self.model, image, bboxes, bbox_format='xyxy')
        pred = merge_data_samples(samples).pred_instances
        return make_result(pred.keypoints, pred.keypoint_scores, bboxes,
                           bbox_scores, self.meta)

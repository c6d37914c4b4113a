"""COCO keypoint evaluation with Matrix-OKS-NMS.

``CocoMetric`` rescores each pose (box score times the mean of its keypoint
scores above ``keypoint_score_thr``) and then removes redundant poses with
the greedy ``oks_nms`` or ``soft_oks_nms``, chosen inside ``compute_metrics``
from module-level functions: there is no hook to plug another NMS into.
``MatrixNMSCocoMetric`` subclasses it and adds
``nms_mode='matrix_oks_nms'``:

- CocoMetric's own NMS is switched off (its ``nms_mode`` attribute reads
  ``'none'``), so its ``compute_metrics`` runs unchanged: grouping by image,
  de-duplication and, above all, the rescoring are CocoMetric's own code;
- ``results2json``, the one place every prediction passes on its way to the
  result file that COCOeval reads, applies
  :func:`~mmpose_light_runtime.nms.matrix_oks_nms` per image and
  writes the decayed scores of the kept poses.

Every dataset that MMPose evaluates with ``CocoMetric`` (COCO, AIC,
CrowdPose, OCHuman, MHP, AP-10K, Human-Art, ...) differs only in its
annotation file, its ``dataset_meta`` (keypoints and their sigmas) and the
``use_area`` / ``iou_type`` arguments, all of which pass through, so a config
switches to Matrix-OKS-NMS by changing only ``type`` and the NMS arguments of
its evaluator. The other modes (``'oks_nms'``, ``'soft_oks_nms'``,
``'none'``) behave exactly as in ``CocoMetric``. The class composes with
CocoMetric subclasses that keep its constructor:
:class:`MatrixNMSCocoWholeBodyMetric` is
``(MatrixNMSCocoMetric, CocoWholeBodyMetric)``, and
:class:`MatrixNMSKeypointPartitionMetric` wraps it part by part.
"""
from typing import Dict, Optional

import numpy as np
from mmpose.evaluation.metrics import CocoMetric
from mmpose.registry import METRICS

from mmpose_light_runtime.nms import check_nms_options, matrix_oks_nms

__all__ = ['MatrixNMSCocoMetric']


@METRICS.register_module()
class MatrixNMSCocoMetric(CocoMetric):
    """COCO pose evaluation metric with Matrix-OKS-NMS.

    Takes every argument of ``CocoMetric`` (see there) and adds the
    ``'matrix_oks_nms'`` NMS mode, the default.

    Args:
        nms_mode (str): ``'matrix_oks_nms'``, or one of CocoMetric's modes
            ``'oks_nms'``, ``'soft_oks_nms'`` and ``'none'``.
            Defaults to ``'matrix_oks_nms'``.
        nms_thr (float): OKS threshold of ``'oks_nms'`` and
            ``'soft_oks_nms'``; Matrix-OKS-NMS decays scores instead and
            does not use it. Defaults to 0.9.
        nms_kernel (str): Decay kernel of Matrix-OKS-NMS, ``'gaussian'`` or
            ``'linear'``. Defaults to ``'gaussian'``.
        nms_sigma (float): Gaussian kernel parameter. Defaults to 2.0.
        nms_score_thr (float): Drop poses whose decayed score is below it.
            Defaults to 0.0.
        nms_max_num (int): Keep at most this many poses per image, -1 for
            all. COCOeval itself counts only the best 20. Defaults to -1.
        nms_vis_thr (float, optional): If given, OKS averages only the
            keypoints scored above it in both poses. Defaults to ``None``.
    """

    def __init__(self,
                 ann_file: Optional[str] = None,
                 use_area: bool = True,
                 iou_type: str = 'keypoints',
                 score_mode: str = 'bbox_keypoint',
                 keypoint_score_thr: float = 0.2,
                 nms_mode: str = 'matrix_oks_nms',
                 nms_thr: float = 0.9,
                 nms_kernel: str = 'gaussian',
                 nms_sigma: float = 2.0,
                 nms_score_thr: float = 0.0,
                 nms_max_num: int = -1,
                 nms_vis_thr: Optional[float] = None,
                 format_only: bool = False,
                 pred_converter: Optional[Dict] = None,
                 gt_converter: Optional[Dict] = None,
                 outfile_prefix: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        check_nms_options(nms_kernel,
                          nms_sigma,
                          nms_score_thr,
                          max_num=nms_max_num,
                          vis_thr=nms_vis_thr,
                          prefix='nms_')
        self.matrix_nms = nms_mode == 'matrix_oks_nms'
        super().__init__(ann_file=ann_file,
                         use_area=use_area,
                         iou_type=iou_type,
                         score_mode=score_mode,
                         keypoint_score_thr=keypoint_score_thr,
                         nms_mode='none' if self.matrix_nms else nms_mode,
                         nms_thr=nms_thr,
                         format_only=format_only,
                         pred_converter=pred_converter,
                         gt_converter=gt_converter,
                         outfile_prefix=outfile_prefix,
                         collect_device=collect_device,
                         prefix=prefix)
        self.nms_kernel = nms_kernel
        self.nms_sigma = nms_sigma
        self.nms_score_thr = nms_score_thr
        self.nms_max_num = nms_max_num
        self.nms_vis_thr = nms_vis_thr

    def apply_matrix_nms(self, keypoints: Dict[int, list]) -> Dict[int, list]:
        """Matrix-OKS-NMS over the rescored poses of each image.

        Args:
            keypoints (Dict[int, list]): Per image id, the pose dicts of
                ``CocoMetric.compute_metrics``, each with ``'keypoints'``
                (K, 3) as (x, y, score), ``'score'`` and ``'area'``.

        Returns:
            Dict[int, list]: Per image id, copies of the kept pose dicts by
            descending decayed score, ``'score'`` set to the decayed score.
        """
        sigmas = self.dataset_meta['sigmas']
        kept = {}
        for img_id, instances in keypoints.items():
            kpts = np.stack([inst['keypoints'] for inst in instances])
            try:
                keep, decayed = matrix_oks_nms(
                    kpts[..., :2],
                    kpts[..., 2],
                    np.array([inst['score'] for inst in instances],
                             dtype=np.float64),
                    np.array([inst['area'] for inst in instances],
                             dtype=np.float64),
                    sigmas,
                    kernel=self.nms_kernel,
                    sigma=self.nms_sigma,
                    score_thr=self.nms_score_thr,
                    max_num=self.nms_max_num,
                    vis_thr=self.nms_vis_thr)
            except ValueError as error:
                # a NaN prediction or wrong sigmas: say which image
                raise ValueError(f'Matrix-OKS-NMS of image {img_id}: '
                                 f'{error}') from error
            kept[img_id] = [
                dict(instances[i], score=float(decayed[i])) for i in keep
            ]
        return kept

    def results2json(self, keypoints: Dict[int, list],
                     outfile_prefix: str) -> str:
        """Apply Matrix-OKS-NMS (in that mode) and dump the results.

        Args:
            keypoints (Dict[int, list]): Keypoint detection results of the
                dataset, rescored by ``CocoMetric``.
            outfile_prefix (str): The filename prefix of the json files.

        Returns:
            str: The json file name of keypoint results.
        """
        if self.matrix_nms:
            keypoints = self.apply_matrix_nms(keypoints)
        return super().results2json(keypoints, outfile_prefix)

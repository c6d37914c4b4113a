"""Person detections from COCO-format result files, for top-down tools."""
import json
import os.path as osp
import re
from typing import Optional, Tuple

import numpy as np

__all__ = ['load_person_detections']


def load_person_detections(
        det_file: str,
        image: str,
        image_id: Optional[int] = None,
        score_thr: float = 0.) -> Tuple[np.ndarray, np.ndarray, int]:
    """The person boxes and scores of one image in a COCO result file.

    Args:
        det_file (str): COCO detection results: a JSON list of dicts with
            ``image_id``, ``bbox`` (x, y, w, h) and optionally ``score`` and
            ``category_id`` (1 is person).
        image (str): The image file; its name gives the image id when
            ``image_id`` is None (COCO names images by id).
        image_id (int, optional): The image id. Defaults to None.
        score_thr (float): Keep detections scored at least this.
            Defaults to 0.

    Returns:
        tuple: Boxes (x1, y1, x2, y2) of shape (N, 4), their scores (N, ) and
        the image id.

    Raises:
        FileNotFoundError: If ``det_file`` does not exist.
        ValueError: If it is not a COCO result list, the image id cannot be
            told, or no person detection of the image passes ``score_thr``.
    """
    if not osp.isfile(det_file):
        raise FileNotFoundError(f'detection file {det_file!r} does not exist')
    with open(det_file) as f:
        try:
            dets = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(
                f'{det_file!r} is not valid JSON: {error}') from None
    if not isinstance(dets, list) or not all(
            isinstance(d, dict) and 'image_id' in d and 'bbox' in d
            for d in dets):
        raise ValueError(f'{det_file!r} should be a list of COCO detections '
                         'with "image_id" and "bbox"')
    ids = sorted({d['image_id'] for d in dets})
    if image_id is None:
        digits = re.findall(r'\d+', osp.splitext(osp.basename(image))[0])
        if len(ids) == 1:
            image_id = ids[0]
        elif digits and int(digits[-1]) in ids:
            image_id = int(digits[-1])
        else:
            raise ValueError(f'cannot tell the image id of {image!r} in '
                             f'{det_file!r}; pass --image-id')
    dets = [
        d for d in dets if d['image_id'] == image_id
        and d.get('category_id', 1) == 1 and d.get('score', 1.) >= score_thr
    ]
    if not dets:
        raise ValueError(f'{det_file!r} has no person detection of image id '
                         f'{image_id} scored at least {score_thr}')
    xywh = np.array([d['bbox'] for d in dets], dtype=np.float64)
    bboxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    scores = np.array([d.get('score', 1.) for d in dets], dtype=np.float32)
    return bboxes, scores, image_id

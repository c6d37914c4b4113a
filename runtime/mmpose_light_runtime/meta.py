"""The pipeline settings a pose model file carries.

``tools/export_onnx.py`` (``mmpose_light.deploy.export_onnx``) embeds, as
JSON under :data:`META_KEY` in the ONNX file's ``metadata_props``, what the
runtime needs to go from an image and person boxes to keypoints: input size,
box padding and warp, normalisation, codec, flip-test settings, pose
rescoring and the dataset's keypoints, sigmas, skeleton and colours.

``tools/export_detector.py`` (``mmpose_light.deploy.export_detector``)
embeds, under :data:`DETECTOR_META_KEY`, what the runtime needs to go from an
image to person boxes: input size, letterbox, normalisation, channel order
and the box post-processing (score threshold, NMS settings).
"""
import json
from typing import Any, Dict, Mapping

from .codecs import SUPPORTED_CODECS

__all__ = [
    'META_KEY', 'META_VERSION', 'parse_meta', 'DETECTOR_META_KEY',
    'DETECTOR_META_VERSION', 'parse_detector_meta'
]

#: The key of the JSON metadata in the model's ``metadata_props``.
META_KEY = 'mmpose_light'
#: Version 2 added the flip-test settings and the SimCC codec.
META_VERSION = 2

#: The key of a person detector's JSON metadata.
DETECTOR_META_KEY = 'mmpose_light_detector'
DETECTOR_META_VERSION = 1

_REQUIRED = ('input_name', 'output_names', 'input_size', 'codec',
             'preprocess', 'rescore')
_DETECTOR_REQUIRED = ('input_name', 'output_names', 'input_size',
                      'preprocess', 'postprocess')
_DETECTOR_PREPROCESS = ('mean', 'std', 'to_rgb', 'pad_value')
_DETECTOR_POSTPROCESS = ('score_thr', 'nms_pre', 'iou_thr', 'max_per_img',
                         'min_bbox_size')


def parse_meta(metadata: Mapping[str, str], source: str) -> Dict[str, Any]:
    """Read and check the pipeline settings of a model file.

    Args:
        metadata (Mapping[str, str]): The model's custom metadata.
        source (str): The model file, for error messages.

    Returns:
        dict: The settings.

    Raises:
        ValueError: If the file has no settings, an unknown version, or a
            codec the runtime does not decode.
    """
    if META_KEY not in metadata and DETECTOR_META_KEY in metadata:
        raise ValueError(
            f'{source!r} is a person detector (it has {DETECTOR_META_KEY!r} '
            'metadata), not a pose model: give it as the detector '
            '(--det-model)')
    if META_KEY not in metadata:
        raise ValueError(
            f'{source!r} has no {META_KEY!r} metadata, so the runtime does '
            'not know its input size, normalisation and codec; export it '
            'with tools/export_onnx.py (mmpose_light.deploy.export_onnx)')
    meta = _load_json_meta(metadata, META_KEY, source)
    if not isinstance(meta, dict) or meta.get('version') != META_VERSION:
        version = meta.get('version') if isinstance(meta, dict) else None
        raise ValueError(
            f'{source!r} has pipeline metadata version {version!r}; this '
            f'runtime reads version {META_VERSION}: export it again with '
            'tools/export_onnx.py')
    missing = [key for key in _REQUIRED if key not in meta]
    if missing:
        raise ValueError(f'{source!r}: its {META_KEY!r} metadata lacks '
                         f'{missing}')
    codec = meta['codec'] or {}
    if codec.get('type') not in SUPPORTED_CODECS:
        raise ValueError(
            f'{source!r} was exported with codec {codec.get("type")!r}; the '
            f'runtime decodes {SUPPORTED_CODECS}')
    return meta


def _load_json_meta(metadata: Mapping[str, str], key: str,
                    source: str) -> Any:
    try:
        return json.loads(metadata[key])
    except json.JSONDecodeError as error:
        raise ValueError(f'{source!r}: its {key!r} metadata is not '
                         f'valid JSON ({error})') from None


def parse_detector_meta(metadata: Mapping[str, str],
                        source: str) -> Dict[str, Any]:
    """Read and check the settings of a person detector file.

    Args:
        metadata (Mapping[str, str]): The model's custom metadata.
        source (str): The model file, for error messages.

    Returns:
        dict: The settings: ``input_name``, ``output_names`` (``boxes``
        (1, P, 4) as (x1, y1, x2, y2) in the network input's pixels and
        ``scores`` (1, P), the person score of each of the P priors),
        ``input_size`` (w, h), ``preprocess`` (``mean``, ``std``,
        ``to_rgb``, ``pad_value``) and ``postprocess`` (``score_thr``,
        ``nms_pre``, ``iou_thr``, ``max_per_img``, ``min_bbox_size``).

    Raises:
        ValueError: If the file has no detector settings, an unknown
            version, or settings are missing.
    """
    if DETECTOR_META_KEY not in metadata:
        raise ValueError(
            f'{source!r} has no {DETECTOR_META_KEY!r} metadata; export the '
            'detector with tools/export_detector.py')
    meta = _load_json_meta(metadata, DETECTOR_META_KEY, source)
    version = meta.get('version') if isinstance(meta, dict) else None
    if version != DETECTOR_META_VERSION:
        raise ValueError(
            f'{source!r} has detector metadata version {version!r}; this '
            f'runtime reads version {DETECTOR_META_VERSION}: export it '
            'again with tools/export_detector.py')
    missing = [key for key in _DETECTOR_REQUIRED if key not in meta]
    missing += [
        f'{group}.{key}'
        for group, keys in (('preprocess', _DETECTOR_PREPROCESS),
                            ('postprocess', _DETECTOR_POSTPROCESS))
        if isinstance(meta.get(group), dict)
        for key in keys if key not in meta[group]
    ]
    if missing:
        raise ValueError(f'{source!r}: its {DETECTOR_META_KEY!r} metadata '
                         f'lacks {missing}')
    return meta

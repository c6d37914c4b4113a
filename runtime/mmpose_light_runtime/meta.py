"""The pipeline settings a pose model file carries.

``tools/export_onnx.py`` (``mmpose_light.deploy.export_onnx``) embeds, as
JSON under :data:`META_KEY` in the ONNX file's ``metadata_props``, what the
runtime needs to go from an image and person boxes to keypoints: input size,
box padding and warp, normalisation, codec, flip-test settings, pose
rescoring and the dataset's keypoints, sigmas, skeleton and colours.
"""
import json
from typing import Any, Dict, Mapping

from .codecs import SUPPORTED_CODECS

__all__ = ['META_KEY', 'META_VERSION', 'parse_meta']

#: The key of the JSON metadata in the model's ``metadata_props``.
META_KEY = 'mmpose_light'
#: Version 2 added the flip-test settings and the SimCC codec.
META_VERSION = 2

_REQUIRED = ('input_name', 'output_names', 'input_size', 'codec',
             'preprocess', 'rescore')


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
    if META_KEY not in metadata:
        raise ValueError(
            f'{source!r} has no {META_KEY!r} metadata, so the runtime does '
            'not know its input size, normalisation and codec; export it '
            'with tools/export_onnx.py (mmpose_light.deploy.export_onnx)')
    try:
        meta = json.loads(metadata[META_KEY])
    except json.JSONDecodeError as error:
        raise ValueError(f'{source!r}: its {META_KEY!r} metadata is not '
                         f'valid JSON ({error})') from None
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

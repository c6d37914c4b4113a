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

This module owns that metadata for every tool that writes it and every
engine that reads it: the keys and versions, the parsers, the JSON
conversion of the values (:func:`to_builtin`), storing it in and reading it
from an ONNX file (:func:`embed_onnx_meta`, :func:`read_onnx_meta`, which
import ``onnx`` when called), and the metadata file of ncnn models.

An ncnn model (``tools/export_ncnn.py``,
:mod:`mmpose_light_runtime.ncnn_export`) is a ``.ncnn.param`` and a
``.ncnn.bin`` file, which hold no metadata; a
``.ncnn.json`` file beside them (:func:`read_ncnn_meta`) carries the ONNX
file's ``metadata_props`` unchanged, so the same parsers read both, and what
ncnn does not keep: the ONNX input and output names against ncnn's blob
names, the output shapes, and the weights' precision.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, Mapping, Optional, Tuple

from .codecs import SUPPORTED_CODECS
from .fileio import load_json

__all__ = [
    'META_KEY', 'META_VERSION', 'parse_meta', 'DETECTOR_META_KEY',
    'DETECTOR_META_VERSION', 'parse_detector_meta', 'NCNN_META_FORMAT',
    'NCNN_META_VERSION', 'NCNN_SUFFIXES', 'ncnn_files', 'is_ncnn_model',
    'read_ncnn_meta', 'to_builtin', 'nested_get', 'embed_onnx_meta',
    'read_onnx_meta'
]

#: The key of the JSON metadata in the model's ``metadata_props``.
META_KEY = 'mmpose_light'
#: Version 2 added the flip-test settings and the SimCC codec.
META_VERSION = 2

#: The key of a person detector's JSON metadata.
DETECTOR_META_KEY = 'mmpose_light_detector'
DETECTOR_META_VERSION = 1

#: The ``format`` of an ncnn model's metadata file.
NCNN_META_FORMAT = 'mmpose_light.ncnn'
NCNN_META_VERSION = 1
#: The suffixes of an ncnn model's three files.
NCNN_SUFFIXES = ('.ncnn.param', '.ncnn.bin', '.ncnn.json')

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


def ncnn_files(path: str) -> Tuple[str, str, str]:
    """The ``.ncnn.param``, ``.ncnn.bin`` and ``.ncnn.json`` files of an
    ncnn model, from any of the three or their common prefix.

    Args:
        path (str): ``model.ncnn.param``, ``model.ncnn.bin``,
            ``model.ncnn.json`` or ``model``.

    Returns:
        tuple[str, str, str]: The three paths (which may not exist).
    """
    path = os.fspath(path)
    for suffix in NCNN_SUFFIXES:
        if path.endswith(suffix):
            path = path[:-len(suffix)]
            break
    return tuple(path + suffix for suffix in NCNN_SUFFIXES)


def is_ncnn_model(path: str) -> bool:
    """Whether ``path`` names an ncnn model (by its suffix)."""
    return os.fspath(path).endswith(NCNN_SUFFIXES)


def read_ncnn_meta(path: str) -> Dict[str, Any]:
    """Read and check the metadata file of an ncnn model.

    Args:
        path (str): Any file of the model (see :func:`ncnn_files`).

    Returns:
        dict: ``format``, ``version``, ``precision`` (``'fp32'`` or
        ``'fp16'``), ``input`` (``name``, ``blob``, ``shape``), ``outputs``
        (a list of ``name``, ``blob``, ``shape``: the ONNX output names in
        the ONNX file's order, ncnn's blob names and the shapes at batch 1)
        and ``metadata_props`` (the ONNX file's, str to str).

    Raises:
        FileNotFoundError: If the parameters, the weights or the metadata
            file does not exist.
        ValueError: If the metadata file is not one of ours.
    """
    param, weights, meta_file = ncnn_files(path)
    for file, what, hint in (
            (param, 'parameters', ''), (weights, 'weights', ''),
            (meta_file, 'metadata',
             ': convert the ONNX file with tools/export_ncnn.py (python -m '
             'mmpose_light_runtime.ncnn_export), which writes it beside the '
             '.param and .bin files')):
        if not osp.isfile(file):
            raise FileNotFoundError(
                f'the ncnn model {path!r} lacks its {what} file {file!r}'
                f'{hint}')
    meta = load_json(meta_file)
    if not isinstance(meta, dict) or meta.get('format') != NCNN_META_FORMAT:
        raise ValueError(f'{meta_file!r} is not the metadata of an ncnn '
                         f'model of ours (no "format": '
                         f'"{NCNN_META_FORMAT}")')
    if meta.get('version') != NCNN_META_VERSION:
        raise ValueError(
            f'{meta_file!r} has ncnn metadata version '
            f'{meta.get("version")!r}; this runtime reads version '
            f'{NCNN_META_VERSION}: convert the ONNX file again')
    missing = [
        key for key in ('precision', 'input', 'outputs', 'metadata_props')
        if key not in meta
    ]
    if missing:
        raise ValueError(f'{meta_file!r} lacks {missing}')
    if meta['precision'] not in ('fp32', 'fp16'):
        raise ValueError(f'{meta_file!r}: precision should be fp32 or fp16, '
                         f'but got {meta["precision"]!r}')
    return meta


def to_builtin(value: Any) -> Any:
    """Convert numpy arrays and scalars and tensors (anything with
    ``tolist``), nested in lists and dicts, to JSON types."""
    if isinstance(value, dict):
        return {str(k): to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtin(v) for v in value]
    if isinstance(value, (str, bytes)) or value is None:
        return value
    if hasattr(value, 'tolist'):  # numpy arrays and scalars, tensors
        return value.tolist()
    return value


def nested_get(cfg: Any, *keys: str) -> Any:
    """``cfg[k0][k1]...`` of nested mappings (dicts, MMEngine configs), or
    None where a level is missing or not a mapping."""
    value = cfg
    for key in keys:
        if isinstance(value, (str, bytes, list, tuple)) or not hasattr(
                value, '__getitem__') or not hasattr(value, '__contains__'):
            return None
        if key not in value:
            return None
        value = value[key]
    return value


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError('reading or writing the metadata of an ONNX file '
                          'needs onnx, which is not installed: pip install '
                          'onnx') from None
    return onnx


def embed_onnx_meta(onnx_file: str,
                    meta: Dict[str, Any],
                    key: str = META_KEY) -> None:
    """Store ``meta`` as JSON under ``key``, the file's only metadata, and
    check the model.

    Args:
        onnx_file (str): The ONNX file, rewritten in place.
        meta (dict): JSON-serialisable metadata.
        key (str): :data:`META_KEY` or :data:`DETECTOR_META_KEY`.
            Defaults to :data:`META_KEY`.
    """
    onnx = _import_onnx()
    model = onnx.load(onnx_file)
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key = key
    entry.value = json.dumps(meta)
    onnx.checker.check_model(model)
    onnx.save(model, onnx_file)


def read_onnx_meta(onnx_file: str, meta_file: Optional[str] = None
                   ) -> Tuple[Any, Dict[str, str], str]:
    """Load an ONNX file and the runtime metadata it (or ``meta_file``)
    carries, checked.

    Args:
        onnx_file (str): The ONNX file.
        meta_file (str, optional): A JSON file of metadata to use instead of
            the file's: an object with the key :data:`META_KEY` (a pose
            model) or :data:`DETECTOR_META_KEY` (a detector), whose value
            is the metadata (an object, or its JSON text). Defaults to None.

    Returns:
        tuple: the ONNX model (``onnx.ModelProto``), its metadata props (str
        to str) and its kind, ``'pose'`` or ``'detector'``.

    Raises:
        FileNotFoundError: If a file does not exist.
        ValueError: If the file is not ONNX, there is no metadata of ours,
            or it does not parse.
    """
    onnx = _import_onnx()
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file {onnx_file!r} does not exist')
    try:
        model = onnx.load(onnx_file)
    except Exception as error:  # protobuf raises its own types
        raise ValueError(f'{onnx_file!r} is not an ONNX file: '
                         f'{error}') from None
    props = {entry.key: entry.value for entry in model.metadata_props}
    if meta_file is not None:
        if not osp.isfile(meta_file):
            raise FileNotFoundError(
                f'metadata file {meta_file!r} does not exist')
        given = load_json(meta_file)
        keys = [
            k for k in (META_KEY, DETECTOR_META_KEY)
            if isinstance(given, dict) and k in given
        ]
        if len(keys) != 1:
            raise ValueError(
                f'{meta_file!r} should be a JSON object with one key, '
                f'{META_KEY!r} (a pose model) or {DETECTOR_META_KEY!r} (a '
                'detector), whose value is the metadata that '
                'tools/export_onnx.py or tools/export_detector.py embeds')
        value = given[keys[0]]
        props = {
            keys[0]: value if isinstance(value, str) else json.dumps(value)
        }
    if META_KEY in props:
        parse_meta(props, onnx_file)
        return model, props, 'pose'
    if DETECTOR_META_KEY in props:
        parse_detector_meta(props, onnx_file)
        return model, props, 'detector'
    raise ValueError(
        f'{onnx_file!r} has no {META_KEY!r} or {DETECTOR_META_KEY!r} '
        'metadata, so its input size, normalisation and decoding are '
        'unknown: export it again with tools/export_onnx.py (pose) or '
        'tools/export_detector.py (detector), or pass --meta META.json with '
        'that metadata')

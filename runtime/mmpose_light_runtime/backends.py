"""Inference engines behind one small interface.

A backend loads a model file and runs it on a float32 batch; the pose
pipeline around it does not depend on which engine it is. Both engines run
float and quantized (QDQ) ONNX files:

- ``'onnxruntime'``: ONNX Runtime, a requirement of the runtime;
- ``'openvino'``: OpenVINO, an optional extra
  (``pip install "mmpose-light-runtime[openvino]"``), imported only when
  asked for.

A third runs ncnn models converted from those ONNX files
(:mod:`mmpose_light_runtime.ncnn_export`):

- ``'ncnn'``: Tencent's ncnn, an optional extra
  (``pip install "mmpose-light-runtime[ncnn]"``), imported only when asked
  for.

:func:`backend_for` picks the engine a model file needs by its name.
"""
import os
import os.path as osp
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

import numpy as np

from .checks import check_int
from .meta import is_ncnn_model, ncnn_files, read_ncnn_meta
from .timing import usable_cores

__all__ = [
    'Backend', 'OnnxRuntimeBackend', 'OpenVINOBackend', 'NcnnBackend',
    'BACKENDS', 'create_backend', 'backend_for'
]


class Backend:
    """The interface of an inference engine.

    Attributes:
        input_name (str): Name of the model's one input.
        input_shape (list): Shape of that input, a str or None on dynamic
            axes.
        output_names (list[str]): Names of the outputs, in run order.
        metadata (dict[str, str]): The model file's custom metadata.
    """
    input_name: str
    input_shape: list
    output_names: List[str]
    metadata: Dict[str, str]

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        """Run the model on a batch.

        Args:
            inputs (np.ndarray): float32 batch. Shape (N, C, H, W).

        Returns:
            list[np.ndarray]: The outputs, in :attr:`output_names` order.
        """
        raise NotImplementedError


def _check_model_file(model_file: str) -> str:
    """An existing ONNX (or OpenVINO) model file, as a str."""
    if not isinstance(model_file, (str, os.PathLike)):
        raise TypeError(f'the model should be a path, but got {model_file!r}')
    model_file = os.fspath(model_file)
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file {model_file!r} does not exist')
    if is_ncnn_model(model_file):
        raise ValueError(f'{model_file!r} is an ncnn model: run it with '
                         "backend 'ncnn' (--backend ncnn)")
    return model_file


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime.

    A batch of several crops is split into one chunk per worker, and the
    chunks run concurrently (ONNX Runtime releases the GIL), each on one
    thread of a second session with one intra-op thread. A small network
    such as RTMPose-t is a chain of short operators (on 256x192 crops,
    half of them take under 0.1 ms), and ONNX Runtime parallelises inside
    each operator, with a barrier after each: a second intra-op thread
    mostly waits there, and the batch gains little from a second core.
    Chunks need no barrier until the end. A single crop, and the one crop
    left over where the batch does not split evenly (the fifth of 5 on 2
    cores), run on the first session, with ONNX Runtime's intra-op
    threads, which spin between operators as ONNX Runtime sets them: on
    an idle CPU, one RTMPose-t crop took 4.5 ms on two spinning threads,
    6.5 ms on two that sleep and 7.1 ms on one (docs/rtmlib_comparison.md
    names the CPU). The outputs equal those of one run of the whole batch
    up to float rounding.

    Args:
        model_file (str): An ONNX file.
        num_threads (int, optional): Intra-op threads of a single crop, and
            concurrent chunks of a batch. Defaults to None: ONNX Runtime's
            intra-op threads (one per physical core) and one chunk per core
            this process may use (on a VM whose vCPUs are the hyperthreads
            of one physical core, ONNX Runtime's choice is one thread; the
            chunks still use every vCPU).
        providers (Sequence[str], optional): Execution providers.
            Defaults to None: ``['CPUExecutionProvider']``.

    Attributes:
        session (onnxruntime.InferenceSession): The session of single
            crops (and of batches, with one worker).
        num_workers (int): Concurrent chunks of a batch.
    """

    def __init__(self,
                 model_file: str,
                 num_threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None) -> None:
        model_file = _check_model_file(model_file)
        if num_threads is not None:
            check_int('`num_threads`', num_threads, 1)
        self._model_file = model_file
        self._providers = list(providers or ['CPUExecutionProvider'])
        self.session = self._load(num_threads)
        self.num_workers = num_threads or usable_cores()
        self._chunk_session = None
        self._pool = None
        self._lock = threading.Lock()
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f'{model_file!r} has {len(inputs)} inputs; a '
                             'pose or detection model has one image input')
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(
            self.session.get_modelmeta().custom_metadata_map)

    def _load(self, num_threads: Optional[int]):
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        try:
            return ort.InferenceSession(self._model_file,
                                        sess_options=options,
                                        providers=self._providers)
        except Exception as error:  # ONNX Runtime raises its own types
            raise ValueError(f'ONNX Runtime cannot load '
                             f'{self._model_file!r}: {error}') from None

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        num_chunks = min(len(inputs), self.num_workers)
        if num_chunks < 2:
            return self.session.run(self.output_names,
                                    {self.input_name: inputs})
        with self._lock:  # callers on several threads load it once
            if self._pool is None:
                self._chunk_session = self._load(1)
                self._pool = ThreadPoolExecutor(self.num_workers - 1)
        # one crop left over (5 crops on 2 cores) would leave all but one
        # core idle at the end: it runs after the even chunks, on the
        # intra-op threads
        last = len(inputs) % num_chunks == 1
        even = len(inputs) - 1 if last else len(inputs)
        chunks = np.array_split(inputs[:even], num_chunks)
        # the caller's thread runs the first chunk instead of waiting
        futures = [
            self._pool.submit(self._run_chunk, chunk) for chunk in chunks[1:]
        ]
        parts = [self._run_chunk(chunks[0])]
        parts += [future.result() for future in futures]
        if last:
            parts.append(
                self.session.run(self.output_names,
                                 {self.input_name: inputs[even:]}))
        return [np.concatenate(outputs) for outputs in zip(*parts)]

    def _run_chunk(self, chunk: np.ndarray) -> List[np.ndarray]:
        return self._chunk_session.run(self.output_names,
                                       {self.input_name: chunk})


class OpenVINOBackend(Backend):
    """OpenVINO.

    The ONNX file is read by OpenVINO's ONNX frontend, which keeps the
    file's ``metadata_props`` in the model's ``rt_info['framework']``: they
    are :attr:`metadata`, as ONNX Runtime's custom metadata map. Inference
    runs in float32 (``INFERENCE_PRECISION_HINT``), so that the outputs
    match ONNX Runtime's on CPUs where OpenVINO would otherwise choose
    bfloat16; a quantized (QDQ) file runs in INT8. The batch axis stays
    dynamic.

    Args:
        model_file (str): An ONNX file (or OpenVINO IR ``.xml``).
        num_threads (int, optional): Inference threads
            (``INFERENCE_NUM_THREADS``). Defaults to None (OpenVINO's
            choice).
        device (str): OpenVINO device. Defaults to ``'CPU'``.

    Raises:
        ImportError: If OpenVINO is not installed.
    """

    def __init__(self,
                 model_file: str,
                 num_threads: Optional[int] = None,
                 device: str = 'CPU') -> None:
        try:
            import openvino
        except ImportError:
            raise ImportError(
                "backend 'openvino' needs OpenVINO, which is not installed: "
                'pip install "mmpose-light-runtime[openvino]" (or pip '
                'install openvino)') from None

        model_file = _check_model_file(model_file)
        if num_threads is not None:
            check_int('`num_threads`', num_threads, 1)
        core = openvino.Core()
        try:
            model = core.read_model(model_file)
        except Exception as error:  # OpenVINO raises its own types
            raise ValueError(f'OpenVINO cannot read {model_file!r}: '
                             f'{error}') from None
        if len(model.inputs) != 1:
            raise ValueError(f'{model_file!r} has {len(model.inputs)} '
                             'inputs; a pose or detection model has one '
                             'image input')
        port = model.inputs[0]
        self.input_name = port.get_any_name()
        self.input_shape = [
            dim.get_length() if dim.is_static else None
            for dim in port.get_partial_shape()
        ]
        self.output_names = [out.get_any_name() for out in model.outputs]
        self.metadata = _openvino_metadata(model)
        config = {
            'PERFORMANCE_HINT': 'LATENCY',
            'INFERENCE_PRECISION_HINT': 'f32'
        }
        if num_threads is not None:
            config['INFERENCE_NUM_THREADS'] = num_threads
        try:
            self.compiled = core.compile_model(model, device, config)
        except Exception as error:
            raise ValueError(f'OpenVINO cannot compile {model_file!r} for '
                             f'{device!r}: {error}') from None
        self.request = self.compiled.create_infer_request()

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        results = self.request.infer({0: inputs})
        return [results[out] for out in self.compiled.outputs]


def _openvino_metadata(model) -> Dict[str, str]:
    """The ONNX ``metadata_props`` that OpenVINO keeps in ``rt_info``."""
    rt_info = model.get_rt_info()
    if 'framework' not in rt_info:
        return {}
    return {
        str(key): value.astype(str)
        for key, value in rt_info['framework'].items()
    }


class NcnnBackend(Backend):
    """ncnn, on a model converted by
    :func:`~mmpose_light_runtime.ncnn_export.export_ncnn`.

    The model is three files: ``X.ncnn.param``, ``X.ncnn.bin`` and
    ``X.ncnn.json``, the metadata (:func:`~mmpose_light_runtime.meta.
    read_ncnn_meta`) that gives :attr:`metadata` (the ONNX file's),
    :attr:`input_name` and :attr:`output_names` (the ONNX file's names,
    mapped to ncnn's blobs) and the output shapes. ncnn runs one image at a
    time: a batch runs crop by crop, each crop on ncnn's own threads (the
    simpler of two ways that measured alike on an x86 CPU,
    ``tools/benchmarks/ncnn_vs_onnxruntime.py``), and the outputs are
    stacked into batches as ONNX Runtime returns them.

    A model converted with fp32 weights runs in fp32 (ncnn's fp16 and bf16
    storage and arithmetic off), so that its outputs match ONNX Runtime's;
    one converted with fp16 weights runs with ncnn's defaults, which use
    fp16 storage and arithmetic where the CPU has them (ARM phones).

    Args:
        model_file (str): Any of the three files, or their common prefix.
        num_threads (int, optional): ncnn's threads. Defaults to None:
            ncnn's default (its count of big cores).

    Raises:
        ImportError: If ncnn is not installed.
        FileNotFoundError: If a file of the model is missing.
        ValueError: If ncnn cannot load the model.
    """

    def __init__(self,
                 model_file: str,
                 num_threads: Optional[int] = None) -> None:
        try:
            import ncnn
        except ImportError:
            raise ImportError(
                "backend 'ncnn' needs ncnn, which is not installed: pip "
                'install "mmpose-light-runtime[ncnn]" (or pip install '
                'ncnn)') from None
        if not isinstance(model_file, (str, os.PathLike)):
            raise TypeError(
                f'the model should be a path, but got {model_file!r}')
        if num_threads is not None:
            check_int('`num_threads`', num_threads, 1)
        model_file = os.fspath(model_file)
        if not is_ncnn_model(model_file) and not osp.isfile(
                ncnn_files(model_file)[0]):
            raise ValueError(
                f"backend 'ncnn' runs ncnn models (X.ncnn.param with its "
                f'.bin and .json), not {model_file!r}: convert an ONNX file '
                'with tools/export_ncnn.py (python -m '
                'mmpose_light_runtime.ncnn_export)')
        meta = read_ncnn_meta(model_file)
        param, weights, _ = ncnn_files(model_file)
        self.precision = meta['precision']
        self.net = ncnn.Net()
        opt = self.net.opt
        if self.precision == 'fp32':
            for name in ('use_fp16_packed', 'use_fp16_storage',
                         'use_fp16_arithmetic', 'use_bf16_storage',
                         'use_bf16_packed'):
                setattr(opt, name, False)
        if num_threads is not None:
            opt.num_threads = num_threads
        self.num_threads = int(opt.num_threads)
        # ncnn prints why it fails on stderr and returns non-zero
        if self.net.load_param(param) != 0:
            raise ValueError(
                f'ncnn cannot load {param!r} (its reason is printed above); '
                'convert the ONNX file again with tools/export_ncnn.py')
        if self.net.load_model(weights) != 0:
            raise ValueError(f'ncnn cannot load the weights {weights!r}: '
                             'truncated, or not those of the .param file')
        self._input_blob = meta['input']['blob']
        self.input_name = meta['input']['name']
        self.input_shape = [None] + list(meta['input']['shape'][1:])
        self.output_names = [out['name'] for out in meta['outputs']]
        self._outputs = [(out['blob'], tuple(out['shape'][1:]))
                         for out in meta['outputs']]
        self.metadata = dict(meta['metadata_props'])
        self._ncnn = ncnn

    def run_one(self, image: np.ndarray) -> List[np.ndarray]:
        """Run the model on one input (C, H, W); the outputs without
        their batch axis."""
        extractor = self.net.create_extractor()
        # ncnn.Mat wraps the array's memory without a reference to it: the
        # array must outlive the extraction
        data = np.ascontiguousarray(image, dtype=np.float32)
        extractor.input(self._input_blob, self._ncnn.Mat(data))
        outputs = []
        for blob, shape in self._outputs:
            status, mat = extractor.extract(blob)
            if status != 0:
                raise RuntimeError(f'ncnn failed to compute {blob!r} '
                                   f'(status {status})')
            out = np.array(mat)
            if out.size != int(np.prod(shape)):
                raise RuntimeError(
                    f'ncnn returned {out.shape} for {blob!r}; the ONNX '
                    f'model gives {shape} per image')
            outputs.append(out.reshape(shape))
        return outputs

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        inputs = np.asarray(inputs, dtype=np.float32)
        if inputs.ndim != 4 or list(inputs.shape[1:]) != \
                self.input_shape[1:]:
            raise ValueError(f'the input should have shape (N, '
                             f'{", ".join(map(str, self.input_shape[1:]))}'
                             f'), but got {inputs.shape}')
        parts = [self.run_one(image) for image in inputs]
        if not parts:
            return [
                np.zeros((0, ) + shape, np.float32)
                for _, shape in self._outputs
            ]
        return [np.stack(outputs) for outputs in zip(*parts)]


#: Backend name to class.
BACKENDS = {
    'onnxruntime': OnnxRuntimeBackend,
    'openvino': OpenVINOBackend,
    'ncnn': NcnnBackend
}


def backend_for(model_file: str, name: Optional[str] = None) -> str:
    """The backend to load ``model_file`` with: ``name`` if given, else
    ``'ncnn'`` for an ncnn model's file (``.ncnn.param``, ``.ncnn.bin``,
    ``.ncnn.json``) and ``'onnxruntime'`` for anything else."""
    if name is not None:
        return name
    return 'ncnn' if is_ncnn_model(model_file) else 'onnxruntime'


def create_backend(name: Optional[str], model_file: str,
                   num_threads: Optional[int] = None) -> Backend:
    """Load ``model_file`` with the backend called ``name``.

    Args:
        name (str, optional): A key of :data:`BACKENDS`, or None to pick
            it by the file (:func:`backend_for`).
        model_file (str): The model file.
        num_threads (int, optional): Intra-op threads. Defaults to None.

    Returns:
        Backend: The loaded model.
    """
    if isinstance(model_file, (str, os.PathLike)):
        name = backend_for(model_file, name)
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; choose one of '
                         f'{sorted(BACKENDS)}')
    return BACKENDS[name](model_file, num_threads=num_threads)

"""Inference engines behind one small interface.

A backend loads a model file and runs it on a float32 batch; the pose
pipeline around it does not depend on which engine it is. Both engines run
float and quantized (QDQ) ONNX files:

- ``'onnxruntime'``: ONNX Runtime, a requirement of the runtime;
- ``'openvino'``: OpenVINO, an optional extra
  (``pip install "mmpose-light-runtime[openvino]"``), imported only when
  asked for.
"""
import os
import os.path as osp
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence

import numpy as np

from .checks import check_int
from .timing import usable_cores

__all__ = [
    'Backend', 'OnnxRuntimeBackend', 'OpenVINOBackend', 'BACKENDS',
    'create_backend'
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
    if not isinstance(model_file, (str, os.PathLike)):
        raise TypeError(f'the model should be a path, but got {model_file!r}')
    model_file = os.fspath(model_file)
    if not osp.isfile(model_file):
        raise FileNotFoundError(f'model file {model_file!r} does not exist')
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


#: Backend name to class.
BACKENDS = {'onnxruntime': OnnxRuntimeBackend, 'openvino': OpenVINOBackend}


def create_backend(name: str, model_file: str,
                   num_threads: Optional[int] = None) -> Backend:
    """Load ``model_file`` with the backend called ``name``.

    Args:
        name (str): A key of :data:`BACKENDS`.
        model_file (str): The model file.
        num_threads (int, optional): Intra-op threads. Defaults to None.

    Returns:
        Backend: The loaded model.
    """
    if name not in BACKENDS:
        raise ValueError(f'unknown backend {name!r}; choose one of '
                         f'{sorted(BACKENDS)}')
    return BACKENDS[name](model_file, num_threads=num_threads)

"""Inference engines behind one small interface.

A backend loads a model file and runs it on a float32 batch; the pose
pipeline around it does not depend on which engine it is.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

__all__ = ['Backend', 'OnnxRuntimeBackend', 'BACKENDS', 'create_backend']


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


def _check_threads(num_threads: Optional[int]) -> None:
    if num_threads is not None and (not isinstance(num_threads, int)
                                    or isinstance(num_threads, bool)
                                    or num_threads < 1):
        raise ValueError('`num_threads` should be a positive int, '
                         f'but got {num_threads!r}')


class OnnxRuntimeBackend(Backend):
    """ONNX Runtime.

    Args:
        model_file (str): An ONNX file.
        num_threads (int, optional): Intra-op threads. Defaults to None
            (ONNX Runtime's choice: one per physical core).
        providers (Sequence[str], optional): Execution providers.
            Defaults to None: ``['CPUExecutionProvider']``.
    """

    def __init__(self,
                 model_file: str,
                 num_threads: Optional[int] = None,
                 providers: Optional[Sequence[str]] = None) -> None:
        import onnxruntime as ort

        model_file = _check_model_file(model_file)
        _check_threads(num_threads)
        options = ort.SessionOptions()
        if num_threads is not None:
            options.intra_op_num_threads = num_threads
        try:
            self.session = ort.InferenceSession(
                model_file,
                sess_options=options,
                providers=list(providers or ['CPUExecutionProvider']))
        except Exception as error:  # ONNX Runtime raises its own types
            raise ValueError(f'ONNX Runtime cannot load {model_file!r}: '
                             f'{error}') from None
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f'{model_file!r} has {len(inputs)} inputs; a '
                             'pose or detection model has one image input')
        self.input_name = inputs[0].name
        self.input_shape = list(inputs[0].shape)
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(
            self.session.get_modelmeta().custom_metadata_map)

    def run(self, inputs: np.ndarray) -> List[np.ndarray]:
        return self.session.run(self.output_names, {self.input_name: inputs})


#: Backend name to class.
BACKENDS = {'onnxruntime': OnnxRuntimeBackend}


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

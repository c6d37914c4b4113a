"""One timing harness for PyTorch and the runtime's engines.

:func:`compare_latency` is the runtime's interleaved harness
(:func:`mmpose_light_runtime.timing.compare_latency`) with PyTorch's thread
count set and autograd off while it runs, so that eager models, ONNX
Runtime sessions and OpenVINO models are timed side by side in one call.
ONNX Runtime and OpenVINO take their thread counts when the session is
made (:func:`ort_session`, :func:`openvino_model`). Per-method benchmarks
take their timing options from :func:`timing_parser`.
"""
import argparse
from typing import Callable, Dict, Optional

import numpy as np
import torch
from mmpose_light_runtime.timing import compare_latency as _interleaved

__all__ = ['compare_latency', 'num_threads', 'timing_parser', 'ort_session',
           'ort_call', 'openvino_model']


class num_threads:
    """Context manager that sets ``torch``'s intra-op thread count."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __enter__(self) -> 'num_threads':
        self.saved = torch.get_num_threads()
        torch.set_num_threads(self.n)
        return self

    def __exit__(self, *exc) -> None:
        torch.set_num_threads(self.saved)


def compare_latency(candidates: Dict[str, Callable[[], object]],
                    rounds: int = 20,
                    warmup: int = 3,
                    threads: Optional[int] = 1,
                    progress: Optional[Callable[[int, int], None]] = None
                    ) -> Dict[str, float]:
    """Median wall time of each candidate, measured interleaved.

    Each round calls every candidate once, in turn, so slow phases of a
    shared machine are spread over all of them.

    Args:
        candidates (dict[str, Callable]): Name to a no-argument callable.
        rounds (int): Timed calls per candidate. Defaults to 20.
        warmup (int): Untimed calls per candidate first. Defaults to 3.
        threads (int, optional): ``torch`` threads while timing; ``None``
            keeps the current setting. Defaults to 1.
        progress (Callable[[int, int], None], optional): Called after each
            round with ``(rounds_done, rounds)``, for long measurements.
            Defaults to None.

    Returns:
        dict[str, float]: Name to median milliseconds per call.
    """
    with num_threads(threads or torch.get_num_threads()), torch.no_grad():
        return _interleaved(candidates, rounds, warmup, progress)


def timing_parser(description: str,
                  rounds: int = 20) -> argparse.ArgumentParser:
    """A benchmark's command-line parser with the options of
    :func:`compare_latency`: ``--rounds`` and ``--threads`` (default 1).

    Args:
        description (str): What the benchmark measures.
        rounds (int): Default of ``--rounds``. Defaults to 20.

    Returns:
        argparse.ArgumentParser: The parser; the benchmark may add options.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        '--rounds', type=int, default=rounds, help='timed rounds per model')
    parser.add_argument(
        '--threads', type=int, default=1, help='torch threads while timing')
    return parser


def ort_session(onnx_file: str, threads: int):
    """An ONNX Runtime CPU session for timing.

    Its pool threads do not spin between runs, so that they take no CPU
    from the candidate timed next in an interleaved round.

    Args:
        onnx_file (str): The model.
        threads (int): Intra-op threads.

    Returns:
        onnxruntime.InferenceSession: The session.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry('session.intra_op.allow_spinning', '0')
    return ort.InferenceSession(
        onnx_file, options, providers=['CPUExecutionProvider'])


def ort_call(session, inputs: np.ndarray) -> Callable[[], object]:
    """A no-argument callable running ``session`` on ``inputs``."""
    feed = {session.get_inputs()[0].name: inputs}
    return lambda: session.run(None, feed)


def openvino_model(model_file: str, threads: int):
    """The runtime's OpenVINO backend on ``model_file`` (its ``run(x)`` is
    the call to time)."""
    from mmpose_light_runtime.backends import OpenVINOBackend
    return OpenVINOBackend(model_file, num_threads=threads)

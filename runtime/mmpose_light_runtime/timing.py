"""The timing harness of every benchmark of the project.

Candidates are timed interleaved: each round calls every candidate once, in
turn, so that slow phases of a shared machine hit them alike and the ratios
of their medians stay meaningful where their milliseconds do not. The
harness needs no PyTorch, so that the runtime's engines are timed where
only the runtime is installed; ``mmpose_light.benchmarking`` wraps it to
set PyTorch's thread count for eager candidates.
"""
import statistics
import time
from typing import Callable, Dict, Optional

__all__ = ['compare_latency']


def compare_latency(candidates: Dict[str, Callable[[], object]],
                    rounds: int = 20,
                    warmup: int = 3,
                    progress: Optional[Callable[[int, int], None]] = None
                    ) -> Dict[str, float]:
    """Median wall time of each candidate, measured interleaved.

    Example:
        >>> times = compare_latency({'float': lambda: f(x),
        ...                          'int8': lambda: g(x)})
        >>> speedup = times['float'] / times['int8']

    Args:
        candidates (dict[str, Callable]): Name to a no-argument callable.
        rounds (int): Timed calls per candidate. Defaults to 20.
        warmup (int): Untimed calls per candidate first. Defaults to 3.
        progress (Callable[[int, int], None], optional): Called after each
            round with ``(rounds_done, rounds)``, for long measurements.
            Defaults to None.

    Returns:
        dict[str, float]: Name to median milliseconds per call.
    """
    if not candidates:
        raise ValueError('compare_latency needs at least one candidate')
    _check_count('rounds', rounds, 1)
    _check_count('warmup', warmup, 0)
    times = {name: [] for name in candidates}
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    for done in range(1, rounds + 1):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
        if progress is not None:
            progress(done, rounds)
    return {name: statistics.median(t) for name, t in times.items()}


def _check_count(name: str, value: int, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) \
            or value < minimum:
        raise ValueError(f'`{name}` should be an int >= {minimum}, but got '
                         f'{value!r}')

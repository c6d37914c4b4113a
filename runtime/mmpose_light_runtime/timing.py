"""The timing harness of every benchmark of the project.

Candidates are timed interleaved: each round calls every candidate once, in
turn, so that slow phases of a shared machine hit them alike and the ratios
of their medians stay meaningful where their milliseconds do not. The
harness needs no PyTorch, so that the runtime's engines are timed where
only the runtime is installed; ``benchlib`` wraps it to
set PyTorch's thread count for eager candidates.

:func:`cpu_info` says which CPU a figure comes from: the same files run at
different speeds, and INT8 kernels take different paths, on an AVX2-only
CPU and on one with AVX-512 VNNI or AMX, so every benchmark prints it.
"""
import os
import platform
import statistics
import time
from typing import Any, Callable, Collection, Dict, Optional, Union

from .checks import check_int, check_number

__all__ = [
    'compare_latency', 'cpu_info', 'format_cpu_info', 'usable_cores',
    'CPU_FLAGS'
]

#: The vector extensions that decide which kernels run: AVX2 and FMA for
#: float32, AVX-512 for wider vectors, VNNI (``vpdpbusd``, 512- or 256-bit)
#: for INT8 dot products that cannot saturate, AMX for INT8 tiles.
CPU_FLAGS = ('avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni',
             'amx_tile', 'amx_int8')


def compare_latency(candidates: Dict[str, Callable[[], object]],
                    rounds: int = 20,
                    warmup: int = 3,
                    progress: Optional[Callable[[int, int], None]] = None,
                    settle_ms: float = 0.,
                    rewarm: Union[bool, Collection[str]] = False
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
        settle_ms (float): Pause before each timed call, untimed. Engines
            that keep their idle threads spinning for a while after a call
            (ONNX Runtime does by default) would otherwise take cores from
            the candidate timed next in the same process, which a user
            running one engine never sees. Defaults to 0.
        rewarm (bool | Collection[str]): Call each candidate (True) or the
            named ones once, untimed, right before the timed call (after
            the pause): an engine whose worker threads fall asleep when
            idle (ncnn's OpenMP threads, after 20 ms) is timed awake, as a
            stream of frames keeps it. Defaults to False.

    Returns:
        dict[str, float]: Name to median milliseconds per call.
    """
    if not candidates:
        raise ValueError('compare_latency needs at least one candidate')
    check_int('`rounds`', rounds, 1)
    check_int('`warmup`', warmup, 0)
    settle_ms = check_number('`settle_ms`', settle_ms, low=0)
    times = {name: [] for name in candidates}
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    for done in range(1, rounds + 1):
        for name, fn in candidates.items():
            if settle_ms:
                time.sleep(settle_ms / 1e3)
            if rewarm is True or (rewarm and name in rewarm):
                fn()
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
        if progress is not None:
            progress(done, rounds)
    return {name: statistics.median(t) for name, t in times.items()}


def _parse_cpuinfo(text: str) -> Dict[str, Any]:
    """The model name and the flags of the first processor in the text of
    ``/proc/cpuinfo`` (x86 ``model name`` and ``flags``, ARM
    ``Features``)."""
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break
            continue
        key, _, value = line.partition(':')
        fields.setdefault(key.strip(), value.strip())
    model = fields.get('model name') or None
    flags = (fields.get('flags') or fields.get('Features') or '').split()
    return dict(model=model, flags=set(flags))


def cpu_info() -> Dict[str, Any]:
    """The CPU this process runs on: model, vector extensions, cores.

    Example:
        >>> info = cpu_info()
        >>> 'avx512_vnni' in info['flags']
        True

    Returns:
        dict: ``model`` (str, from ``/proc/cpuinfo``, else what
        :func:`platform.processor` tells), ``flags`` (list[str], those of
        :data:`CPU_FLAGS` the CPU has, in that order; empty where the
        platform does not tell), ``logical_cores`` (int, ``os.cpu_count()``)
        and ``usable_cores`` (int, the cores this process may run on).
    """
    parsed = dict(model=None, flags=set())
    try:
        with open('/proc/cpuinfo') as f:
            parsed = _parse_cpuinfo(f.read())
    except OSError:
        pass
    model = (parsed['model'] or platform.processor() or platform.machine()
             or 'unknown')
    return dict(
        model=model,
        flags=[flag for flag in CPU_FLAGS if flag in parsed['flags']],
        logical_cores=os.cpu_count() or 1,
        usable_cores=usable_cores())


def usable_cores() -> int:
    """The logical cores this process may run on (its CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS and Windows
        return os.cpu_count() or 1


def format_cpu_info(info: Optional[Dict[str, Any]] = None,
                    threads: Optional[object] = None) -> str:
    """One line for the header of a benchmark.

    Args:
        info (dict, optional): A result of :func:`cpu_info`.
            Defaults to None: this CPU's.
        threads (int | str, optional): The threads the benchmark times
            with, added to the line. Defaults to None: not said.

    Returns:
        str: e.g. ``'CPU: AMD EPYC 7B13 (avx2 fma), 2 logical cores'``, and
        ``'; timed with 1 thread(s)'`` with ``threads=1``.
    """
    if info is None:
        info = cpu_info()
    flags = ' '.join(info['flags']) or 'none of ' + ' '.join(CPU_FLAGS)
    cores = f'{info["logical_cores"]} logical cores'
    if info['usable_cores'] != info['logical_cores']:
        cores += f', {info["usable_cores"]} usable'
    line = f'CPU: {info["model"]} ({flags}), {cores}'
    if threads is not None:
        line += f'; timed with {threads} thread(s)'
    return line

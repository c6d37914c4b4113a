"""One memory probe: how far a call raises the process's peak memory.

:func:`peak_growth_mib` resets Linux's peak resident set size (``VmHWM``)
to the current one, runs the call and reads how far the peak rose. A model
is measured in a fresh interpreter (:func:`measure_memory`), so that what
other models allocated before does not hide its peak.
"""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Callable, Dict, Optional, Sequence

__all__ = ['memory_probe_available', 'peak_growth_mib', 'measure_memory']

# What the fresh interpreter of :func:`measure_memory` runs.
_WORKER = ('import json, sys; '
           'from benchlib.memory import _worker; '
           'print(json.dumps(_worker(sys.argv[1], '
           '[int(b) for b in sys.argv[2:]])))')

#: The batch sizes :func:`measure_memory` measures by default.
BATCHES = (1, 32)


def memory_probe_available() -> bool:
    """Whether this system can reset the peak RSS (Linux 4.0+)."""
    return osp.exists('/proc/self/clear_refs')


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def peak_growth_mib(fn: Callable[[], object]) -> float:
    """Growth of the peak RSS during ``fn()`` over the RSS before it, MiB.
    """
    # writing 5 resets VmHWM (the peak RSS) to the current RSS (Linux 4.0+)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    before = _proc_status_kib('VmRSS')
    fn()
    return (_proc_status_kib('VmHWM') - before) / 1024


def _worker(name: str, batches: Sequence[int]) -> Dict[str, float]:
    """Peak memory of one eager forward of a benchmarked model per batch.
    """
    import torch

    from .models import build_model

    model, (height, width) = build_model(name)
    result = {}
    with torch.no_grad():
        for batch in batches:
            x = torch.rand(batch, 3, height, width)
            result[f'mem_b{batch}_mb'] = peak_growth_mib(
                lambda: model._forward(x))
    return result


def measure_memory(name: str,
                   batches: Sequence[int] = BATCHES
                   ) -> Dict[str, Optional[float]]:
    """Peak memory of one eager forward of a model of
    :data:`~benchlib.models.MODELS_TABLE`, in a fresh
    interpreter (all threads).

    Args:
        name (str): The model.
        batches (Sequence[int]): Batch sizes. Defaults to (1, 32).

    Returns:
        dict: ``mem_b{batch}_mb`` per batch (None where it failed), and
        ``note`` saying why, when it failed.
    """
    empty = {f'mem_b{b}_mb': None for b in batches}
    if not memory_probe_available():
        return dict(empty, note='peak memory needs Linux /proc')
    # the interpreter finds this package where this process found it
    package_root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [package_root] + ([env['PYTHONPATH']] if env.get('PYTHONPATH')
                          else []))
    proc = subprocess.run(
        [sys.executable, '-c', _WORKER, name] + [str(b) for b in batches],
        capture_output=True,
        text=True,
        env=env)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ['no output']
        return dict(empty, note=f'memory worker failed: {tail[0]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])

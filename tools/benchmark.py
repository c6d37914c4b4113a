"""Benchmark our pose estimators against MMPose's stock models on this CPU.

Usage::

    python tools/benchmark.py [--models NAME ...] [--reference NAME]
        [--rounds 20] [--skip-onnx [NAME ...]] [--out-dir DIR] [--quick]

Every figure is measured in this one run on this machine:

- size: params and FLOPs of ``model._forward`` (network without
  post-processing) from MMEngine's counter, which counts one multiply-add as
  one FLOP (as MMPose's ``get_flops.py`` and the papers' tables do);
- latency: batch 1, median ms, with 1 thread and with all threads, PyTorch
  eager and ONNX Runtime (CPU execution provider);
- throughput: batch 32, items/s, all threads, both backends;
- peak memory: in a fresh subprocess per model, how far one eager forward
  raises the process's peak resident set size (Linux ``VmHWM``, reset first)
  above its resident size with the model loaded, at batch 1 and 32;
- FLOP rate: multiply-adds per second achieved by each model as a fraction
  of the fp32 matmul peak (a 2048x2048 ``torch.mm``, n^3 multiply-adds per
  call), timed interleaved with the models at the same thread count. The
  peak is the rate of a large GEMM measured here, a practical rather than a
  theoretical limit: kernels that beat ``torch.mm`` on this CPU (ONNX
  Runtime's convolutions can) give fractions slightly above 100%.

Timings are medians of rounds in which every candidate (both backends of
every model, and the matmul) runs once in turn, so that load from other
processes on a shared machine hits them alike: compare ratios, not
milliseconds across runs. Weights are random (speed does not depend on
them); ONNX always holds the deployed form, so training-form rows have no
ONNX Runtime figures. ONNX Runtime's pool threads do not spin between runs,
so that they take no CPU from the candidate timed next. ``--quick`` (for
tests) times few rounds and a 512x512 matmul: its figures are rough.

COCO AP is not measured here: the values are those reported by the papers
and MMPose's model zoo, and are labelled so.

Writes ``benchmark.csv``, ``benchmark.json`` and ``benchmark.png`` (reported
AP against measured latency) to ``--out-dir``, each atomically.
"""
import argparse
import csv
import io
import json
import logging
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import mmpose_light  # noqa: E402,F401  (compat fixes and registration)
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmpose_light.models.utils import reparameterize_model  # noqa: E402
from mmpose_light.utils import (  # noqa: E402
    build_offline, compare_latency, get_complexity)

OURS_DIR = osp.join(ROOT, 'configs', 'body_2d_keypoint')
MPN_CONFIG = osp.join(OURS_DIR, 'topdown_heatmap', 'coco',
                      'td-hm_mobilenetv3-lpb_1xb32-210e_coco-{}.py')
REPNET_CONFIG = osp.join(
    OURS_DIR, 'topdown_regression', 'coco',
    'td-reg_repvgg-{}-fusion_rle-1xb64-210e_coco-256x192.py')
STOCK = 'mmpose::body_2d_keypoint/'

MPN_PAPER = 'MobilePoseNet paper'
REPNET_PAPER = 'RepNet paper, Table 5'
MODEL_ZOO = 'MMPose model zoo'

THROUGHPUT_BATCH = 32
MATMUL_SIZE = 2048


@dataclass(frozen=True)
class ModelSpec:
    """A benchmarked model.

    Args:
        config (str): Config file, or ``mmpose::`` path of a stock config.
        ap (float): COCO val2017 AP as reported by ``ap_source``.
        ap_source (str): Where ``ap`` is reported.
        ours (bool): Whether the model is one of mmpose_light's.
        form (str): ``'train'`` or ``'deploy'`` for re-parameterizable
            models (``'deploy'`` is the training model converted with
            ``reparameterize_model``), ``'-'`` otherwise. Defaults to
            ``'-'``.
    """
    config: str
    ap: float
    ap_source: str
    ours: bool
    form: str = '-'


# Ours first, then MMPose's stock references. AP: COCO val2017, as reported.
MODELS_TABLE: Dict[str, ModelSpec] = {
    'MobilePoseNet-256x192':
    ModelSpec(MPN_CONFIG.format('256x192'), 66.2, MPN_PAPER, True),
    'MobilePoseNet-384x288':
    ModelSpec(MPN_CONFIG.format('384x288'), 69.0, MPN_PAPER, True),
    'RepNet-A-train':
    ModelSpec(REPNET_CONFIG.format('a'), 63.4, REPNET_PAPER, True, 'train'),
    'RepNet-A-deploy':
    ModelSpec(REPNET_CONFIG.format('a'), 63.4, REPNET_PAPER, True, 'deploy'),
    'RepNet-B-train':
    ModelSpec(REPNET_CONFIG.format('b'), 66.1, REPNET_PAPER, True, 'train'),
    'RepNet-B-deploy':
    ModelSpec(REPNET_CONFIG.format('b'), 66.1, REPNET_PAPER, True, 'deploy'),
    'SimpleBaseline-R50':
    ModelSpec(
        STOCK + 'topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py',
        71.8, MODEL_ZOO, False),
    'SimpleBaseline-MNv2':
    ModelSpec(
        STOCK + 'topdown_heatmap/coco/'
        'td-hm_mobilenetv2_8xb64-210e_coco-256x192.py', 64.8, MODEL_ZOO,
        False),
    'LiteHRNet-18':
    ModelSpec(
        STOCK + 'topdown_heatmap/coco/'
        'td-hm_litehrnet-18_8xb64-210e_coco-256x192.py', 64.2, MODEL_ZOO,
        False),
    'RTMPose-t':
    ModelSpec(STOCK + 'rtmpose/coco/rtmpose-t_8xb256-420e_coco-256x192.py',
              68.2, MODEL_ZOO, False),
    'RTMPose-s':
    ModelSpec(STOCK + 'rtmpose/coco/rtmpose-s_8xb256-420e_coco-256x192.py',
              71.6, MODEL_ZOO, False),
    'RLE-R50':
    ModelSpec(
        STOCK + 'topdown_regression/coco/'
        'td-reg_res50_rle-8xb64-210e_coco-256x192.py', 70.6, MODEL_ZOO,
        False),
}

# Column name to its meaning, written to the JSON next to the rows.
COLUMNS: Dict[str, str] = {
    'model': 'model name',
    'ours': 'whether the model is one of mmpose_light\'s',
    'form': 'train / deploy for re-parameterizable models, - otherwise',
    'input': 'input size HxW',
    'ap_reported': 'COCO val2017 AP as reported (not measured here)',
    'ap_source': 'where ap_reported is reported',
    'params': 'parameters (MMEngine counter)',
    'flops': 'FLOPs of model._forward at batch 1 (MMEngine counter: one '
    'multiply-add counts as one FLOP)',
    'torch_b1_1t_ms': 'PyTorch eager, batch 1, 1 thread, median ms',
    'ort_b1_1t_ms': 'ONNX Runtime, batch 1, 1 thread, median ms',
    'torch_b1_all_ms': 'PyTorch eager, batch 1, all threads, median ms',
    'ort_b1_all_ms': 'ONNX Runtime, batch 1, all threads, median ms',
    'torch_b32_ips': 'PyTorch eager, batch 32, all threads, items/s',
    'ort_b32_ips': 'ONNX Runtime, batch 32, all threads, items/s',
    'ort_speedup_b1_1t': 'torch_b1_1t_ms / ort_b1_1t_ms',
    'ort_speedup_b1_all': 'torch_b1_all_ms / ort_b1_all_ms',
    'torch_b1_1t_peak_frac': 'multiply-adds/s achieved by torch_b1_1t, as '
    'a fraction of the 1-thread matmul multiply-adds/s',
    'ort_b1_1t_peak_frac': 'same for ort_b1_1t',
    'torch_b1_all_peak_frac': 'same for torch_b1_all (all-thread matmul)',
    'ort_b1_all_peak_frac': 'same for ort_b1_all (all-thread matmul)',
    'torch_b32_peak_frac': 'same for torch_b32 (all-thread matmul)',
    'ort_b32_peak_frac': 'same for ort_b32 (all-thread matmul)',
    'mem_b1_mb': 'peak RSS growth of one eager forward at batch 1 over the '
    'RSS with the model loaded, MiB (fresh subprocess, all threads)',
    'mem_b32_mb': 'same at batch 32',
    'onnx_max_abs_err': 'max |ONNX Runtime - PyTorch| of the exported '
    'graph (export check)',
    'params_vs_ref': 'params / reference params',
    'flops_vs_ref': 'flops / reference flops',
    'torch_b1_1t_vs_ref': 'speed vs reference, PyTorch eager batch 1 1 '
    'thread: reference ms / model ms (> 1 is faster)',
    'ort_b1_1t_vs_ref': 'same for ONNX Runtime batch 1 1 thread',
    'torch_b32_vs_ref': 'model items/s / reference items/s, PyTorch eager '
    'batch 32',
    'ort_b32_vs_ref': 'same for ONNX Runtime batch 32',
    'note': 'remarks (skipped or failed measurements)',
}

# The timing stages: (key, batch, threads: '1t' for one, 'all').
STAGES = (('b1_1t', 1, '1t'), ('b1_all', 1, 'all'),
          ('b32', THROUGHPUT_BATCH, 'all'))


# Stock layers call the deprecated ``torch.cuda.amp.autocast`` on every
# forward; the warning says nothing about the benchmark.
warnings.filterwarnings(
    'ignore', message=r'`torch\.cuda\.amp\.autocast', category=FutureWarning)
warnings.filterwarnings(
    'ignore', message='In MMCV v1.4.4, we modified', category=UserWarning)


def progress(message: str) -> None:
    """Print a progress line at once."""
    print(message, flush=True)


@contextmanager
def quiet_mmengine() -> Iterator[None]:
    """Hide MMEngine's info and warnings (weight-init dumps, operators
    the FLOP counter skips, as MMPose's ``get_flops.py`` also skips them)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def input_hw(cfg: Config) -> Tuple[int, int]:
    """Input (H, W) of a config, from its codec's ``input_size`` (W, H)."""
    codec = cfg.get('codec') or cfg.model.head.decoder
    width, height = codec['input_size']
    return int(height), int(width)


def build_model(name: str) -> Tuple[nn.Module, Tuple[int, int]]:
    """Build a benchmarked model on CPU in eval mode, random weights.

    Args:
        name (str): A key of :data:`MODELS_TABLE`.

    Returns:
        tuple[nn.Module, tuple[int, int]]: The estimator and its input
        (H, W).
    """
    if name not in MODELS_TABLE:
        raise ValueError(f'unknown model {name!r}; choose from: '
                         f'{", ".join(MODELS_TABLE)}')
    spec = MODELS_TABLE[name]
    with quiet_mmengine():
        model, cfg = build_offline(spec.config)
    if spec.form == 'deploy':
        model = reparameterize_model(model, inplace=True)
    return model.eval(), input_hw(cfg)


def all_threads() -> int:
    """The thread count used for 'all threads' (torch's default)."""
    return torch.get_num_threads()


# --------------------------------------------------------------------------
# Peak memory, in a fresh subprocess per model
# --------------------------------------------------------------------------
def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _forward_peak_mib(fn: Callable[[], object]) -> float:
    """Growth of the peak RSS during ``fn()`` over the RSS before it."""
    # writing 5 resets VmHWM (the peak RSS) to the current RSS (Linux 4.0+)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    before = _proc_status_kib('VmRSS')
    fn()
    return (_proc_status_kib('VmHWM') - before) / 1024


def memory_worker(name: str) -> None:
    """Print the peak memory of one model as JSON (subprocess entry)."""
    model, (height, width) = build_model(name)
    result = {}
    with torch.no_grad():
        for batch in (1, THROUGHPUT_BATCH):
            x = torch.rand(batch, 3, height, width)
            result[f'mem_b{batch}_mb'] = _forward_peak_mib(
                lambda: model._forward(x))
    print(json.dumps(result))


def measure_memory(name: str) -> Dict[str, Optional[float]]:
    """Run :func:`memory_worker` for ``name`` in a fresh interpreter."""
    empty = {f'mem_b{b}_mb': None for b in (1, THROUGHPUT_BATCH)}
    if not osp.exists('/proc/self/clear_refs'):
        return dict(empty, note='peak memory needs Linux /proc')
    proc = subprocess.run(
        [sys.executable, osp.abspath(__file__), '--memory-worker', name],
        capture_output=True,
        text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ['no output']
        progress(f'  peak memory of {name} failed: {tail[0]}')
        return dict(empty, note=f'memory worker failed: {tail[0]}')
    progress(f'  peak memory of {name} measured')
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------
@contextmanager
def stderr_fd_to_devnull() -> Iterator[None]:
    """Discard what is written to file descriptor 2, C++ code included.

    On failure PyTorch's TorchScript ONNX exporter logs the whole traced
    graph (thousands of lines), to stdout unless told otherwise; it is sent
    here and dropped, and the first line of the exception is reported
    instead.
    """
    set_stream = getattr(torch._C, '_jit_set_onnx_log_output_stream', None)
    if set_stream is not None:
        set_stream('stderr')
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, 'w') as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def ort_sessions(model: nn.Module, hw: Tuple[int, int], onnx_file: str,
                 threads: Sequence[int]) -> Tuple[dict, float]:
    """Export ``model`` and open one ONNX Runtime session per thread count.

    Returns:
        tuple[dict, float]: Thread count to session, and the export check's
        max absolute error.
    """
    import onnxruntime as ort

    from mmpose_light.deploy import export_onnx

    with warnings.catch_warnings(), stderr_fd_to_devnull():
        warnings.simplefilter('ignore')
        check = export_onnx(
            model, onnx_file, input_shape=(1, 3, *hw), check=True)
    sessions = {}
    for n in threads:
        options = ort.SessionOptions()
        options.intra_op_num_threads = n
        options.inter_op_num_threads = 1
        # Spinning pool threads would take CPU from the candidate timed
        # next in an interleaved round.
        options.add_session_config_entry('session.intra_op.allow_spinning',
                                         '0')
        sessions[n] = ort.InferenceSession(
            onnx_file, options, providers=['CPUExecutionProvider'])
    return sessions, check['max_abs_err']


def ort_call(session, x: np.ndarray) -> Callable[[], object]:
    """A no-argument callable running ``session`` on ``x``."""
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename."""
    folder = osp.dirname(osp.abspath(path))
    fd, tmp = tempfile.mkstemp(
        prefix='.' + osp.basename(path), suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        # mkstemp creates the file private; give it the usual permissions
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def csv_bytes(rows: List[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: '' if v is None else v for k, v in row.items()})
    return buf.getvalue().encode()


def plot_bytes(rows: List[dict], machine: str) -> bytes:
    """PNG of reported AP against measured batch-1, 1-thread latency."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f'{v:g}')
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), sharex=True, sharey=True)
    for ax, backend, label in ((axes[0], 'torch', 'PyTorch eager'),
                               (axes[1], 'ort', 'ONNX Runtime')):
        key = f'{backend}_b1_1t_ms'
        for row in rows:
            if row[key] is None:
                continue
            color = 'C0' if row['ours'] else 'C1'
            ax.scatter(
                row[key],
                row['ap_reported'],
                marker='o' if row['ours'] else 's',
                facecolors='none' if row['form'] == 'train' else color,
                edgecolors=color,
                s=50)
            # a training form shares its AP with its deploy form: label it
            # below the point so that the two labels do not overlap
            train = row['form'] == 'train'
            ax.annotate(
                row['model'], (row[key], row['ap_reported']),
                textcoords='offset points',
                xytext=(5, -10 if train else 4),
                fontsize=7)
        ax.set_xscale('log')
        ax.xaxis.set_major_formatter(plain)
        ax.xaxis.set_minor_formatter(plain)
        ax.tick_params(axis='x', which='minor', labelsize=7)
        ax.margins(x=0.2, y=0.08)
        ax.set_xlabel('latency, batch 1, 1 thread (ms, measured)')
        ax.set_title(label)
        ax.grid(True, which='both', alpha=0.3)
    axes[0].set_ylabel('COCO val2017 AP (reported)')
    handles = [
        plt.Line2D([], [], marker='o', color='C0', ls='', label='ours'),
        plt.Line2D([], [],
                   marker='o',
                   mfc='none',
                   color='C0',
                   ls='',
                   label='ours, training form'),
        plt.Line2D([], [], marker='s', color='C1', ls='',
                   label='MMPose stock'),
    ]
    fig.legend(handles=handles, loc='upper right', fontsize=8)
    fig.suptitle(f'Reported COCO AP vs latency measured on {machine}')
    fig.text(
        0.5,
        0.01,
        'AP as reported by the papers (MobilePoseNet; RepNet, Table 5) and '
        'MMPose\'s model zoo, not measured here.\nLatency measured in one '
        'run with random weights; only ratios within a run mean anything. '
        'Models without an ONNX Runtime figure are absent on the right.',
        ha='center',
        fontsize=8)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=120)
    plt.close(fig)
    return buf.getvalue()


def fmt(value: Optional[float], spec: str) -> str:
    return '-' if value is None else format(value, spec)


def print_table(header: Sequence[str], lines: List[Sequence[str]]) -> None:
    widths = [
        max(len(h), *(len(line[i]) for line in lines))
        for i, h in enumerate(header)
    ]
    row_fmt = '  '.join(['{:<%d}' % widths[0]] +
                        ['{:>%d}' % w for w in widths[1:]])
    print(row_fmt.format(*header))
    print('  '.join('-' * w for w in widths))
    for line in lines:
        print(row_fmt.format(*line))


def report(rows: List[dict], result: dict) -> None:
    """Print the tables and the goal checks."""
    ref = result['reference']
    peaks = result['matmul_peak_gmacs']
    threads = result['machine']['all_threads']
    print(f'\nMachine: {result["machine"]["cpu"]}; all threads = {threads}; '
          f'torch {torch.__version__}, onnxruntime '
          f'{result["machine"]["onnxruntime"]}')
    print('fp32 matmul peak ({0}x{0}, n^3 multiply-adds per call): '.format(
        result['settings']['matmul_size']) + '; '.join(
            f'{stage} {peaks[stage]:.1f} GMAC/s '
            f'({2 * peaks[stage]:.1f} GFLOP/s)' for stage in peaks))
    print('FLOPs are MMEngine\'s (1 multiply-add = 1 FLOP), so model '
          'GMAC/s are compared with matmul GMAC/s.')
    print(f'AP: COCO val2017 as reported (papers, MMPose model zoo), not '
          f'measured. Ratios: vs reference {ref}.')

    print('\nSize and batch-1 latency (median ms)')
    header = ('model', 'params', 'GFLOPs', 'AP(rep)', 'eager 1t', 'ORT 1t',
              'ORT x', 'eager all', 'ORT all', 'ORT x', 'size/ref',
              'speed/ref')
    lines = []
    for r in rows:
        lines.append(
            (r['model'], f'{r["params"] / 1e6:.2f}M',
             f'{r["flops"] / 1e9:.3f}', f'{r["ap_reported"]:.1f}',
             fmt(r['torch_b1_1t_ms'], '.1f'), fmt(r['ort_b1_1t_ms'], '.1f'),
             fmt(r['ort_speedup_b1_1t'], '.2f'),
             fmt(r['torch_b1_all_ms'], '.1f'), fmt(r['ort_b1_all_ms'],
                                                   '.1f'),
             fmt(r['ort_speedup_b1_all'], '.2f'),
             fmt(r['params_vs_ref'], '.2f'),
             fmt(r['torch_b1_1t_vs_ref'], '.2f')))
    print_table(header, lines)
    print('ORT x: eager ms / ORT ms; size/ref: params / reference params; '
          'speed/ref: reference eager 1t ms / model eager 1t ms.')

    print(f'\nBatch-{THROUGHPUT_BATCH} throughput (items/s, all threads), '
          'peak memory (MiB), fraction of the matmul peak')
    header = ('model', 'eager b32', 'ORT b32', 'b32/ref', 'mem b1',
              'mem b32', 'peak eager 1t', 'peak ORT 1t', 'peak ORT b32',
              'note')
    lines = []
    for r in rows:
        lines.append(
            (r['model'], fmt(r['torch_b32_ips'], '.1f'),
             fmt(r['ort_b32_ips'], '.1f'), fmt(r['torch_b32_vs_ref'], '.2f'),
             fmt(r['mem_b1_mb'], '.1f'), fmt(r['mem_b32_mb'], '.0f'),
             fmt(r['torch_b1_1t_peak_frac'], '.1%'),
             fmt(r['ort_b1_1t_peak_frac'], '.1%'),
             fmt(r['ort_b32_peak_frac'], '.1%'), r['note']))
    print_table(header, lines)
    print('b32/ref: eager items/s / reference eager items/s; mem: peak RSS '
          'growth of one eager forward over the loaded model; peak: model '
          'GMAC/s / matmul GMAC/s at the same thread count (above 100%: '
          'faster than torch.mm\'s GEMM here).')

    ours = [r for r in rows if r['ours'] and r['form'] != 'train']
    if ours:
        print('\nGoal: ONNX Runtime >= 1.3x PyTorch eager at batch 1 '
              '(our models)')
        for r in ours:
            for key, label in (('ort_speedup_b1_1t', '1 thread'),
                               ('ort_speedup_b1_all', 'all threads')):
                value = r[key]
                verdict = ('not measured' if value is None else
                           'met' if value >= 1.3 else 'NOT met')
                print(f'  {r["model"]:<22} {label:<12} '
                      f'{fmt(value, ".2f"):>5}x  {verdict}')
        print('Our deployed models: achieved fraction of the matmul peak '
              '(model GMAC/s / matmul GMAC/s)')
        for r in ours:
            print(f'  {r["model"]:<22} eager 1t '
                  f'{fmt(r["torch_b1_1t_peak_frac"], ".1%")}, ORT 1t '
                  f'{fmt(r["ort_b1_1t_peak_frac"], ".1%")}, ORT all '
                  f'{fmt(r["ort_b1_all_peak_frac"], ".1%")}, ORT b32 '
                  f'{fmt(r["ort_b32_peak_frac"], ".1%")}')


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark our pose estimators and MMPose\'s stock ones '
        'on this CPU (size, latency, throughput, memory, FLOP rate)')
    parser.add_argument(
        '--models',
        nargs='+',
        choices=list(MODELS_TABLE),
        default=list(MODELS_TABLE),
        metavar='NAME',
        help='models to benchmark (default: all): ' +
        ', '.join(MODELS_TABLE))
    parser.add_argument(
        '--reference',
        choices=list(MODELS_TABLE),
        metavar='NAME',
        help='model the ratios refer to (default: RTMPose-t if benchmarked, '
        'else the first model)')
    parser.add_argument(
        '--rounds',
        type=int,
        help='timed rounds at batch 1 (default 20, 3 with --quick); batch '
        f'{THROUGHPUT_BATCH} uses a quarter of them')
    parser.add_argument(
        '--skip-onnx',
        nargs='*',
        choices=list(MODELS_TABLE),
        metavar='NAME',
        help='no ONNX export / ONNX Runtime timing; for the models named, '
        'or for all when none is named')
    parser.add_argument(
        '--out-dir',
        default=osp.join('work_dirs', 'benchmark'),
        help='where the CSV, JSON and PNG go (default: %(default)s)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='few rounds and a smaller matmul, for tests; figures are rough')
    parser.add_argument(
        '--memory-worker', metavar='NAME', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_worker is not None:
        return args
    if len(set(args.models)) != len(args.models):
        parser.error('--models lists a model twice')
    if args.reference is None:
        args.reference = ('RTMPose-t'
                          if 'RTMPose-t' in args.models else args.models[0])
    elif args.reference not in args.models:
        parser.error(f'--reference {args.reference!r} is not among --models '
                     f'({", ".join(args.models)})')
    if args.rounds is None:
        args.rounds = 3 if args.quick else 20
    if args.rounds < 1:
        parser.error(f'--rounds must be >= 1, got {args.rounds}')
    if args.skip_onnx is None:
        args.skip_onnx = []
    elif not args.skip_onnx:
        args.skip_onnx = list(args.models)
    return args


def prepare(name: str, tag: str, args: argparse.Namespace, threads: int,
            notes: List[str], torch_calls: Dict[str, Dict[str, Callable]],
            ort_calls: Dict[str, Dict[str, Callable]], tmp_dir: str) -> dict:
    """Build one model, count it, export it and register its timed calls.

    Args:
        name (str): The model.
        tag (str): Prefix of its progress lines.
        args (argparse.Namespace): The parsed options.
        threads (int): The 'all threads' count.
        notes (list[str]): Remarks on the model, appended to.
        torch_calls (dict): Stage to model name to an eager call, filled.
        ort_calls (dict): Stage to model name to an ONNX Runtime call,
            filled where the model is exported.
        tmp_dir (str): Where the ONNX file goes.

    Returns:
        dict: The model's row, without timings and memory yet.
    """
    spec = MODELS_TABLE[name]
    progress(f'{tag}: build')
    model, hw = build_model(name)
    progress(f'{tag}: params and FLOPs')
    with quiet_mmengine():
        params, flops = get_complexity(model, (3, *hw))
    row = dict.fromkeys(COLUMNS)
    row.update(
        model=name,
        ours=spec.ours,
        form=spec.form,
        input=f'{hw[0]}x{hw[1]}',
        ap_reported=spec.ap,
        ap_source=spec.ap_source,
        params=params,
        flops=flops)
    inputs = {b: torch.rand(b, 3, *hw) for b in (1, THROUGHPUT_BATCH)}
    for stage, batch, _ in STAGES:
        torch_calls[stage][name] = (
            lambda m=model, x=inputs[batch]: m._forward(x))
    if spec.form == 'train':
        notes.append('ONNX holds the deploy form')
    elif name in args.skip_onnx:
        notes.append('ONNX skipped')
    else:
        progress(f'{tag}: ONNX export and check')
        try:
            sessions, err = ort_sessions(
                model, hw, osp.join(tmp_dir, f'{name}.onnx'),
                sorted({1, threads}))
        except Exception as e:  # keep the other models' figures
            notes.append(f'ONNX export failed ({type(e).__name__})')
            # the exporter's message can hold the whole traced graph
            reason = (str(e).strip().splitlines() or [''])[0][:300]
            progress(f'{tag}: ONNX export failed: {reason}')
        else:
            row['onnx_max_abs_err'] = err
            for stage, batch, thr in STAGES:
                session = sessions[1 if thr == '1t' else threads]
                ort_calls[stage][name] = ort_call(
                    session, inputs[batch].numpy())
    return row


def cpu_name() -> str:
    """The CPU model name, as far as the platform tells."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run(args: argparse.Namespace) -> dict:
    """Measure everything; return the JSON-serialisable result."""
    import onnxruntime as ort

    threads = all_threads()
    names = args.models
    n = len(names)
    rounds = {
        'b1_1t': args.rounds,
        'b1_all': args.rounds,
        'b32': max(1, args.rounds // 4)
    }
    # batch 32 needs one call to settle, and each call is long
    warmup = {
        'b1_1t': 1 if args.quick else 3,
        'b1_all': 1 if args.quick else 3,
        'b32': 1
    }
    matmul_n = 512 if args.quick else MATMUL_SIZE

    rows = {}
    torch_calls: Dict[str, Dict[str, Callable]] = {s[0]: {} for s in STAGES}
    ort_calls: Dict[str, Dict[str, Callable]] = {s[0]: {} for s in STAGES}
    notes: Dict[str, List[str]] = {name: [] for name in names}
    tmp_dir = tempfile.TemporaryDirectory()
    start = time.perf_counter()
    # One fresh interpreter per model, one at a time, while this process
    # builds and exports (nothing is timed before they have all finished).
    progress(f'Peak memory: {n} subprocess(es) in the background')
    with ThreadPoolExecutor(max_workers=1) as pool:
        memory = {name: pool.submit(measure_memory, name) for name in names}
        for i, name in enumerate(names, 1):
            rows[name] = prepare(name, f'[{i}/{n}] {name}', args, threads,
                                 notes[name], torch_calls, ort_calls,
                                 tmp_dir.name)
        progress('Waiting for the peak-memory subprocesses')
        for name in names:
            result = memory[name].result()
            if 'note' in result:
                notes[name].append(result.pop('note'))
            rows[name].update(result)
            rows[name]['note'] = '; '.join(notes[name])

    peaks = {}
    a = torch.rand(matmul_n, matmul_n)
    b = torch.rand(matmul_n, matmul_n)
    for s, (stage, batch, thr) in enumerate(STAGES, 1):
        candidates = {'matmul': lambda: torch.mm(a, b)}
        for name in names:
            candidates[f'torch/{name}'] = torch_calls[stage][name]
            if name in ort_calls[stage]:
                candidates[f'ort/{name}'] = ort_calls[stage][name]
        n_thr = 1 if thr == '1t' else threads
        progress(f'[stage {s}/{len(STAGES)}] batch {batch}, {n_thr} '
                 f'thread(s): {len(candidates)} candidates (incl. matmul) x '
                 f'{rounds[stage]} interleaved rounds')
        last = [time.perf_counter()]

        def on_round(done: int, total: int) -> None:
            now = time.perf_counter()
            if now - last[0] >= 5 or done == total:
                last[0] = now
                progress(f'  round {done}/{total} '
                         f'({now - start:.0f} s elapsed)')

        times = compare_latency(
            candidates,
            rounds=rounds[stage],
            warmup=warmup[stage],
            threads=n_thr,
            progress=on_round)
        peak = matmul_n**3 / (times['matmul'] / 1e3)
        peaks[stage] = peak / 1e9
        for name in names:
            row = rows[name]
            for backend in ('torch', 'ort'):
                ms = times.get(f'{backend}/{name}')
                if ms is None:
                    continue
                if batch == 1:
                    row[f'{backend}_{stage}_ms'] = ms
                else:
                    row[f'{backend}_{stage}_ips'] = batch / (ms / 1e3)
                achieved = row['flops'] * batch / (ms / 1e3)
                row[f'{backend}_{stage}_peak_frac'] = achieved / peak

    ref = rows[args.reference]
    for row in rows.values():
        for key in ('1t', 'all'):
            t, o = row[f'torch_b1_{key}_ms'], row[f'ort_b1_{key}_ms']
            if o is not None:
                row[f'ort_speedup_b1_{key}'] = t / o
        row['params_vs_ref'] = row['params'] / ref['params']
        row['flops_vs_ref'] = row['flops'] / ref['flops']
        for backend in ('torch', 'ort'):
            ms, ref_ms = (row[f'{backend}_b1_1t_ms'],
                          ref[f'{backend}_b1_1t_ms'])
            if ms is not None and ref_ms is not None:
                row[f'{backend}_b1_1t_vs_ref'] = ref_ms / ms
            ips, ref_ips = (row[f'{backend}_b32_ips'],
                            ref[f'{backend}_b32_ips'])
            if ips is not None and ref_ips is not None:
                row[f'{backend}_b32_vs_ref'] = ips / ref_ips
    tmp_dir.cleanup()

    return dict(
        machine=dict(
            cpu=cpu_name(),
            all_threads=threads,
            torch=torch.__version__,
            onnxruntime=ort.__version__,
            python=platform.python_version()),
        settings=dict(
            rounds=rounds,
            warmup=warmup,
            quick=args.quick,
            throughput_batch=THROUGHPUT_BATCH,
            matmul_size=matmul_n),
        reference=args.reference,
        matmul_peak_gmacs=peaks,
        elapsed_s=time.perf_counter() - start,
        columns=COLUMNS,
        rows=list(rows.values()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.memory_worker is not None:
        memory_worker(args.memory_worker)
        return 0
    os.makedirs(args.out_dir, exist_ok=True)
    result = run(args)
    rows = result['rows']
    report(rows, result)
    paths = {
        ext: osp.join(args.out_dir, f'benchmark.{ext}')
        for ext in ('csv', 'json', 'png')
    }
    atomic_write(paths['csv'], csv_bytes(rows))
    atomic_write(paths['json'],
                 json.dumps(result, indent=2).encode() + b'\n')
    atomic_write(paths['png'], plot_bytes(rows, result['machine']['cpu']))
    print(f'\nTook {result["elapsed_s"]:.0f} s. Wrote ' +
          ', '.join(paths.values()))
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""The benchmark suite: our models and MMPose's on this CPU, every engine.

Every figure is measured in one run on this machine:

- size: params and FLOPs of ``model._forward`` (network without
  post-processing) from MMEngine's counter, which counts one multiply-add as
  one FLOP (as MMPose's ``get_flops.py`` and the papers' tables do);
- latency: batch 1, median ms, with 1 thread and with all threads, on each
  engine of :data:`ENGINES`: PyTorch eager, ONNX Runtime, ONNX Runtime on
  the INT8 model, OpenVINO and OpenVINO on the INT8 model;
- throughput: batch 32, items/s, all threads, every engine;
- peak memory: in a fresh subprocess per model, how far one eager forward
  raises the process's peak resident set size above its resident size with
  the model loaded, at batch 1 and 32 (:mod:`.memory`);
- FLOP rate: multiply-adds per second achieved by each float engine as a
  fraction of the fp32 matmul peak (a 2048x2048 ``torch.mm``, n^3
  multiply-adds per call), timed interleaved with the models at the same
  thread count. The peak is the rate of a large GEMM measured here, a
  practical rather than a theoretical limit: kernels that beat ``torch.mm``
  on this CPU (ONNX Runtime's convolutions can) give fractions slightly
  above 100%.

Timings are medians of rounds in which every candidate (every engine of
every model, and the matmul) runs once in turn, so that load from other
processes on a shared machine hits them alike: compare ratios, not
milliseconds across runs. Weights are random with BatchNorm statistics from
a forward pass (:func:`~.models.calibrate_batchnorm`): speed does not
depend on the weights. ONNX always holds the deployed form, so training-form
rows have no ONNX figures. The INT8 model is
:func:`mmpose_light_runtime.quantize.quantize_model` of the float ONNX file,
calibrated on the whole frames of the bundled MPII sample; what INT8 costs
in accuracy is measured on trained models by ``tools/quantize.py``, not
here. ``quick`` (for tests) times few rounds and a 512x512 matmul: its
figures are rough.

COCO AP is not measured here: the values are those reported by the papers
and MMPose's model zoo for the float models, and are labelled so.
"""
import os.path as osp
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Callable, Dict, List, Optional, Sequence

import torch

from .profiling import get_complexity
from .memory import BATCHES, measure_memory
from .models import (MODELS_TABLE, SAMPLE_DIR, build_model, export_model,
                     quiet_mmengine)
from .report import fmt, machine_info, print_table
from .timing import compare_latency, openvino_model, ort_call, ort_session

__all__ = [
    'ENGINES', 'FLOAT_ENGINES', 'STAGES', 'COLUMNS', 'THROUGHPUT_BATCH',
    'available_engines', 'run_suite', 'print_report'
]

THROUGHPUT_BATCH = BATCHES[-1]
MATMUL_SIZE = 2048
#: The images the INT8 models are calibrated on (whole frames).
CALIB_IMAGES = osp.join(SAMPLE_DIR, 'mpii')

#: Engine key to its name in tables.
ENGINES: Dict[str, str] = {
    'torch': 'PyTorch eager',
    'ort': 'ONNX Runtime',
    'ort_int8': 'ONNX Runtime INT8',
    'ov': 'OpenVINO',
    'ov_int8': 'OpenVINO INT8',
}
#: The engines that run the float network (their FLOP rate is compared with
#: the fp32 matmul peak).
FLOAT_ENGINES = ('torch', 'ort', 'ov')

# The timing stages: (key, batch, threads: '1t' for one, 'all').
STAGES = (('b1_1t', 1, '1t'), ('b1_all', 1, 'all'),
          ('b32', THROUGHPUT_BATCH, 'all'))


def _engine_columns() -> Dict[str, str]:
    columns = {}
    for engine, label in ENGINES.items():
        columns[f'{engine}_b1_1t_ms'] = f'{label}, batch 1, 1 thread, ' \
            'median ms'
        columns[f'{engine}_b1_all_ms'] = f'{label}, batch 1, all threads, ' \
            'median ms'
        columns[f'{engine}_b32_ips'] = f'{label}, batch 32, all threads, ' \
            'items/s'
    return columns


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
    **_engine_columns(),
    'ort_speedup_b1_1t': 'torch_b1_1t_ms / ort_b1_1t_ms',
    'ort_speedup_b1_all': 'torch_b1_all_ms / ort_b1_all_ms',
    'int8_speedup_b1_1t': 'ort_b1_1t_ms / ort_int8_b1_1t_ms: ONNX Runtime '
    'INT8 against float',
    'int8_speedup_b1_all': 'ort_b1_all_ms / ort_int8_b1_all_ms',
    'int8_speedup_b32': 'ort_int8_b32_ips / ort_b32_ips',
    'ov_vs_ort_b1_1t': 'ort_b1_1t_ms / ov_b1_1t_ms: OpenVINO against ONNX '
    'Runtime, float',
    'ov_int8_vs_ort_b1_1t': 'ort_b1_1t_ms / ov_int8_b1_1t_ms: OpenVINO '
    'INT8 against ONNX Runtime float',
    'torch_b1_1t_peak_frac': 'multiply-adds/s achieved by torch_b1_1t, as '
    'a fraction of the 1-thread matmul multiply-adds/s',
    'ort_b1_1t_peak_frac': 'same for ort_b1_1t',
    'ov_b1_1t_peak_frac': 'same for ov_b1_1t',
    'torch_b1_all_peak_frac': 'same for torch_b1_all (all-thread matmul)',
    'ort_b1_all_peak_frac': 'same for ort_b1_all (all-thread matmul)',
    'ov_b1_all_peak_frac': 'same for ov_b1_all (all-thread matmul)',
    'torch_b32_peak_frac': 'same for torch_b32 (all-thread matmul)',
    'ort_b32_peak_frac': 'same for ort_b32 (all-thread matmul)',
    'ov_b32_peak_frac': 'same for ov_b32 (all-thread matmul)',
    'mem_b1_mb': 'peak RSS growth of one eager forward at batch 1 over the '
    'RSS with the model loaded, MiB (fresh subprocess, all threads)',
    'mem_b32_mb': 'same at batch 32',
    'onnx_max_abs_err': 'max |ONNX Runtime - PyTorch| of the exported '
    'graph (export check)',
    'int8_float_nodes': 'nodes the INT8 model keeps in float',
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


def available_engines() -> List[str]:
    """The engines of :data:`ENGINES` installed here (OpenVINO is
    optional)."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return [e for e in ENGINES if not e.startswith('ov')]
    return list(ENGINES)


def _progress(message: str) -> None:
    print(message, flush=True)


def _onnx_engines(name: str, model, hw, engines: Sequence[str],
                  threads: Sequence[int], folder: str, row: dict,
                  notes: List[str], tag: str) -> Dict[tuple, Callable]:
    """Export (and quantize) one model; engine and thread count to a
    function of the input batch giving the call to time."""
    from mmpose_light_runtime.quantize import quantize_model

    float_file = osp.join(folder, f'{name}.onnx')
    int8_file = osp.join(folder, f'{name}_int8.onnx')
    _progress(f'{tag}: ONNX export and check')
    try:
        row['onnx_max_abs_err'] = export_model(model, hw, float_file)
    except Exception as e:  # keep the other models' figures
        notes.append(f'ONNX export failed ({type(e).__name__})')
        # the exporter's message can hold the whole traced graph
        reason = (str(e).strip().splitlines() or [''])[0][:300]
        _progress(f'{tag}: ONNX export failed: {reason}')
        return {}
    files = {'ort': float_file, 'ov': float_file}
    if {'ort_int8', 'ov_int8'} & set(engines):
        _progress(f'{tag}: INT8 quantization (calibration: {CALIB_IMAGES})')
        try:
            info = quantize_model(float_file, int8_file, CALIB_IMAGES)
        except Exception as e:
            notes.append(f'INT8 quantization failed ({type(e).__name__})')
            _progress(f'{tag}: INT8 quantization failed: {e}')
        else:
            row['int8_float_nodes'] = ' '.join(info['float_nodes'])
            files.update(ort_int8=int8_file, ov_int8=int8_file)
    calls = {}
    for engine in engines:
        if engine == 'torch' or engine not in files:
            continue
        for n in threads:
            if engine.startswith('ort'):
                session = ort_session(files[engine], n)
                calls[engine, n] = (
                    lambda x, s=session: ort_call(s, x.numpy()))
            else:
                backend = openvino_model(files[engine], n)
                calls[engine, n] = (
                    lambda x, b=backend: partial(b.run, x.numpy()))
    return calls


def _prepare(name: str, tag: str, engines: Sequence[str], skip_onnx: bool,
             threads: int, notes: List[str],
             calls: Dict[str, Dict[str, Callable]], folder: str) -> dict:
    """Build one model, count it, export it and register its timed calls.
    """
    spec = MODELS_TABLE[name]
    _progress(f'{tag}: build')
    model, hw = build_model(name, calibrate=True)
    _progress(f'{tag}: params and FLOPs')
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
    if 'torch' in engines:
        for stage, batch, _ in STAGES:
            calls[stage][f'torch/{name}'] = (
                lambda m=model, x=inputs[batch]: m._forward(x))
    if not set(engines) - {'torch'}:
        return row
    if spec.form == 'train':
        notes.append('ONNX holds the deploy form')
        return row
    if skip_onnx:
        notes.append('ONNX skipped')
        return row
    made = _onnx_engines(name, model, hw, engines, sorted({1, threads}),
                         folder, row, notes, tag)
    for stage, batch, thr in STAGES:
        for engine in engines:
            make = made.get((engine, 1 if thr == '1t' else threads))
            if make is not None:
                calls[stage][f'{engine}/{name}'] = make(inputs[batch])
    return row


def _derive(rows: Dict[str, dict], reference: str) -> None:
    """The ratio columns, from the measured ones."""

    def ratio(a, b):
        return None if a is None or b is None else a / b

    ref = rows[reference]
    for row in rows.values():
        for key in ('1t', 'all'):
            row[f'ort_speedup_b1_{key}'] = ratio(row[f'torch_b1_{key}_ms'],
                                                 row[f'ort_b1_{key}_ms'])
            row[f'int8_speedup_b1_{key}'] = ratio(
                row[f'ort_b1_{key}_ms'], row[f'ort_int8_b1_{key}_ms'])
        row['int8_speedup_b32'] = ratio(row['ort_int8_b32_ips'],
                                        row['ort_b32_ips'])
        row['ov_vs_ort_b1_1t'] = ratio(row['ort_b1_1t_ms'],
                                       row['ov_b1_1t_ms'])
        row['ov_int8_vs_ort_b1_1t'] = ratio(row['ort_b1_1t_ms'],
                                            row['ov_int8_b1_1t_ms'])
        row['params_vs_ref'] = row['params'] / ref['params']
        row['flops_vs_ref'] = row['flops'] / ref['flops']
        for engine in ('torch', 'ort'):
            row[f'{engine}_b1_1t_vs_ref'] = ratio(
                ref[f'{engine}_b1_1t_ms'], row[f'{engine}_b1_1t_ms'])
            row[f'{engine}_b32_vs_ref'] = ratio(row[f'{engine}_b32_ips'],
                                                ref[f'{engine}_b32_ips'])


def run_suite(models: Sequence[str],
              reference: str,
              rounds: int = 20,
              engines: Optional[Sequence[str]] = None,
              skip_onnx: Sequence[str] = (),
              quick: bool = False) -> dict:
    """Measure every model on every engine; see the module docstring.

    Args:
        models (Sequence[str]): Keys of
            :data:`~benchlib.models.MODELS_TABLE`.
        reference (str): The model the ``*_vs_ref`` ratios refer to.
        rounds (int): Timed rounds at batch 1; batch 32 uses a quarter of
            them. Defaults to 20.
        engines (Sequence[str], optional): Keys of :data:`ENGINES`.
            Defaults to None: :func:`available_engines`.
        skip_onnx (Sequence[str]): Models measured with PyTorch only.
            Defaults to ().
        quick (bool): Few warm-up calls and a 512x512 matmul, for tests.
            Defaults to False.

    Returns:
        dict: JSON-serialisable ``machine``, ``settings``, ``engines``,
        ``reference``, ``matmul_peak_gmacs`` (per stage), ``elapsed_s``,
        ``columns`` (:data:`COLUMNS`) and ``rows`` (one dict per model).
    """
    engines = list(available_engines() if engines is None else engines)
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        raise ValueError(f'unknown engines {unknown}; choose from '
                         f'{list(ENGINES)}')
    if reference not in models:
        raise ValueError(f'reference {reference!r} is not among the models '
                         f'{list(models)}')
    threads = torch.get_num_threads()
    num = len(models)
    stage_rounds = {
        'b1_1t': rounds,
        'b1_all': rounds,
        'b32': max(1, rounds // 4)
    }
    # batch 32 needs one call to settle, and each call is long
    warmup = {
        'b1_1t': 1 if quick else 3,
        'b1_all': 1 if quick else 3,
        'b32': 1
    }
    matmul_n = 512 if quick else MATMUL_SIZE

    rows = {}
    calls: Dict[str, Dict[str, Callable]] = {s[0]: {} for s in STAGES}
    notes: Dict[str, List[str]] = {name: [] for name in models}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        # One fresh interpreter per model, one at a time, while this process
        # builds and exports (nothing is timed before they have all ended).
        _progress(f'Peak memory: {num} subprocess(es) in the background')
        with ThreadPoolExecutor(max_workers=1) as pool:
            memory = {
                name: pool.submit(measure_memory, name)
                for name in models
            }
            for i, name in enumerate(models, 1):
                rows[name] = _prepare(name, f'[{i}/{num}] {name}', engines,
                                      name in skip_onnx, threads,
                                      notes[name], calls, folder)
            _progress('Waiting for the peak-memory subprocesses')
            for name in models:
                result = memory[name].result()
                if 'note' in result:
                    notes[name].append(result.pop('note'))
                    _progress(f'  peak memory of {name} failed')
                else:
                    _progress(f'  peak memory of {name} measured')
                rows[name].update(result)
                rows[name]['note'] = '; '.join(notes[name])

        peaks = {}
        a = torch.rand(matmul_n, matmul_n)
        b = torch.rand(matmul_n, matmul_n)
        for s, (stage, batch, thr) in enumerate(STAGES, 1):
            candidates = {'matmul': lambda: torch.mm(a, b)}
            candidates.update(calls[stage])
            n_thr = 1 if thr == '1t' else threads
            _progress(f'[stage {s}/{len(STAGES)}] batch {batch}, {n_thr} '
                      f'thread(s): {len(candidates)} candidates (incl. '
                      f'matmul) x {stage_rounds[stage]} interleaved rounds')
            last = [time.perf_counter()]

            def on_round(done: int, total: int) -> None:
                now = time.perf_counter()
                if now - last[0] >= 5 or done == total:
                    last[0] = now
                    _progress(f'  round {done}/{total} '
                              f'({now - start:.0f} s elapsed)')

            times = compare_latency(
                candidates,
                rounds=stage_rounds[stage],
                warmup=warmup[stage],
                threads=n_thr,
                progress=on_round)
            peak = matmul_n**3 / (times['matmul'] / 1e3)
            peaks[stage] = peak / 1e9
            for key, ms in times.items():
                if key == 'matmul':
                    continue
                engine, name = key.split('/', 1)
                row = rows[name]
                if batch == 1:
                    row[f'{engine}_{stage}_ms'] = ms
                else:
                    row[f'{engine}_{stage}_ips'] = batch / (ms / 1e3)
                if engine in FLOAT_ENGINES:
                    achieved = row['flops'] * batch / (ms / 1e3)
                    row[f'{engine}_{stage}_peak_frac'] = achieved / peak
    _derive(rows, reference)
    return dict(
        machine=machine_info(),
        settings=dict(
            rounds=stage_rounds,
            warmup=warmup,
            quick=quick,
            throughput_batch=THROUGHPUT_BATCH,
            matmul_size=matmul_n,
            int8_calibration=CALIB_IMAGES),
        engines=engines,
        reference=reference,
        matmul_peak_gmacs=peaks,
        elapsed_s=time.perf_counter() - start,
        columns=COLUMNS,
        rows=[rows[name] for name in models])


def print_report(result: dict) -> None:
    """Print the suite's tables (measurements only, no verdicts)."""
    rows = result['rows']
    ref = result['reference']
    peaks = result['matmul_peak_gmacs']
    machine = result['machine']
    print(f'\nMachine: {machine["cpu"]} '
          f'({" ".join(machine["cpu_flags"]) or "no AVX2, AVX-512 or AMX"}, '
          f'{machine["logical_cores"]} logical cores); all threads = '
          f'{machine["all_threads"]}; torch {machine["torch"]}, onnxruntime '
          f'{machine["onnxruntime"]}, openvino {machine["openvino"]}')
    print('fp32 matmul peak ({0}x{0}, n^3 multiply-adds per call): '.format(
        result['settings']['matmul_size']) + '; '.join(
            f'{stage} {peaks[stage]:.1f} GMAC/s '
            f'({2 * peaks[stage]:.1f} GFLOP/s)' for stage in peaks))
    print('FLOPs are MMEngine\'s (1 multiply-add = 1 FLOP), so model '
          'GMAC/s are compared with matmul GMAC/s.')
    print(f'AP: COCO val2017 as reported (papers, MMPose model zoo), not '
          f'measured. Ratios: vs reference {ref}.')

    print('\nSize and batch-1 latency (median ms)')
    _table(rows, (('params', 'params', 'M'), ('GFLOPs', 'flops', 'G'),
                  ('AP(rep)', 'ap_reported', '.1f'),
                  ('eager 1t', 'torch_b1_1t_ms', '.1f'),
                  ('ORT 1t', 'ort_b1_1t_ms', '.1f'),
                  ('ORT x', 'ort_speedup_b1_1t', '.2f'),
                  ('eager all', 'torch_b1_all_ms', '.1f'),
                  ('ORT all', 'ort_b1_all_ms', '.1f'),
                  ('ORT x', 'ort_speedup_b1_all', '.2f'),
                  ('size/ref', 'params_vs_ref', '.2f'),
                  ('speed/ref', 'torch_b1_1t_vs_ref', '.2f')))
    print('ORT x: eager ms / ORT ms; size/ref: params / reference params; '
          'speed/ref: reference eager 1t ms / model eager 1t ms.')

    print('\nINT8 and OpenVINO: batch 1, 1 thread (median ms); batch '
          f'{THROUGHPUT_BATCH}, all threads (items/s)')
    _table(rows, (('ORT 1t', 'ort_b1_1t_ms', '.1f'),
                  ('INT8 1t', 'ort_int8_b1_1t_ms', '.1f'),
                  ('INT8 x', 'int8_speedup_b1_1t', '.2f'),
                  ('OV 1t', 'ov_b1_1t_ms', '.1f'),
                  ('OV x', 'ov_vs_ort_b1_1t', '.2f'),
                  ('OV INT8 1t', 'ov_int8_b1_1t_ms', '.1f'),
                  ('OV INT8 x', 'ov_int8_vs_ort_b1_1t', '.2f'),
                  ('ORT b32', 'ort_b32_ips', '.1f'),
                  ('INT8 b32', 'ort_int8_b32_ips', '.1f'),
                  ('INT8 x b32', 'int8_speedup_b32', '.2f'),
                  ('OV b32', 'ov_b32_ips', '.1f'),
                  ('OV INT8 b32', 'ov_int8_b32_ips', '.1f')))
    print('INT8 x: ORT float ms / ORT INT8 ms (b32: INT8 items/s / float '
          'items/s); OV x, OV INT8 x: ORT float ms / OpenVINO ms. INT8 '
          'models calibrated on the MPII sample; their accuracy is measured '
          'on trained models by tools/quantize.py.')

    print(f'\nBatch-{THROUGHPUT_BATCH} throughput (items/s, all threads), '
          'peak memory (MiB), fraction of the matmul peak')
    _table(rows, (('eager b32', 'torch_b32_ips', '.1f'),
                  ('ORT b32', 'ort_b32_ips', '.1f'),
                  ('b32/ref', 'torch_b32_vs_ref', '.2f'),
                  ('mem b1', 'mem_b1_mb', '.1f'),
                  ('mem b32', 'mem_b32_mb', '.0f'),
                  ('peak eager 1t', 'torch_b1_1t_peak_frac', '.1%'),
                  ('peak ORT 1t', 'ort_b1_1t_peak_frac', '.1%'),
                  ('peak OV 1t', 'ov_b1_1t_peak_frac', '.1%'),
                  ('peak ORT b32', 'ort_b32_peak_frac', '.1%'),
                  ('note', 'note', 's')))
    print('b32/ref: eager items/s / reference eager items/s; mem: peak RSS '
          'growth of one eager forward over the loaded model; peak: model '
          'GMAC/s / matmul GMAC/s at the same thread count (above 100%: '
          'faster than torch.mm\'s GEMM here).')


def _table(rows: Sequence[dict], spec: Sequence[tuple]) -> None:
    """Print one line per row: the model, then ``(title, column, format)``
    cells; format ``'M'`` / ``'G'`` prints millions / billions."""

    def cell(value, spec: str) -> str:
        if spec == 'M':
            return f'{value / 1e6:.2f}M'
        if spec == 'G':
            return f'{value / 1e9:.3f}'
        if spec == 's':
            return value or ''
        return fmt(value, spec)

    print_table(['model'] + [title for title, _, _ in spec],
                [[r['model']] + [cell(r[key], f) for _, key, f in spec]
                 for r in rows])

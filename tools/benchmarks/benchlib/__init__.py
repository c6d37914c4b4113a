"""What the benchmarks share: the models to measure, one timing harness,
one memory probe and one report writer.

Development tooling, not part of the installed package: it reads configs
and sample data from a clone. The scripts of ``tools/benchmarks`` import it
as ``benchlib`` (their folder is on ``sys.path``), and so do the tests
(``tests/conftest.py``).

- :mod:`.models`: :data:`MODELS_TABLE` (our models and MMPose's
  references, with their reported AP), built offline with random weights,
  and their ONNX export;
- :mod:`.timing`: :func:`compare_latency`, the interleaved harness, for
  PyTorch eager models, ONNX Runtime sessions and OpenVINO models alike,
  and :func:`timing_parser`, its options on a command line;
- :mod:`.memory`: :func:`peak_growth_mib`, and :func:`measure_memory` of a
  model in a fresh interpreter;
- :mod:`.report`: tables, and CSV/JSON/PNG files written atomically;
- :mod:`.suite`: the benchmark suite of ``tools/benchmark.py``.
"""
from .memory import measure_memory, memory_probe_available, peak_growth_mib
from .profiling import (build_offline, get_complexity, load_config,
                        strip_external)
from .models import (MODELS_TABLE, ROOT, SAMPLE_DIR, ModelSpec, build_model,
                     calibrate_batchnorm, export_model, input_hw,
                     quiet_mmengine)
from .report import (csv_bytes, fmt, format_table, machine_info,
                     markdown_table, plot_ap_latency, print_table,
                     write_report)
from .suite import (COLUMNS, ENGINES, available_engines, print_report,
                    run_suite)
from .timing import (compare_latency, num_threads, openvino_model, ort_call,
                     ort_session, timing_parser)

__all__ = [
    'MODELS_TABLE', 'ModelSpec', 'ROOT', 'SAMPLE_DIR', 'build_model',
    'calibrate_batchnorm', 'export_model', 'input_hw', 'quiet_mmengine',
    'compare_latency', 'num_threads', 'timing_parser', 'ort_session',
    'ort_call', 'openvino_model', 'measure_memory', 'memory_probe_available',
    'peak_growth_mib', 'fmt', 'format_table', 'print_table',
    'markdown_table', 'csv_bytes',
    'write_report', 'machine_info', 'plot_ap_latency', 'COLUMNS', 'ENGINES',
    'available_engines', 'run_suite', 'print_report', 'build_offline',
    'get_complexity', 'load_config', 'strip_external'
]

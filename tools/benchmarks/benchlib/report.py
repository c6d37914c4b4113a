"""One report writer: tables on the console, CSV, JSON and PNG files.

Every file goes through :mod:`mmpose_light_runtime.fileio`, the project's
one atomic-write helper: an existing report is replaced only by a complete
one, with normal file permissions.
"""
import csv
import io
import os.path as osp
import platform
from typing import Dict, List, Mapping, Optional, Sequence

from mmpose_light_runtime.fileio import atomic_write_bytes, dump_json
from mmpose_light_runtime.timing import cpu_info

__all__ = [
    'fmt', 'format_table', 'print_table', 'markdown_table', 'csv_bytes',
    'write_report',
    'cpu_name', 'machine_info', 'plot_ap_latency'
]


def fmt(value: Optional[float], spec: str) -> str:
    """``format(value, spec)``, or ``'-'`` for a missing value."""
    return '-' if value is None else format(value, spec)


def format_table(header: Sequence[str],
                 lines: Sequence[Sequence[str]]) -> str:
    """A text table: first column left-aligned, the others right-aligned.

    Args:
        header (Sequence[str]): Column titles.
        lines (Sequence[Sequence[str]]): Rows of formatted cells.

    Returns:
        str: The table, a rule under the header, without a final newline.
    """
    widths = [
        max([len(h)] + [len(line[i]) for line in lines])
        for i, h in enumerate(header)
    ]
    row_fmt = '  '.join(['{:<%d}' % widths[0]] +
                        ['{:>%d}' % w for w in widths[1:]])
    out = [row_fmt.format(*header), '  '.join('-' * w for w in widths)]
    out += [row_fmt.format(*line) for line in lines]
    return '\n'.join(line.rstrip() for line in out)


def print_table(header: Sequence[str],
                lines: Sequence[Sequence[str]]) -> None:
    """Print :func:`format_table`."""
    print(format_table(header, lines), flush=True)


def markdown_table(header: Sequence[str],
                   lines: Sequence[Sequence[str]]) -> str:
    """A Markdown table (for a README), without a final newline."""
    out = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    out += ['| ' + ' | '.join(line) + ' |' for line in lines]
    return '\n'.join(out)


def csv_bytes(rows: Sequence[Mapping], columns: Sequence[str]) -> bytes:
    """Rows as CSV with ``columns`` as header; None becomes empty."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: '' if row.get(k) is None else row[k]
                         for k in columns})
    return buf.getvalue().encode()


def write_report(out_dir: str,
                 stem: str,
                 result: Mapping,
                 rows: Sequence[Mapping],
                 columns: Sequence[str],
                 png: Optional[bytes] = None) -> Dict[str, str]:
    """Write ``stem.csv`` (the rows), ``stem.json`` (``result``) and,
    given, ``stem.png`` to ``out_dir``, each atomically.

    Returns:
        dict[str, str]: Extension to the path written.
    """
    paths = {
        ext: osp.join(out_dir, f'{stem}.{ext}')
        for ext in ('csv', 'json') + (('png', ) if png is not None else ())
    }
    atomic_write_bytes(paths['csv'], csv_bytes(rows, columns))
    dump_json(result, paths['json'], indent=2)
    if png is not None:
        atomic_write_bytes(paths['png'], png)
    return paths


def cpu_name() -> str:
    """The CPU model name, as far as the platform tells."""
    return cpu_info()['model']


def machine_info() -> Dict[str, Optional[str]]:
    """The CPU, thread count and versions of the engines."""
    import onnxruntime
    import torch
    try:
        import openvino
        openvino_version = openvino.__version__
    except ImportError:
        openvino_version = None
    cpu = cpu_info()
    return dict(
        cpu=cpu['model'],
        cpu_flags=cpu['flags'],
        logical_cores=cpu['logical_cores'],
        usable_cores=cpu['usable_cores'],
        all_threads=torch.get_num_threads(),
        torch=torch.__version__,
        onnxruntime=onnxruntime.__version__,
        openvino=openvino_version,
        python=platform.python_version())


def plot_ap_latency(rows: List[Mapping], engines: Mapping[str, str],
                    machine: str) -> bytes:
    """PNG of reported AP against measured batch-1, 1-thread latency, one
    panel per engine.

    Args:
        rows (list[dict]): Benchmark rows with ``model``, ``ours``,
            ``form``, ``ap_reported`` and ``{engine}_b1_1t_ms``.
        engines (dict[str, str]): Engine key to panel title.
        machine (str): The CPU, for the title.

    Returns:
        bytes: The PNG.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f'{v:g}')
    ncols = min(3, len(engines))
    nrows = -(-len(engines) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(6.5 * ncols, 5.5 * nrows + 0.5),
        sharex=True,
        sharey=True,
        squeeze=False)
    for ax in axes.flat[len(engines):]:
        ax.set_visible(False)
    for ax, (engine, label) in zip(axes.flat, engines.items()):
        key = f'{engine}_b1_1t_ms'
        for row in rows:
            if row.get(key) is None:
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
    for ax in axes[:, 0]:
        ax.set_ylabel('COCO val2017 AP (reported)')
    handles = [
        plt.Line2D([], [], marker='o', color='C0', ls='', label='ours'),
        plt.Line2D([], [], marker='o', mfc='none', color='C0', ls='',
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
        'MMPose\'s model zoo for the float models, not measured here.\n'
        'Latency measured in one run with random weights; only ratios '
        'within a run mean anything. Models an engine does not run are '
        'absent from its panel.',
        ha='center',
        fontsize=8)
    fig.tight_layout(rect=(0, 0.06 / nrows, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=120)
    plt.close(fig)
    return buf.getvalue()

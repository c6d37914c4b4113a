"""Keep the model zoo's pages in step with its metafiles.

The metafiles (``model-index.yml`` and the ``configs/**/*.yml`` it imports)
hold every figure of a model. The tables of the results pages beside them
and of README.md are generated from them, between the markers
``<!-- model-zoo:NAME -->`` and ``<!-- model-zoo:end -->``::

    python tools/model_zoo.py            # check: exit 1 naming what differs
    python tools/model_zoo.py --write    # rewrite the generated tables
    python tools/model_zoo.py --measure  # measure params and FLOPs of every
                                         # model and compare with its entry
    python tools/model_zoo.py --measure --write  # and write them into it

A clone's tool, not shipped: it reads the repository.
"""
import argparse
import os.path as osp
import re
import sys
from typing import Callable, Dict, List, Optional, Sequence

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(HERE)
sys.path[:0] = [ROOT, osp.join(HERE, 'benchmarks')]

from benchlib.model_index import load_index, reported_metric  # noqa: E402

MARKER = re.compile(
    r'(<!-- model-zoo:(\S+) -->\n)(.*?)(<!-- model-zoo:end -->)', re.DOTALL)


def _millions(n) -> str:
    return f'{n / 1e6:.2f}M' if n else '-'


def _giga(n) -> str:
    return f'{n / 1e9:.3f}' if n else '-'


def _link(model: dict, page: str) -> str:
    rel = osp.relpath(osp.join(ROOT, model['Config']), osp.dirname(page))
    return f'[{model["Name"]}]({rel})'


def _metric(model: dict, metric: str, scale: float = 100) -> str:
    value = reported_metric(model, metric)
    return '-' if value is None else f'{value * scale:.1f}'


def models_table(models: List[dict], page: str) -> str:
    """The table of a results page: one row a model."""
    rows = [
        '| config | form | input | params (measured) | GFLOPs (measured) '
        '| params / GFLOPs (paper) | AP (paper) |',
        '|---|---|---|---|---|---|---|'
    ]
    for m in models:
        md = m['Metadata']
        paper = (f'{_millions(md.get("Paper Parameters"))} / '
                 f'{_giga(md.get("Paper FLOPs"))}'
                 if md.get('Paper Parameters') else '-')
        rows.append(
            f'| {_link(m, page)} | {md.get("Form", "-")} | '
            f'{md.get("Input Size", "-")} | {_millions(md.get("Parameters"))} '
            f'| {_giga(md.get("FLOPs"))} | {paper} | {_metric(m, "AP")} |')
    return '\n'.join(rows) + '\n'


def nms_table(models: List[dict], page: str) -> str:
    """The table of the Matrix-OKS-NMS page: configs and what they change."""
    rows = ['| config | model | data | pose NMS |', '|---|---|---|---|']
    for m in models:
        md = m['Metadata']
        rows.append(f'| {_link(m, page)} | {" + ".join(md["Architecture"])} '
                    f'| {md["Training Data"]} | {md["Pose NMS"]} |')
    return '\n'.join(rows) + '\n'


def readme_table(models: List[dict], page: str) -> str:
    """The README's summary: the papers' models at their published sizes.
    """
    rows = [
        '| model | form | input | params / GFLOPs, measured (paper) | COCO AP '
        '(paper) | config |', '|---|---|---|---|---|---|'
    ]
    for m in models:
        md = m['Metadata']
        if m['_metafile'].endswith('_coco.yml') and md.get('Paper FLOPs'):
            name = f'{m["In Collection"]} ({md["Architecture"][1]})'
            rows.append(
                f'| {name} | {md["Form"]} | {md["Input Size"]} | '
                f'{_millions(md["Parameters"])} / {_giga(md["FLOPs"])} '
                f'({_millions(md["Paper Parameters"])} / '
                f'{_giga(md["Paper FLOPs"])}) | {_metric(m, "AP")} | '
                f'{_link(m, page)} |')
    return '\n'.join(rows) + '\n'


def tables(models: Dict[str, dict]) -> Dict[str, Callable[[str], str]]:
    """Every generated table by marker name, as a function of the page."""
    by_metafile: Dict[str, List[dict]] = {}
    for m in models.values():
        by_metafile.setdefault(m['_metafile'], []).append(m)
    out = {'readme': lambda page: readme_table(list(models.values()), page)}
    for metafile, ms in by_metafile.items():
        name = osp.splitext(osp.basename(metafile))[0]
        render = nms_table if name.startswith('matrix_oks_nms') else \
            models_table
        out[name] = lambda page, ms=ms, render=render: render(ms, page)
    return out


def sync(pages: Sequence[str], write: bool) -> List[str]:
    """Check (or rewrite) the generated tables of ``pages``; the problems.
    """
    models = load_index(ROOT)
    generators = tables(models)
    problems, used = [], set()
    for page in pages:
        path = osp.join(ROOT, page)
        with open(path) as f:
            text = f.read()

        def replace(match):
            name = match.group(2)
            if name not in generators:
                problems.append(f'{page}: no table named {name!r}')
                return match.group(0)
            used.add(name)
            table = generators[name](path)
            if match.group(3) != table and not write:
                problems.append(f'{page}: table {name!r} differs from the '
                                'metafiles (python tools/model_zoo.py '
                                '--write)')
            return match.group(1) + table + match.group(4)

        new = MARKER.sub(replace, text)
        if write and new != text:
            with open(path, 'w') as f:
                f.write(new)
    problems += [
        f'no page shows table {name!r}' for name in generators
        if name not in used
    ]
    return problems


def results_pages() -> List[str]:
    """README.md and the README of every collection."""
    models = load_index(ROOT)
    pages = {'README.md'}
    for m in models.values():
        readme = m['_collection'].get('README')
        if readme:
            pages.add(readme)
        pages.add(osp.splitext(m['_metafile'])[0] + '.md')
    return sorted(pages)


def _write_measured(metafile: str, name: str, key: str, value: int):
    """Set ``key`` of model ``name`` in a metafile, keeping its comments."""
    path = osp.join(ROOT, metafile)
    with open(path) as f:
        text = f.read()
    start = text.index(f'- Name: {name}\n')
    end = text.find('\n- Name: ', start + 1)
    end = len(text) if end < 0 else end
    block = re.sub(rf'(\n    {key}: )\d+', rf'\g<1>{value}', text[start:end],
                   count=1)
    with open(path, 'w') as f:
        f.write(text[:start] + block + text[end:])


def measure(tolerance: float, write: bool) -> List[str]:
    """Params and FLOPs of every model that lists them, against its entry
    (with ``write``, into it).
    """
    import mmpose_light  # noqa: F401
    from benchlib import build_offline, get_complexity, input_hw
    from benchlib.models import quiet_mmengine
    problems = []
    for config, m in load_index(ROOT).items():
        md = m['Metadata']
        if 'Parameters' not in md:
            continue
        with quiet_mmengine():
            model, cfg = build_offline(osp.join(ROOT, config))
            params, flops = get_complexity(model.eval(), (3, *input_hw(cfg)))
        print(f'{m["Name"]}: Parameters: {params} FLOPs: {flops}')
        for key, value in (('Parameters', params), ('FLOPs', flops)):
            listed = md[key]
            if write:
                _write_measured(m['_metafile'], m['Name'], key, value)
            elif not listed or abs(value - listed) > tolerance * listed:
                problems.append(f'{m["_metafile"]}: {m["Name"]} {key} '
                                f'{listed} in the metafile, {value} measured')
    return problems


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--write', action='store_true',
                        help='rewrite the generated tables')
    parser.add_argument('--measure', action='store_true',
                        help='measure every model\'s params and FLOPs')
    parser.add_argument('--tolerance', type=float, default=0.005,
                        help='relative difference --measure accepts')
    args = parser.parse_args(argv)
    problems = []
    if args.measure:
        problems += measure(args.tolerance, args.write)
    problems += sync(results_pages(), args.write)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())

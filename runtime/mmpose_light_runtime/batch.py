"""Pose over whole archives: many images and videos, one result file each,
on one machine or a Ray cluster, resumable.

    mmpose-light-runtime-batch MODEL INPUT [INPUT ...] --out DIR
        [--engine local|ray] [--workers N] [--num-threads N]
        [--address ADDR] [--resume | --overwrite] [pipeline options]

INPUTs are image or video files, folders (their images and videos, sorted),
globs, and list files (``@list.txt``: one path a line, relative to the list
file's folder). The unit of work is one video, whose frames run in order in
one worker (tracking needs them so), or one image.

Each input gets one result file, ``DIR/results/<id>.json``, written
atomically by the worker that computed it: every frame's poses in COCO's
keypoint results format (track ids when tracking), with the input's id.
The id is the SHA-256 of the input's content and of the run's key: the
SHA-256 of the model files and of the options that change results. A piece
of work that runs twice (Ray retries the tasks of a dead worker) writes the
same file twice, atomically: it is there once, whole.

``DIR/manifest.jsonl`` has one row per input: its path, content hash, id,
the run's key, models and options, frames decoded, frames written, status
(``done``, ``skipped``: its result was there, or ``failed``) and error.
A corrupt or unreadable input is marked failed, and the run goes on.

``--resume`` skips exactly the inputs whose result file exists with the
same id, and redoes the rest; a changed model or option changes every id.
Without ``--resume`` or ``--overwrite`` an output folder that holds results
of another run key is refused. Temporary files of a run that was killed
are removed when the next run starts.

Engines (one worker code, :class:`PoseWorker`): ``local`` runs in this
process (``--workers 1``) or a pool of local processes; ``ray`` (the
optional extra ``mmpose-light-runtime[ray]``) starts a local Ray cluster,
or joins a running one with ``--address``, and runs one actor per worker
(each loads its models once and sets its ONNX Runtime threads itself, as
ONNX Runtime ignores the ``OMP_NUM_THREADS`` Ray sets); Ray restarts a dead
actor and retries its task.
"""
import argparse
import glob
import hashlib
import json
import os
import os.path as osp
import re
import signal
import sys
import time
from typing import (Any, Dict, Iterator, List, Optional, Sequence, TextIO,
                    Tuple)

from .checks import check_int
from .cli import add_backend_option, add_model_options, detector_backend
from .detectors import DetectionFile, OnnxDetector
from .estimator import TopdownEstimator
from .fileio import (IMAGE_EXTENSIONS, atomic_write_bytes, dump_json,
                     sha256_file)
from .meta import is_ncnn_model, ncnn_files
from .pipeline import PosePipeline
from .smoothing import PoseSmoother
from .sources import open_source

__all__ = [
    'VIDEO_EXTENSIONS', 'collect_inputs', 'run_key', 'PoseWorker',
    'run_batch', 'main'
]

#: File extensions read as videos (lower case).
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm', '.m4v',
                    '.mpg', '.mpeg')
#: The version of the result files' and the manifest's layout.
RESULT_VERSION = 1
# temporary files of fileio.AtomicFile: '.<name>.<random>.tmp<ext>'
_TEMP_FILE = re.compile(r'^\..+\.tmp(\.[a-z]+)?$')
# the environment variable of the fault injection of the tests: 'DIR:N',
# a worker kills its own process at frame N of an input, once per input
# (it leaves DIR/<content hash> behind to remember)
FAULT_ENV = 'MMPOSE_LIGHT_BATCH_KILL_AT'


def _media(path: str) -> bool:
    return path.lower().endswith(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)


def collect_inputs(specs: Sequence[str]) -> List[str]:
    """The input files of folders, globs, list files and files.

    Args:
        specs (Sequence[str]): Files, folders (their images and videos,
            sorted by name, not recursive), glob patterns, and list files
            as ``@path`` (one input a line; blank lines and ``#`` comments
            skipped; relative paths are relative to the list's folder).

    Returns:
        list[str]: The files, in the order given, each once.

    Raises:
        FileNotFoundError: Naming a path, list or pattern that matches
            nothing.
        ValueError: If no input is found at all.
    """
    found = []
    for spec in specs:
        spec = os.fspath(spec)
        if spec.startswith('@'):
            lst = spec[1:]
            if not osp.isfile(lst):
                raise FileNotFoundError(f'list file {lst!r} does not exist')
            with open(lst) as f:
                entries = [line.strip() for line in f]
            base = osp.dirname(osp.abspath(lst))
            for entry in entries:
                if entry and not entry.startswith('#'):
                    path = entry if osp.isabs(entry) else osp.join(
                        base, entry)
                    if not osp.isfile(path):
                        raise FileNotFoundError(
                            f'{path!r}, listed in {lst!r}, does not exist')
                    found.append(path)
        elif osp.isdir(spec):
            found += sorted(
                osp.join(spec, name) for name in os.listdir(spec)
                if _media(name) and osp.isfile(osp.join(spec, name)))
        elif osp.isfile(spec):
            found.append(spec)
        elif glob.has_magic(spec):
            matches = sorted(p for p in glob.glob(spec) if osp.isfile(p))
            if not matches:
                raise FileNotFoundError(f'pattern {spec!r} matches no file')
            found += matches
        else:
            raise FileNotFoundError(f'input {spec!r} does not exist')
    unique = list(dict.fromkeys(osp.abspath(p) for p in found))
    if not unique:
        raise ValueError(f'no image or video in {list(specs)} '
                         f'({", ".join(IMAGE_EXTENSIONS + VIDEO_EXTENSIONS)})')
    return unique


def _model_files(path: Optional[str]) -> List[str]:
    if path is None:
        return []
    return list(ncnn_files(path)) if is_ncnn_model(path) else [path]


def run_key(config: Dict[str, Any]) -> str:
    """The SHA-256 of the model files' contents and of the options that
    change results (:data:`config` of :class:`PoseWorker`), hex."""
    models = {
        role: [sha256_file(p) for p in _model_files(config.get(role))]
        for role in ('model', 'det_model', 'det_file')
    }
    options = {
        k: v
        for k, v in config.items()
        if k not in ('model', 'det_model', 'det_file', 'num_threads')
    }
    text = json.dumps(dict(models=models, options=options), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _result_name(input_hash: str, key: str) -> str:
    return hashlib.sha256((input_hash + key).encode()).hexdigest()[:32]


class PoseWorker:
    """Load the models once; then poses of one input at a time, written to
    its result file.

    Args:
        config (dict): ``model`` (pose model file), ``det_model`` or
            ``det_file`` (optional), ``det_score_thr``, ``det_interval``,
            ``flip_test``, ``nms`` (Matrix-OKS-NMS arguments or None),
            ``track``, ``smooth`` (one-euro arguments or None),
            ``num_threads`` (the threads of the engines and of OpenCV in
            this worker; None: their defaults) and ``backend`` (None: by
            the model file).
        results_dir (str): Where result files go.
    """

    def __init__(self, config: Dict[str, Any], results_dir: str) -> None:
        self.config = dict(config)
        self.results_dir = results_dir
        self.key = run_key(self.config)
        threads = config.get('num_threads')
        if threads is not None:
            # OpenCV decodes and warps on threads of its own: several
            # workers of one thread each would otherwise share the cores
            # with OpenCV's pools
            import cv2
            cv2.setNumThreads(threads)
        self.estimator = TopdownEstimator(
            config['model'],
            backend=config.get('backend'),
            num_threads=threads,
            flip_test=config.get('flip_test', False))
        self.detector = None
        if config.get('det_model'):
            self.detector = OnnxDetector(
                config['det_model'],
                score_thr=config.get('det_score_thr'),
                # the engine the single-input command gives the detector
                backend=detector_backend(config['det_model'],
                                         config.get('backend')),
                num_threads=threads)
        elif config.get('det_file'):
            self.detector = DetectionFile(config['det_file'],
                                          config.get('det_score_thr') or 0.)

    def _pipeline(self, video: bool):
        config = self.config
        smoother = None
        if video and config.get('smooth') is not None:
            smoother = PoseSmoother(**config['smooth'])
        return PosePipeline(
            self.estimator,
            self.detector,
            nms=config.get('nms'),
            det_interval=config.get('det_interval', 1) if video else 1,
            tracking=bool(config.get('track')) and video,
            smoothing=smoother or False)

    def process(self, path: str) -> Dict[str, Any]:
        """Poses of every frame of ``path``, written to its result file.

        Returns:
            dict: The input's manifest row (without the run's options).
        """
        row = dict(input=path, status='failed', error=None, frames_decoded=0,
                   frames_written=0, run_key=self.key, worker=os.getpid())
        try:
            row['content_sha256'] = sha256_file(path)
            row['id'] = _result_name(row['content_sha256'], self.key)
            source = open_source(path)
            video = source.kind == 'video'
            pipeline = self._pipeline(video)
            fault = _fault(row['content_sha256'])
            frames = []
            for frame, result in pipeline.run(source):
                if frame.index == fault:
                    os.kill(os.getpid(), signal.SIGKILL)
                row['frames_decoded'] += 1
                frames.append(
                    dict(frame=frame.index,
                         poses=result.to_coco(frame.image_id)))
            result_file = osp.join(self.results_dir, row['id'] + '.json')
            dump_json(
                dict(version=RESULT_VERSION, id=row['id'],
                     content_sha256=row['content_sha256'],
                     run_key=self.key, input=path, kind=source.kind,
                     frames=frames), result_file)
            row.update(status='done', frames_written=len(frames),
                       result=osp.basename(result_file))
        except (OSError, ValueError) as error:
            row['error'] = f'{type(error).__name__}: {error}'
        return row


def _fault(input_hash: str) -> Optional[int]:
    """The frame at which the fault injection kills this worker, once."""
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return None
    folder, frame = spec.rsplit(':', 1)
    marker = osp.join(folder, input_hash)
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return None
    return int(frame)


# one worker per process of the local pool, loaded by its initializer
_LOCAL_WORKER = None


def _init_local(config: Dict[str, Any], results_dir: str) -> None:
    global _LOCAL_WORKER
    _LOCAL_WORKER = PoseWorker(config, results_dir)


def _process_local(path: str) -> Dict[str, Any]:
    return _LOCAL_WORKER.process(path)


def _local_rows(inputs: List[str], config: Dict[str, Any], results_dir: str,
                workers: int) -> Iterator[Dict[str, Any]]:
    if workers == 1:
        worker = PoseWorker(config, results_dir)
        for path in inputs:
            yield worker.process(path)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(workers, mp_context=context,
                             initializer=_init_local,
                             initargs=(config, results_dir)) as pool:
        futures = [pool.submit(_process_local, path) for path in inputs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BrokenProcessPool:
            raise RuntimeError(
                'a local worker process died; the finished results are '
                'kept: run the command again with --resume (--engine ray '
                'restarts dead workers and retries their inputs)') from None


def _ray_rows(inputs: List[str], config: Dict[str, Any], results_dir: str,
              workers: int,
              address: Optional[str]) -> Iterator[Dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "--engine ray needs Ray, which is not installed: pip install "
            '"mmpose-light-runtime[ray]"') from None
    started = not ray.is_initialized()
    if started and address:
        _check_answers(address)
    if started:
        try:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, log_to_driver=False,
                         include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = (f'the Ray cluster at {address!r}'
                     if address else 'a new local Ray cluster')
            raise ConnectionError(f'cannot reach {where}: {error}') from None
    try:
        actor_cls = ray.remote(
            num_cpus=1, max_restarts=-1,
            max_task_retries=-1)(_RayWorker)
        actors = [
            actor_cls.remote(config, results_dir) for _ in range(workers)
        ]
        pending = list(inputs)
        running = {}
        for actor in actors:
            if pending:
                running[actor.process.remote(pending.pop(0))] = actor
        while running:
            done, _ = ray.wait(list(running), num_returns=1)
            actor = running.pop(done[0])
            yield ray.get(done[0])
            if pending:
                running[actor.process.remote(pending.pop(0))] = actor
    finally:
        if started:
            ray.shutdown()


def _check_answers(address: str, timeout: float = 5.) -> None:
    """Fail at once where nothing listens at a ``host:port`` Ray address
    (``ray.init`` would retry for minutes)."""
    import socket
    match = re.fullmatch(r'(?:ray://)?\[?([^\]]+?)\]?:(\d+)', address)
    if match is None:
        return  # 'auto' and the like: Ray's own resolution
    try:
        socket.create_connection((match.group(1), int(match.group(2))),
                                 timeout=timeout).close()
    except OSError as error:
        raise ConnectionError(
            f'the Ray cluster at {address!r} does not answer ({error}); '
            'start one with `ray start --head` or leave out --address for '
            'a local cluster') from None


class _RayWorker:
    """A Ray actor around :class:`PoseWorker` (made remote when Ray is
    imported)."""

    def __init__(self, config: Dict[str, Any], results_dir: str) -> None:
        self.worker = PoseWorker(config, results_dir)

    def process(self, path: str) -> Dict[str, Any]:
        return self.worker.process(path)


def _existing_results(results_dir: str) -> Dict[str, Tuple[str, int]]:
    """Result id to run key and number of frames of the result files in
    ``results_dir``, each read once."""
    found = {}
    for name in os.listdir(results_dir):
        path = osp.join(results_dir, name)
        if _TEMP_FILE.match(name):
            os.remove(path)  # left by a killed run
        elif name.endswith('.json'):
            try:
                with open(path) as f:
                    head = json.load(f)
                found[head['id']] = (head['run_key'], len(head['frames']))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not one of ours: never ours to judge
    return found


def run_batch(inputs: Sequence[str],
              out_dir: str,
              config: Dict[str, Any],
              engine: str = 'local',
              workers: int = 1,
              address: Optional[str] = None,
              resume: bool = False,
              overwrite: bool = False,
              progress: Optional[TextIO] = None) -> Dict[str, Any]:
    """Run :class:`PoseWorker` over many inputs; see the module docstring.

    Args:
        inputs (Sequence[str]): Input specs (:func:`collect_inputs`).
        out_dir (str): The output folder (created if missing).
        config (dict): The worker's configuration (:class:`PoseWorker`).
        engine (str): ``'local'`` or ``'ray'``. Defaults to ``'local'``.
        workers (int): Worker processes (Ray actors). Defaults to 1.
            With several, or on Ray, each runs on one thread unless
            ``config['num_threads']`` says otherwise.
        address (str, optional): A running Ray cluster. Defaults to None:
            a new local one.
        resume (bool): Skip the inputs whose result exists with the same
            id. Defaults to False.
        overwrite (bool): Accept a folder with other runs' results.
            Defaults to False.
        progress (TextIO, optional): Where to show progress. Defaults to
            None (none).

    Returns:
        dict: ``inputs``, ``done``, ``skipped``, ``failed``, ``frames``
        (written this run) and ``manifest`` (its path).
    """
    if engine not in ('local', 'ray'):
        raise ValueError(f'unknown engine {engine!r}; choose local or ray')
    check_int('`workers`', workers, 1)
    if config.get('num_threads') is None and (engine == 'ray'
                                              or workers > 1):
        # one core per worker: the engines' default (every core) in each
        # of several workers would share the cores between them all
        config = dict(config, num_threads=1)
    files = collect_inputs(inputs)
    results_dir = osp.join(out_dir, 'results')
    os.makedirs(results_dir, exist_ok=True)
    key = run_key(config)
    existing = _existing_results(results_dir)
    keys = {run for run, _ in existing.values()}
    others = keys - {key}
    if others and not overwrite and not (resume and key in keys):
        raise ValueError(
            f'{out_dir!r} holds results of another model or options (run '
            f'key {sorted(others)[0][:12]}..., this run {key[:12]}...): '
            'give another --out, or --overwrite to write this run\'s '
            'results beside them')
    rows, todo = {}, []
    for path in files:
        if resume:
            digest = sha256_file(path)
            name = _result_name(digest, key)
            run, frames = existing.get(name, (None, 0))
            if run == key:
                rows[path] = dict(
                    input=path, content_sha256=digest, id=name,
                    run_key=key, status='skipped', error=None,
                    result=name + '.json', frames_decoded=frames,
                    frames_written=frames)
                continue
        todo.append(path)
    manifest = osp.join(out_dir, 'manifest.jsonl')
    journal = osp.join(out_dir, '.manifest.partial.jsonl')
    shown = _Progress(len(files), progress)
    shown.skip(len(rows))
    summary = dict(inputs=len(files), done=0, skipped=len(rows), failed=0,
                   frames=0, manifest=manifest)
    with open(journal, 'a') as log:
        source = (_ray_rows(todo, config, results_dir, workers, address)
                  if engine == 'ray' else
                  _local_rows(todo, config, results_dir, workers))
        for row in source:
            rows[row['input']] = row
            log.write(json.dumps(row) + '\n')
            log.flush()
            summary['done' if row['status'] == 'done' else 'failed'] += 1
            summary['frames'] += row['frames_written']
            shown.update(1, row['frames_written'])
    shown.close()
    meta = dict(models={r: config.get(r) for r in
                        ('model', 'det_model', 'det_file')},
                options={k: v for k, v in config.items()
                         if k not in ('model', 'det_model', 'det_file')})
    lines = [
        json.dumps(dict(rows[path], version=RESULT_VERSION, **meta))
        for path in files
    ]
    atomic_write_bytes(manifest, ('\n'.join(lines) + '\n').encode())
    os.remove(journal)
    return summary


class _Progress:
    """Inputs and frames done, on one line; frames per second of this
    run's frames (not of the skipped inputs')."""

    def __init__(self, total: int, stream: Optional[TextIO]) -> None:
        self.total, self.stream = total, stream
        self.inputs = self.frames = self.skipped = 0
        self.start = time.perf_counter()

    def skip(self, inputs: int) -> None:
        self.skipped += inputs
        self.update(inputs, 0)

    def update(self, inputs: int, frames: int) -> None:
        self.inputs += inputs
        self.frames += frames
        if self.stream is not None:
            elapsed = max(time.perf_counter() - self.start, 1e-9)
            width = 30
            bar = '#' * (width * self.inputs // self.total)
            skipped = f' ({self.skipped} skipped)' if self.skipped else ''
            self.stream.write(
                f'\r[{bar:<{width}}] {self.inputs}/{self.total} inputs'
                f'{skipped}, {self.frames} frames, '
                f'{self.frames / elapsed:.1f} fps')
            self.stream.flush()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.write('\n')


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='mmpose-light-runtime-batch',
        description='Poses of many images and videos, one result file '
        'each, on this machine or a Ray cluster, resumable')
    parser.add_argument('model', help='pose model (ONNX or .ncnn.param)')
    parser.add_argument(
        'inputs',
        nargs='+',
        help='images, videos, folders, glob patterns, @list.txt files')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument('--engine', choices=['local', 'ray'],
                        default='local')
    parser.add_argument(
        '--workers',
        type=int,
        default=1,
        help='worker processes (Ray actors), each on one thread unless '
        '--num-threads says otherwise (default: %(default)s)')
    parser.add_argument(
        '--address',
        help='a running Ray cluster to join (host:port, or auto); default: '
        'a new local one')
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        '--resume', action='store_true',
        help='skip inputs whose result exists with the same id')
    group.add_argument(
        '--overwrite', action='store_true',
        help='accept an output folder with other runs\' results')
    parser.add_argument('--no-progress', action='store_true',
                        help='no progress display')
    add_model_options(parser)
    add_backend_option(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """The worker configuration of the command's options."""
    return dict(
        model=osp.abspath(args.model),
        backend=args.backend,
        det_model=osp.abspath(args.det_model) if args.det_model else None,
        det_file=osp.abspath(args.det_file) if args.det_file else None,
        det_score_thr=args.det_score_thr,
        det_interval=args.det_interval,
        flip_test=args.flip_test,
        nms=None if args.nms == 'none' else dict(
            kernel=args.nms, sigma=args.nms_sigma, score_thr=args.nms_thr),
        track=args.track,
        smooth=dict(min_cutoff=args.smooth_min_cutoff, beta=args.smooth_beta,
                    d_cutoff=args.smooth_d_cutoff,
                    centre_beta=args.smooth_centre_beta)
        if args.smooth else None,
        num_threads=args.num_threads)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``mmpose-light-runtime-batch``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.smooth and not args.track:
            raise ValueError('--smooth needs --track')
        if args.det_model and args.det_file:
            raise ValueError('give --det-file or --det-model, not both')
        if not osp.isfile(args.model) and not is_ncnn_model(args.model):
            raise FileNotFoundError(f'model {args.model!r} does not exist')
        summary = run_batch(
            args.inputs, args.out, config_from_args(args),
            engine=args.engine, workers=args.workers, address=args.address,
            resume=args.resume, overwrite=args.overwrite,
            progress=None if args.no_progress else sys.stderr)
    except (FileNotFoundError, ImportError, ValueError, TypeError,
            ConnectionError, RuntimeError) as error:
        parser.exit(2, f'{parser.prog}: error: {error}\n')
    print(f'{summary["inputs"]} input(s): {summary["done"]} done, '
          f'{summary["skipped"]} skipped (already done), '
          f'{summary["failed"]} failed; {summary["frames"]} frame(s) '
          f'written; manifest {summary["manifest"]}')
    return 1 if summary['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())

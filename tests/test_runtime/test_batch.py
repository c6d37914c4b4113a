"""mmpose-light-runtime-batch: many inputs, one result file each, on the
local engine and on a local Ray cluster; a worker killed mid-video, the
driver killed mid-run and resumed; bad inputs."""
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from mmpose_light_runtime import read_image
from mmpose_light_runtime.batch import (FAULT_ENV, collect_inputs, main,
                                        run_batch)
from mmpose_light_runtime.cli import main as cli_main
from tiny_models import IMAGE, SAMPLE, write_moving_video

NUM_FRAMES = 8
NUM_INPUTS = 10  # of the driver-kill test
OPTIONS = ['--track', '--smooth', '--num-threads', '1', '--no-progress']


@pytest.fixture(scope='module')
def archive(tmp_path_factory):
    """Two videos (one moving right, one down) and the sample images."""
    folder = tmp_path_factory.mktemp('archive')
    image = read_image(IMAGE)
    videos = []
    for name, shift in (('right', (4., 0.)), ('down', (0., 3.))):
        sub = folder / name
        sub.mkdir()
        path, _ = write_moving_video(image, sub, shift, NUM_FRAMES, 10.)
        videos.append(str(folder / f'{name}.avi'))
        os.replace(path, videos[-1])
    return dict(folder=str(folder), videos=videos)


def results(out_dir):
    """Input path to its result file's frames, from the manifest."""
    with open(osp.join(out_dir, 'manifest.jsonl')) as f:
        rows = [json.loads(line) for line in f]
    found = {}
    for row in rows:
        assert row['status'] in ('done', 'skipped'), row
        with open(osp.join(out_dir, 'results', row['result'])) as f:
            found[row['input']] = json.load(f)['frames']
    return rows, found


def single_process(pose_model, path, tmp_path):
    """The single-input command's poses of a video, by frame."""
    out = tmp_path / f'{osp.basename(path)}.json'
    cli_main([pose_model, path, '--json', str(out)] + OPTIONS)
    frames = {}
    for pose in json.loads(out.read_text()):
        frames.setdefault(pose['image_id'], []).append(pose)
    return frames


@pytest.fixture(scope='module')
def local_run(pose_model, archive, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('local'))
    main([pose_model, *archive['videos'], SAMPLE, '--out', out] + OPTIONS)
    return out


def test_local_results_are_the_single_process_commands(
        local_run, archive, pose_model, tmp_path):
    rows, found = results(local_run)
    images = sorted(n for n in os.listdir(SAMPLE) if n.endswith('.jpg'))
    assert len(rows) == 2 + len(images)
    for video in archive['videos']:
        frames = found[video]
        assert [f['frame'] for f in frames] == list(range(NUM_FRAMES))
        reference = single_process(pose_model, video, tmp_path)
        for frame in frames:
            assert frame['poses'] == reference.get(frame['frame'], [])
        assert all('track_id' in p for f in frames for p in f['poses'])
    row = next(r for r in rows if r['input'] == archive['videos'][0])
    assert row['frames_decoded'] == row['frames_written'] == NUM_FRAMES
    assert row['options']['track'] and row['options']['smooth']
    assert row['models']['model'] == osp.abspath(pose_model)
    assert len(row['content_sha256']) == 64 and row['error'] is None


def test_ray_engine_gives_the_same_files(local_run, archive, pose_model,
                                         tmp_path):
    pytest.importorskip('ray')
    out = str(tmp_path / 'ray')
    main([pose_model, *archive['videos'], SAMPLE, '--out', out, '--engine',
          'ray', '--workers', '2'] + OPTIONS)
    for name in os.listdir(osp.join(local_run, 'results')):
        with open(osp.join(local_run, 'results', name), 'rb') as f:
            local = f.read()
        with open(osp.join(out, 'results', name), 'rb') as f:
            assert f.read() == local


def test_worker_killed_mid_video_loses_and_repeats_nothing(
        local_run, archive, pose_model, tmp_path, monkeypatch):
    """Two Ray workers; each video kills its worker at a seeded frame on
    its first attempt. Ray restarts the actor and retries the video:
    every (input, frame) is in the results once, as the run without
    faults has it."""
    pytest.importorskip('ray')
    frame = int(np.random.default_rng(7).integers(1, NUM_FRAMES - 1))
    faults = tmp_path / 'faults'
    faults.mkdir()
    monkeypatch.setenv(FAULT_ENV, f'{faults}:{frame}')
    out = str(tmp_path / 'faulty')
    main([pose_model, *archive['videos'], '--out', out, '--engine', 'ray',
          '--workers', '2'] + OPTIONS)
    rows, found = results(out)
    # each video's first worker died: the rows name the restarted ones
    assert len(os.listdir(faults)) == 2
    _, reference = results(local_run)
    pairs = [(video, f['frame']) for video in archive['videos']
             for f in found[video]]
    assert len(pairs) == len(set(pairs)) == 2 * NUM_FRAMES
    for video in archive['videos']:
        assert found[video] == reference[video]
    assert sorted(os.listdir(osp.join(out, 'results'))) == sorted(
        r['result'] for r in rows)


def test_driver_killed_then_resumed(archive, pose_model, tmp_path):
    """SIGKILL the command once the first result is written; --resume
    keeps the finished results byte for byte (not rewritten) and does the
    rest, and leaves no temporary file."""
    inputs = tmp_path / 'inputs'
    inputs.mkdir()
    image = read_image(IMAGE)
    for i in range(NUM_INPUTS):
        sub = tmp_path / f'v{i}'
        sub.mkdir()
        path, _ = write_moving_video(image, sub, (i + 1., 0.), NUM_FRAMES,
                                     10.)
        os.replace(path, inputs / f'video{i}.avi')
    out = tmp_path / 'out'
    command = [sys.executable, '-m', 'mmpose_light_runtime.batch',
               pose_model, str(inputs), '--out', str(out)] + OPTIONS
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    results_dir = out / 'results'
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if results_dir.is_dir() and any(
                n.endswith('.json') and not n.startswith('.')
                for n in os.listdir(results_dir)):
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {
        name: ((results_dir / name).read_bytes(),
               (results_dir / name).stat().st_mtime_ns)
        for name in os.listdir(results_dir) if not name.startswith('.')
    }
    assert 0 < len(finished) < NUM_INPUTS, 'the driver was not killed mid-run'
    assert not (out / 'manifest.jsonl').exists()

    subprocess.run(command + ['--resume'], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows, found = results(str(out))
    assert len(rows) == NUM_INPUTS
    skipped = {r['result'] for r in rows if r['status'] == 'skipped'}
    assert skipped == set(finished)
    for name, (data, mtime) in finished.items():
        assert (results_dir / name).read_bytes() == data
        assert (results_dir / name).stat().st_mtime_ns == mtime
    assert all(len(frames) == NUM_FRAMES for frames in found.values())
    leftovers = [n for n in os.listdir(out) + os.listdir(results_dir)
                 if n.startswith('.')]
    assert leftovers == []


def test_resume_redoes_exactly_what_changed(archive, pose_model, tmp_path):
    out = str(tmp_path / 'out')
    first = run_batch([archive['videos'][0]], out,
                      dict(model=pose_model, num_threads=1, track=True))
    assert first['done'] == 1
    # the same run: skipped; another input: done
    again = run_batch(archive['videos'], out,
                      dict(model=pose_model, num_threads=1, track=True),
                      resume=True)
    assert (again['skipped'], again['done']) == (1, 1)
    # another option is another run: refused, unless --overwrite
    with pytest.raises(ValueError, match='holds results of another model '
                       'or options'):
        run_batch(archive['videos'], out,
                  dict(model=pose_model, num_threads=1, track=False))
    changed = run_batch(archive['videos'], out,
                        dict(model=pose_model, num_threads=1, track=False),
                        overwrite=True)
    assert changed['done'] == 2 and changed['skipped'] == 0
    # --resume of the changed run: nothing left to do
    assert run_batch(archive['videos'], out,
                     dict(model=pose_model, num_threads=1, track=False),
                     resume=True)['skipped'] == 2


def test_corrupt_input_is_marked_failed_and_the_run_goes_on(
        archive, pose_model, tmp_path, capsys):
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'not a video at all' * 100)
    out = str(tmp_path / 'out')
    code = main([pose_model, str(bad), archive['videos'][0], '--out', out] +
                OPTIONS)
    assert code == 1
    assert '1 done, 0 skipped (already done), 1 failed' in \
        capsys.readouterr().out
    with open(osp.join(out, 'manifest.jsonl')) as f:
        rows = {json.loads(line)['input']: json.loads(line) for line in f}
    failed = rows[str(bad)]
    assert failed['status'] == 'failed' and failed['frames_written'] == 0
    assert 'cannot open video' in failed['error']
    assert rows[archive['videos'][0]]['status'] == 'done'


def test_inputs_from_folders_globs_and_lists(archive, tmp_path):
    listing = tmp_path / 'list.txt'
    listing.write_text('# the videos\n' + '\n'.join(
        osp.relpath(v, tmp_path) for v in archive['videos']) + '\n\n')
    assert collect_inputs([f'@{listing}']) == archive['videos']
    assert collect_inputs([osp.join(archive['folder'], '*.avi')]) == sorted(
        archive['videos'])
    # a folder: its images and videos; each input once
    assert collect_inputs([archive['folder'], archive['videos'][0]]) == \
        sorted(archive['videos'])
    with pytest.raises(FileNotFoundError, match='nowhere.mp4'):
        collect_inputs(['nowhere.mp4'])
    with pytest.raises(FileNotFoundError, match='matches no file'):
        collect_inputs([str(tmp_path / '*.mkv')])
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='no image or video'):
        collect_inputs([str(empty)])


def test_bad_command_lines_are_named(pose_model, archive, tmp_path, capsys):
    cases = [
        ([pose_model, 'nowhere.mp4'], "input 'nowhere.mp4' does not exist"),
        (['nowhere.onnx', archive['videos'][0]],
         "model 'nowhere.onnx' does not exist"),
        ([pose_model, archive['videos'][0], '--engine', 'ray', '--address',
          '127.0.0.1:1'], "the Ray cluster at '127.0.0.1:1' does not answer"),
    ]
    for argv, message in cases:
        if '--address' in argv:
            pytest.importorskip('ray')
        with pytest.raises(SystemExit) as error:
            main(argv + ['--out', str(tmp_path / 'out'), '--no-progress'])
        assert error.value.code == 2
        assert message in capsys.readouterr().err
    # `mmpose-light-runtime batch ...` is the same command
    with pytest.raises(SystemExit) as error:
        cli_main(['batch', '--help'])
    assert error.value.code == 0
    assert 'mmpose-light-runtime-batch' in capsys.readouterr().out


def test_several_workers_run_on_one_thread_each(archive, pose_model,
                                                tmp_path, monkeypatch):
    """Without --num-threads, each of several workers takes one thread
    (the engines' default, every core, in each would oversubscribe)."""
    from mmpose_light_runtime import batch
    seen = []
    local_rows = batch._local_rows

    def record(inputs, config, *args):
        seen.append(config.get('num_threads'))
        return local_rows(inputs, config, *args)

    monkeypatch.setattr(batch, '_local_rows', record)
    for workers in (1, 2):
        summary = batch.run_batch(archive['videos'],
                                  str(tmp_path / f'w{workers}'),
                                  dict(model=pose_model), workers=workers)
        assert summary['done'] == 2
    assert seen == [None, 1]


def test_local_worker_death_is_named_and_resumable(archive, pose_model,
                                                   tmp_path, monkeypatch,
                                                   capsys):
    """A local pool does not restart workers: the command stops naming
    --resume, which then finishes the job."""
    from mmpose_light_runtime.fileio import sha256_file
    faults = tmp_path / 'faults'
    faults.mkdir()
    # only the first video kills its worker (a marker spares the second)
    (faults / sha256_file(archive['videos'][1])).touch()
    monkeypatch.setenv(FAULT_ENV, f'{faults}:2')
    out = str(tmp_path / 'out')
    argv = [pose_model, *archive['videos'], '--out', out, '--workers', '2']
    with pytest.raises(SystemExit) as error:
        main(argv + OPTIONS)
    assert error.value.code == 2
    assert 'a local worker process died' in capsys.readouterr().err
    assert main(argv + OPTIONS + ['--resume']) == 0
    rows, found = results(out)
    assert all(len(frames) == NUM_FRAMES for frames in found.values())


def test_detector_in_batch_gives_the_single_commands_boxes(
        archive, pose_model, tmp_path):
    """--det-model reaches every worker, with the single-input command's
    engine and threshold: the same poses as that command."""
    from tiny_models import detector_meta, save_detector
    det = save_detector(tmp_path / 'det.onnx',
                        [[4, 4, 24, 44], [30, 10, 60, 50]], [0.9, 0.8],
                        detector_meta())
    video = archive['videos'][0]
    options = ['--det-model', det, '--det-score-thr', '0.5'] + OPTIONS
    out = str(tmp_path / 'out')
    main([pose_model, video, '--out', out] + options)
    _, found = results(out)
    single = tmp_path / 'single.json'
    cli_main([pose_model, video, '--json', str(single)] + options)
    reference = json.loads(single.read_text())
    assert [p for f in found[video] for p in f['poses']] == reference
    assert len(reference) == 2 * NUM_FRAMES

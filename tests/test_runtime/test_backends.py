"""The engines behind TopdownEstimator: OpenVINO against ONNX Runtime on
the tiny model, and a clear error where OpenVINO is missing."""
import subprocess
import sys

import numpy as np
import pytest

from mmpose_light_runtime import TopdownEstimator, create_backend
from mmpose_light_runtime.backends import BACKENDS, OpenVINOBackend
from tiny_models import ROOT, gt_boxes, pose_graph, save_model


def test_importing_the_runtime_does_not_import_openvino():
    code = ('import sys, mmpose_light_runtime, mmpose_light_runtime.cli, '
            'mmpose_light_runtime.backends; '
            'print("openvino" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code],
                         capture_output=True,
                         text=True,
                         check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == 'False'


def test_missing_openvino_names_the_extra(pose_model, monkeypatch):
    # a None entry makes ``import openvino`` raise ImportError
    monkeypatch.setitem(sys.modules, 'openvino', None)
    hint = r'pip install "mmpose-light-runtime\[openvino\]"'
    with pytest.raises(ImportError, match=hint):
        create_backend('openvino', pose_model)
    with pytest.raises(ImportError, match="backend 'openvino' needs"):
        TopdownEstimator(pose_model, backend='openvino')
    # ONNX Runtime does not need it
    assert TopdownEstimator(pose_model).backend.metadata


def test_unknown_backend_lists_openvino(pose_model):
    assert BACKENDS['openvino'] is OpenVINOBackend
    with pytest.raises(ValueError, match=r"'onnxrt'.*'openvino'"):
        create_backend('onnxrt', pose_model)


@pytest.fixture(scope='module')
def openvino():
    return pytest.importorskip('openvino')


def test_openvino_reads_the_metadata_and_shapes(openvino, pose_model):
    ov = create_backend('openvino', pose_model, num_threads=1)
    ort = create_backend('onnxruntime', pose_model)
    assert ov.metadata == ort.metadata and 'mmpose_light' in ov.metadata
    assert ov.input_name == ort.input_name == 'input'
    assert ov.input_shape == [None, 3, 64, 48]
    assert ov.output_names == ort.output_names == ['heatmaps']
    assert ov.compiled.get_property('INFERENCE_NUM_THREADS') == 1


@pytest.mark.parametrize('batch', [1, 5])
def test_openvino_outputs_match_onnxruntime(openvino, pose_model, batch):
    ov = create_backend('openvino', pose_model)
    ort = create_backend('onnxruntime', pose_model)
    x = np.random.default_rng(batch).normal(size=(batch, 3, 64, 48))
    x = x.astype(np.float32)
    (out_ov, ), (out_ort, ) = ov.run(x), ort.run(x)
    assert out_ov.shape == out_ort.shape == (batch, 17, 16, 12)
    rel = np.abs(out_ov - out_ort).max() / np.abs(out_ort).max()
    assert rel <= 1e-3


def test_openvino_estimator_matches_onnxruntime(openvino, pose_model,
                                                sample_image):
    boxes = gt_boxes()
    ov = TopdownEstimator(pose_model, backend='openvino', num_threads=1)
    ort = TopdownEstimator(pose_model, num_threads=1)
    for flip_test in (False, True):
        ov.flip_test = ort.flip_test = flip_test
        got = ov.predict(sample_image, boxes)
        want = ort.predict(sample_image, boxes)
        # all crops in one batch on a dynamic batch axis
        assert got.keypoints.shape == (len(boxes), 17, 2)
        distance = np.linalg.norm(got.keypoints - want.keypoints, axis=-1)
        assert distance.max() <= 0.5
        np.testing.assert_allclose(got.keypoint_scores,
                                   want.keypoint_scores, atol=1e-3)


def test_openvino_file_without_metadata(openvino, tmp_path):
    path = save_model(pose_graph(), str(tmp_path / 'bare.onnx'))
    assert create_backend('openvino', path).metadata == {}
    with pytest.raises(ValueError, match="has no 'mmpose_light' metadata"):
        TopdownEstimator(path, backend='openvino')


def test_openvino_bad_files(openvino, tmp_path):
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'not a model')
    with pytest.raises(ValueError, match='OpenVINO cannot read'):
        create_backend('openvino', str(junk))
    with pytest.raises(FileNotFoundError, match='does not exist'):
        create_backend('openvino', str(tmp_path / 'missing.onnx'))
    with pytest.raises(ValueError, match='`num_threads` should be'):
        create_backend('openvino', str(junk), num_threads=0)


@pytest.mark.parametrize('workers, batch, sizes, rest', [
    (2, 5, [2, 2], 1),
    (2, 6, [3, 3], 0),
    (3, 5, [2, 2, 1], 0),
    (3, 7, [2, 2, 2], 1),
    (4, 2, [1, 1], 0),
    (2, 1, [], 1),
])
def test_onnxruntime_splits_a_batch_across_workers(pose_model, monkeypatch,
                                                   workers, batch, sizes,
                                                   rest):
    whole = create_backend('onnxruntime', pose_model, num_threads=1)
    split = create_backend('onnxruntime', pose_model, num_threads=workers)
    assert whole.num_workers == 1 and split.num_workers == workers
    chunks = []
    run_chunk = split._run_chunk

    def record(chunk):
        chunks.append(chunk.copy())
        return run_chunk(chunk)

    monkeypatch.setattr(split, '_run_chunk', record)
    intra_op = []
    session_run = split.session.run

    class Session:
        """Records the batches of the intra-op session."""

        def run(self, names, feed):
            intra_op.append(len(feed['input']))
            return session_run(names, feed)

    monkeypatch.setattr(split, 'session', Session())
    inputs = np.random.default_rng(0).standard_normal(
        (batch, 3, 64, 48)).astype(np.float32)
    out = split.run(inputs)
    # one chunk per worker (recorded as they start, in any order); a
    # single crop, and one left over, run on the intra-op session
    assert sorted(len(c) for c in chunks) == sorted(sizes)
    assert intra_op == ([rest] if rest else [])
    assert all(c.flags.c_contiguous for c in chunks)
    # every crop once, in batch order
    expected = whole.run(inputs)
    assert [o.shape for o in out] == [o.shape for o in expected]
    for a, b in zip(out, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_default_workers_are_the_usable_cores(pose_model):
    from mmpose_light_runtime.timing import usable_cores
    backend = create_backend('onnxruntime', pose_model)
    assert backend.num_workers == usable_cores()
    # ONNX Runtime's own intra-op settings: its threads spin between
    # operators, which a single crop on an otherwise idle CPU needs
    options = backend.session.get_session_options()
    assert options.intra_op_num_threads == 0
    backend = create_backend('onnxruntime', pose_model, num_threads=2)
    assert backend._chunk_session is None
    backend.run(np.zeros((2, 3, 64, 48), np.float32))
    # the chunks' session has no intra-op threads to spin
    chunk_options = backend._chunk_session.get_session_options()
    assert chunk_options.intra_op_num_threads == 1


def test_split_batches_keep_the_keypoints(pose_model, sample_image):
    boxes = np.concatenate([gt_boxes(), gt_boxes() + 3.])
    one = TopdownEstimator(pose_model, num_threads=1).predict(
        sample_image, boxes)
    estimator = TopdownEstimator(pose_model, num_threads=2, flip_test=True)
    assert estimator.backend.num_workers == 2
    flipped = TopdownEstimator(pose_model, num_threads=1, flip_test=True)
    for result, reference in (
            (TopdownEstimator(pose_model, num_threads=2).predict(
                sample_image, boxes), one),
            (estimator.predict(sample_image, boxes),
             flipped.predict(sample_image, boxes))):
        np.testing.assert_allclose(result.keypoints, reference.keypoints,
                                   atol=1e-4)
        np.testing.assert_allclose(result.keypoint_scores,
                                   reference.keypoint_scores, rtol=1e-5,
                                   atol=1e-6)


def test_split_batches_from_several_threads(pose_model):
    from concurrent.futures import ThreadPoolExecutor
    backend = create_backend('onnxruntime', pose_model, num_threads=2)
    reference = create_backend('onnxruntime', pose_model, num_threads=1)
    rng = np.random.default_rng(0)
    batches = [
        rng.standard_normal((n, 3, 64, 48)).astype(np.float32)
        for n in (2, 3, 4, 5)
    ]
    # the first calls race to load the chunks' session and pool
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(backend.run, batches))
    for inputs, out in zip(batches, results):
        np.testing.assert_allclose(out[0], reference.run(inputs)[0],
                                   rtol=1e-5, atol=1e-6)

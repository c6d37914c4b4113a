"""The ncnn engine and the conversion to it, on tiny ONNX models: the
checked conversion (fp32 and fp16), the rewrite of the 6-D phase
interleave, the check failing on a wrong file, bad inputs, and the
command on a video with the detector and the pose model on ncnn, tracked
and smoothed, with no ONNX Runtime session. Skipped where ncnn (and, for
conversions, pnnx) is not installed: the plain runtime install has
neither."""
import json
import os
import os.path as osp

import numpy as np
import pytest

from mmpose_light_runtime import OnnxDetector, TopdownEstimator
from mmpose_light_runtime.backends import NcnnBackend, backend_for
from mmpose_light_runtime.cli import main as cli_main
from mmpose_light_runtime.meta import ncnn_files, read_ncnn_meta
from tiny_models import (IMAGE, SAMPLE, detector_meta, gt_boxes, pose_graph,
                         pose_meta, save_model, write_moving_video)

ncnn = pytest.importorskip('ncnn')
onnx = pytest.importorskip('onnx')
ncnn_export = pytest.importorskip('mmpose_light_runtime.ncnn_export')
try:
    ncnn_export.pnnx_executable()
except ImportError:
    pytest.skip('pnnx is not installed', allow_module_level=True)

export_ncnn = ncnn_export.export_ncnn
ConversionError = ncnn_export.ConversionError
IMAGES = [IMAGE]


def person_detector_graph(boxes, scores, size):
    """An exported-format detector: fixed boxes (1, P, 4) and scores
    (1, P) plus a small conv of the input on every score (pnnx needs the
    outputs to depend on the input)."""
    from onnx import TensorProto, helper, numpy_helper
    width, height = size
    boxes = np.asarray(boxes, np.float32)
    weight = np.random.default_rng(0).normal(0, 1e-3, (1, 3, 8, 8))
    nodes = [
        helper.make_node('Conv', ['input', 'w'], ['conv'], strides=[8, 8]),
        helper.make_node('GlobalAveragePool', ['conv'], ['pooled']),
        helper.make_node('Reshape', ['pooled', 'flat'], ['mean']),
        helper.make_node('Add', ['fixed_scores', 'mean'], ['scores']),
        helper.make_node('Mul', ['mean', 'zero'], ['nothing']),
        helper.make_node('Unsqueeze', ['nothing', 'last'], ['nothing3']),
        helper.make_node('Add', ['fixed_boxes', 'nothing3'], ['boxes']),
    ]
    inits = [
        numpy_helper.from_array(weight.astype(np.float32), 'w'),
        numpy_helper.from_array(np.array([1, 1], np.int64), 'flat'),
        numpy_helper.from_array(boxes[None], 'fixed_boxes'),
        numpy_helper.from_array(
            np.asarray(scores, np.float32)[None], 'fixed_scores'),
        numpy_helper.from_array(np.float32(0), 'zero'),
        numpy_helper.from_array(np.array([2], np.int64), 'last'),
    ]
    return helper.make_graph(
        nodes, 'tiny_person_detector', [
            helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                          [1, 3, height, width])
        ], [
            helper.make_tensor_value_info('boxes', TensorProto.FLOAT,
                                          [1, len(boxes), 4]),
            helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                          [1, len(boxes)])
        ], inits)


def save_person_detector(path, boxes, scores, size, **postprocess):
    from onnx import helper, save
    model = helper.make_model(
        person_detector_graph(boxes, scores, size),
        opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    meta = detector_meta(**postprocess)
    meta['input_size'] = list(size)
    entry = model.metadata_props.add()
    entry.key = 'mmpose_light_detector'
    entry.value = json.dumps(meta)
    save(model, str(path))
    return str(path)


def interleave_graph(channels=8, height=6, width=5):
    """A 1x1 conv, then MobilePoseNet's phase interleave exactly as
    ``interleave_phases`` exports it: a 6-D reshape and transpose."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(1)
    weight = rng.normal(0, 1, (channels, 3, 1, 1)).astype(np.float32)
    nodes = [
        helper.make_node('Conv', ['input', 'w'], ['conv']),
        helper.make_node('Reshape', ['conv', 'shape6'], ['grouped']),
        helper.make_node(
            'Transpose', ['grouped'], ['swapped'], perm=[0, 1, 2, 3, 5, 4]),
        helper.make_node('Reshape', ['swapped', 'shape4'], ['heatmaps']),
    ]
    inits = [
        numpy_helper.from_array(weight, 'w'),
        numpy_helper.from_array(
            np.array([-1, channels, height, 2, 2, width], np.int64),
            'shape6'),
        numpy_helper.from_array(
            np.array([-1, channels, 2 * height, 2 * width], np.int64),
            'shape4'),
    ]
    return helper.make_graph(nodes, 'interleave', [
        helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                      ['batch', 3, height, 4 * width])
    ], [
        helper.make_tensor_value_info(
            'heatmaps', TensorProto.FLOAT,
            ['batch', channels, 2 * height, 2 * width])
    ], inits)


@pytest.fixture(scope='module')
def converted(tmp_path_factory, pose_model):
    """The tiny pose model converted in fp32 and in fp16."""
    folder = tmp_path_factory.mktemp('ncnn')
    return {
        precision: export_ncnn(
            pose_model,
            str(folder / f'pose-{precision}'),
            images=IMAGES,
            fp16=precision == 'fp16')
        for precision in ('fp32', 'fp16')
    }


def test_conversion_writes_three_files_with_the_onnx_metadata(
        converted, pose_model):
    result = converted['fp32']
    param, weights, meta_file = result['files']
    assert all(osp.isfile(path) for path in result['files'])
    assert param.endswith('.ncnn.param') and weights.endswith('.ncnn.bin')
    meta = read_ncnn_meta(param)
    model = onnx.load(pose_model)
    assert meta['metadata_props'] == {
        e.key: e.value
        for e in model.metadata_props
    }
    assert meta['precision'] == 'fp32'
    assert meta['input'] == dict(name='input', blob='in0',
                                 shape=[1, 3, 64, 48])
    assert meta['outputs'] == [
        dict(name='heatmaps', blob='out0', shape=[1, 17, 16, 12])
    ]
    # 12 crops: the whole image and its halves
    assert meta['check']['crops'] == 3 * len(IMAGES)
    assert meta['check']['max_keypoint_px'] <= 0.5
    # no temporary folder is left beside the files
    assert sorted(os.listdir(osp.dirname(param))) == sorted(
        osp.basename(p) for r in converted.values() for p in r['files'])


def test_fp16_weights_are_half_the_size_and_checked(converted):
    fp32 = os.path.getsize(converted['fp32']['files'][1])
    fp16 = os.path.getsize(converted['fp16']['files'][1])
    assert fp16 < 0.6 * fp32
    check = converted['fp16']['check']
    assert check['tolerances']['keypoint_px'] == 2.
    assert check['max_keypoint_px'] <= 2.
    assert read_ncnn_meta(converted['fp16']['files'][0])['precision'] == \
        'fp16'


@pytest.mark.parametrize('flip_test', [False, True])
def test_ncnn_estimator_matches_onnxruntime(converted, pose_model, flip_test,
                                            sample_image):
    boxes = gt_boxes()
    ours = TopdownEstimator(
        converted['fp32']['files'][0], flip_test=flip_test,
        num_threads=1).predict(sample_image, boxes)
    reference = TopdownEstimator(
        pose_model, flip_test=flip_test).predict(sample_image, boxes)
    assert len(ours) == len(reference) == len(boxes)
    np.testing.assert_allclose(ours.keypoints, reference.keypoints,
                               atol=1e-3)
    np.testing.assert_allclose(ours.keypoint_scores,
                               reference.keypoint_scores, atol=1e-5)


def test_backend_is_picked_by_the_file(converted, pose_model):
    param, weights, meta_file = converted['fp32']['files']
    for path in (param, weights, meta_file):
        assert backend_for(path) == 'ncnn'
        assert isinstance(TopdownEstimator(path).backend, NcnnBackend)
    assert backend_for(pose_model) == 'onnxruntime'
    assert backend_for(param, 'openvino') == 'openvino'


def test_ncnn_batch_runs_every_crop(converted, pose_model):
    backend = NcnnBackend(converted['fp32']['files'][0], num_threads=2)
    rng = np.random.default_rng(0)
    inputs = rng.normal(0, 1, (5, 3, 64, 48)).astype(np.float32)
    [heatmaps] = backend.run(inputs)
    assert heatmaps.shape == (5, 17, 16, 12)
    one = [backend.run(inputs[i:i + 1])[0][0] for i in range(5)]
    np.testing.assert_array_equal(heatmaps, np.stack(one))
    [empty] = backend.run(inputs[:0])
    assert empty.shape == (0, 17, 16, 12)
    with pytest.raises(ValueError, match=r'shape \(N, 3, 64, 48\)'):
        backend.run(inputs[:, :, :32])


def test_rewrite_removes_rank_6_and_keeps_the_function(tmp_path):
    import onnxruntime as ort
    path = save_model(interleave_graph(), str(tmp_path / 'six.onnx'))
    model = onnx.load(path)
    assert ncnn_export.rewrite_for_ncnn(model) == 1
    ops = [node.op_type for node in model.graph.node]
    assert ops == [
        'Conv', 'Split', 'Concat', 'Reshape', 'Transpose', 'Reshape',
        'DepthToSpace'
    ]
    onnx.checker.check_model(model)
    rewritten = str(tmp_path / 'four.onnx')
    onnx.save(model, rewritten)
    inputs = np.random.default_rng(2).normal(
        0, 1, (2, 3, 6, 20)).astype(np.float32)
    before = ort.InferenceSession(path).run(None, {'input': inputs})[0]
    after = ort.InferenceSession(rewritten).run(None, {'input': inputs})[0]
    np.testing.assert_array_equal(before, after)
    # the interleave itself, by index: phase (a, b) of column block p
    conv = before  # (2, 8, 12, 10)
    grouped = np.einsum('oi,nihw->nohw',
                        np.random.default_rng(1).normal(
                            0, 1, (8, 3)).astype(np.float32), inputs)
    for a in (0, 1):
        for b in (0, 1):
            phase = grouped[..., (2 * a + b) * 5:(2 * a + b + 1) * 5]
            np.testing.assert_allclose(conv[:, :, a::2, b::2], phase,
                                       atol=1e-5)


def test_interleaving_model_converts_and_matches(tmp_path):
    """The 6-D pattern alone defeats pnnx and ncnn (rank 4 at most);
    rewritten, it runs in ncnn and equals ONNX Runtime."""
    path = save_model(interleave_graph(channels=17, height=4, width=3),
                      str(tmp_path / 'interleave.onnx'),
                      pose_meta(input_size=[12, 4]))
    # the metadata's sizes are those of the graph: 12x4 crops, 8x6 maps
    meta = pose_meta(input_size=[12, 4])
    meta['codec'].update(input_size=[12, 4], heatmap_size=[6, 8])
    meta_file = tmp_path / 'meta.json'
    meta_file.write_text(json.dumps({'mmpose_light': meta}))
    result = export_ncnn(path, str(tmp_path / 'interleave'), images=IMAGES,
                         meta_file=str(meta_file))
    assert result['rewrites'] == 1
    layers = open(result['files'][0]).read()
    assert 'PixelShuffle' in layers and 'Tensor.reshape' not in layers
    assert result['check']['max_output_rel'] < 1e-5


def test_detector_conversion_and_boxes(tmp_path, sample_image):
    boxes = [[4, 4, 24, 44], [9, 4, 29, 44], [40, 10, 60, 30],
             [30, 30, 50, 50]]
    path = save_person_detector(tmp_path / 'det.onnx', boxes,
                                [0.9, 0.8, 0.7, 0.1], (64, 64))
    result = export_ncnn(path, images=IMAGES)
    assert result['kind'] == 'detector'
    assert result['files'][0] == str(tmp_path / 'det.ncnn.param')
    check = result['check']
    assert check['priors'] == 4 * len(IMAGES)
    # 0 and 1 overlap by IoU 0.6: NMS keeps 0 and 2, 3 is below 0.3
    assert check['boxes'] == 2 * len(IMAGES) and check['nms_flips'] == 0
    ours = OnnxDetector(result['files'][0])(sample_image)
    reference = OnnxDetector(path)(sample_image)
    assert isinstance(OnnxDetector(result['files'][0]).backend, NcnnBackend)
    np.testing.assert_allclose(ours[0], reference[0], atol=1e-4)
    np.testing.assert_allclose(ours[1], reference[1], atol=1e-5)


def test_check_fails_on_a_wrong_file_and_writes_nothing(
        tmp_path, pose_model, monkeypatch):
    """ncnn files of another network (other weights) fail the check."""
    (tmp_path / 'other').mkdir()
    other = save_model(pose_graph(seed=1),
                       str(tmp_path / 'other' / 'other.onnx'), pose_meta())
    real_run = ncnn_export._run_pnnx

    def run_other(onnx_path, *args):
        return real_run(other, *args)

    monkeypatch.setattr(ncnn_export, '_run_pnnx', run_other)
    out = tmp_path / 'wrong'
    with pytest.raises(ConversionError,
                       match='ncnn and ONNX Runtime differ on 3 crops.*'
                       'outputs relative error'):
        export_ncnn(pose_model, str(out), images=IMAGES)
    assert sorted(os.listdir(tmp_path)) == ['other']


def test_fp16_beyond_a_tight_bound_fails_naming_it(tmp_path, pose_model):
    with pytest.raises(ConversionError, match=r'keypoint scores .* > 1e-09'):
        export_ncnn(pose_model, str(tmp_path / 'tight'), images=IMAGES,
                    fp16=True, tolerances=dict(keypoint_score=1e-9))
    assert os.listdir(tmp_path) == []


def test_unconvertible_operator_is_named_and_nothing_is_lost(tmp_path):
    """A 6-D transpose that is not our interleave: pnnx cannot take it to
    ncnn (rank 4 at most); an older output stays as it was."""
    from onnx import TensorProto, helper, numpy_helper
    nodes = [
        helper.make_node('Conv', ['input', 'w'], ['conv'], strides=[4, 4]),
        helper.make_node('Reshape', ['conv', 'shape6'], ['six']),
        helper.make_node(
            'Transpose', ['six'], ['t'], perm=[0, 1, 3, 2, 4, 5]),
        helper.make_node('Reshape', ['t', 'shape4'], ['heatmaps']),
    ]
    weight = np.random.default_rng(0).normal(0, 0.1, (17, 3, 4, 4))
    graph = helper.make_graph(nodes, 'six', [
        helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                      [1, 3, 64, 48])
    ], [
        helper.make_tensor_value_info('heatmaps', TensorProto.FLOAT,
                                      [1, 17, 16, 12])
    ], [
        numpy_helper.from_array(weight.astype(np.float32), 'w'),
        numpy_helper.from_array(
            np.array([1, 17, 4, 4, 3, 4], np.int64), 'shape6'),
        numpy_helper.from_array(
            np.array([1, 17, 16, 12], np.int64), 'shape4'),
    ])
    path = save_model(graph, str(tmp_path / 'six.onnx'), pose_meta())
    old = tmp_path / 'six.ncnn.param'
    old.write_text('an older file')
    with pytest.raises(ConversionError,
                       match='pnnx could not convert every operator.*'
                       'ncnn has no layer'):
        export_ncnn(path, images=IMAGES)
    assert old.read_text() == 'an older file'
    assert sorted(os.listdir(tmp_path)) == ['six.ncnn.param', 'six.onnx']


def test_onnx_without_metadata_is_refused_with_the_remedy(tmp_path):
    path = save_model(pose_graph(), str(tmp_path / 'bare.onnx'))
    with pytest.raises(ValueError,
                       match='no .mmpose_light.*tools/export_onnx.py.*'
                       '--meta'):
        export_ncnn(path, images=IMAGES)
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'something': 1}))
    with pytest.raises(ValueError, match='one key'):
        export_ncnn(path, images=IMAGES, meta_file=str(bad))
    good = tmp_path / 'meta.json'
    good.write_text(json.dumps({'mmpose_light': pose_meta()}))
    result = export_ncnn(path, images=IMAGES, meta_file=str(good))
    assert read_ncnn_meta(result['files'][2])['metadata_props'][
        'mmpose_light'] == json.dumps(pose_meta())
    with pytest.raises(ValueError, match='at least one image'):
        export_ncnn(path, images=[])


def test_missing_or_broken_model_files_are_named(converted, tmp_path):
    param, weights, meta_file = converted['fp32']['files']
    for missing, what in ((weights, 'weights'), (meta_file, 'metadata')):
        folder = tmp_path / what
        folder.mkdir()
        for path in (param, weights, meta_file):
            if path != missing:
                (folder / osp.basename(path)).write_bytes(
                    open(path, 'rb').read())
        copy = str(folder / osp.basename(param))
        with pytest.raises(FileNotFoundError,
                           match=f'lacks its {what} file'):
            TopdownEstimator(copy)
    truncated = tmp_path / 'truncated'
    truncated.mkdir()
    for path in (param, meta_file):
        (truncated / osp.basename(path)).write_bytes(open(path, 'rb').read())
    (truncated / osp.basename(weights)).write_bytes(
        open(weights, 'rb').read()[:100])
    with pytest.raises(ValueError, match='cannot load the weights'):
        TopdownEstimator(str(truncated / osp.basename(param)))
    with pytest.raises(ValueError, match="run it with backend 'ncnn'"):
        TopdownEstimator(param, backend='onnxruntime')
    with pytest.raises(ValueError, match="backend 'ncnn' runs ncnn models"):
        TopdownEstimator(IMAGE, backend='ncnn')


def test_cli_video_on_ncnn_tracked_and_smoothed_without_onnxruntime(
        converted, pose_model, tmp_path, sample_image, monkeypatch):
    """Both networks on ncnn: the same poses and tracks as on ONNX
    Runtime, and no ONNX Runtime session is ever created."""
    video, _ = write_moving_video(sample_image, tmp_path, (4., 1.), 6, 10.)
    # the detector's fixed boxes cover the people over the whole video,
    # in the 64x64 letterbox of the 640x427 frames
    height, width = sample_image.shape[:2]
    scale = 64 / max(height, width)
    boxes = (gt_boxes() + [0, 0, 24, 6]) * scale
    onnx_det = save_person_detector(tmp_path / 'det.onnx', boxes,
                                    np.linspace(0.9, 0.6, len(boxes)),
                                    (64, 64), iou_thr=0.9)
    ncnn_det = export_ncnn(onnx_det, images=IMAGES)['files'][0]
    common = ['--track', '--smooth', '--num-threads', '1', '--no-progress']

    cli_main([pose_model, video, '--det-model', onnx_det, '--json',
              str(tmp_path / 'ort.json')] + common)

    import onnxruntime

    def no_session(*args, **kwargs):
        raise AssertionError('an ONNX Runtime session was created')

    monkeypatch.setattr(onnxruntime, 'InferenceSession', no_session)
    cli_main([converted['fp32']['files'][0], video, '--det-model', ncnn_det,
              '--json', str(tmp_path / 'ncnn.json'), '--out',
              str(tmp_path / 'ncnn.avi')] + common)
    ours = json.loads((tmp_path / 'ncnn.json').read_text())
    reference = json.loads((tmp_path / 'ort.json').read_text())
    assert len(ours) == len(reference) == 6 * len(boxes)
    assert [(e['image_id'], e['track_id']) for e in ours] == \
        [(e['image_id'], e['track_id']) for e in reference]
    assert len({e['track_id'] for e in ours}) == len(boxes)
    np.testing.assert_allclose([e['keypoints'] for e in ours],
                               [e['keypoints'] for e in reference],
                               atol=1e-2)
    assert osp.getsize(tmp_path / 'ncnn.avi') > 0


def test_module_command_converts_and_reports(pose_model, tmp_path, capsys):
    result = ncnn_export.main(
        [pose_model, '--out', str(tmp_path / 'cmd'), '--images', SAMPLE])
    out = capsys.readouterr().out
    assert f'wrote {tmp_path / "cmd.ncnn.param"}' in out
    assert 'keypoints within' in out
    assert result['check']['images'] == len(
        [n for n in os.listdir(SAMPLE) if n.endswith('.jpg')])
    with pytest.raises(SystemExit) as error:
        ncnn_export.main([str(tmp_path / 'absent.onnx'), '--images', SAMPLE])
    assert error.value.code == 2
    assert 'does not exist' in capsys.readouterr().err


def test_ncnn_paths():
    assert ncnn_files('a/m.ncnn.bin') == ('a/m.ncnn.param', 'a/m.ncnn.bin',
                                          'a/m.ncnn.json')
    assert ncnn_files('a/m') == ncnn_files('a/m.ncnn.json')


def test_focus_stem_becomes_an_exact_convolution(tmp_path):
    """YOLOX's Focus: four step-2 slices of the input (two chains share
    their first slice), concatenated along the channels."""
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    inits = [
        numpy_helper.from_array(np.array([v], np.int64), name)
        for name, v in (('zero', 0), ('one', 1), ('big', 2**62), ('h', 2),
                        ('w', 3), ('two', 2))
    ]
    nodes = [
        helper.make_node('Slice', ['input', 'zero', 'big', 'h', 'two'],
                         ['even_rows']),
        helper.make_node('Slice', ['input', 'one', 'big', 'h', 'two'],
                         ['odd_rows']),
    ]
    names = []
    for rows in ('even_rows', 'odd_rows'):
        for start in ('zero', 'one'):
            names.append(f'{rows}_{start}')
            nodes.append(helper.make_node(
                'Slice', [rows, start, 'big', 'w', 'two'], [names[-1]]))
    # YOLOX's order: top-left, bottom-left, top-right, bottom-right
    order = [names[0], names[2], names[1], names[3]]
    nodes.append(helper.make_node('Concat', order, ['focus'], axis=1))
    graph = helper.make_graph(nodes, 'focus', [
        helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                      [1, 3, 8, 6])
    ], [helper.make_tensor_value_info('focus', TensorProto.FLOAT,
                                      [1, 12, 4, 3])], inits)
    path = save_model(graph, str(tmp_path / 'focus.onnx'))
    model = onnx.load(path)
    assert ncnn_export.rewrite_space_to_depth(model) == 1
    assert [n.op_type for n in model.graph.node] == ['Conv']
    rewritten = str(tmp_path / 'conv.onnx')
    onnx.save(model, rewritten)
    inputs = np.random.default_rng(0).normal(
        0, 100, (1, 3, 8, 6)).astype(np.float32)
    before = ort.InferenceSession(path).run(None, {'input': inputs})[0]
    after = ort.InferenceSession(rewritten).run(None, {'input': inputs})[0]
    np.testing.assert_array_equal(before, after)
    np.testing.assert_array_equal(after[0, 3:6], inputs[0, :, 1::2, ::2])


def test_cli_picks_ncnn_by_file_and_names_a_wrong_backend(
        converted, pose_model, tmp_path, capsys):
    out = tmp_path / 'pose.jpg'
    cli_main([converted['fp32']['files'][0], IMAGE, '--out', str(out),
              '--nms', 'none'])
    assert out.stat().st_size > 0
    for argv, message in (
            ([pose_model, '--backend', 'ncnn'],
             "backend 'ncnn' runs ncnn models"),
            ([converted['fp32']['files'][1], '--backend', 'onnxruntime'],
             "is an ncnn model: run it with backend 'ncnn'")):
        with pytest.raises(SystemExit) as error:
            cli_main([argv[0], IMAGE, '--out', str(out)] + argv[1:])
        assert error.value.code == 2
        assert message in capsys.readouterr().err


def test_tol_option_sets_the_bounds_and_names_bad_ones(pose_model, tmp_path,
                                                       capsys):
    argv = [pose_model, '--images', IMAGE, '--out', str(tmp_path / 'x')]
    for extra, message in (
            (['--tol', 'keypoint_px=abc'], "NAME=VALUE with a number, but "
             "got 'keypoint_px=abc'"),
            (['--tol', 'nonsense=1'], "unknown tolerances ['nonsense']"),
            (['--fp16', '--tol', 'keypoint_score=1e-9'],
             'keypoint scores')):
        with pytest.raises(SystemExit) as error:
            ncnn_export.main(argv + extra)
        assert error.value.code == 2
        assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == []
    result = ncnn_export.main(argv + ['--tol', 'keypoint_px=0.25'])
    assert result['check']['tolerances']['keypoint_px'] == 0.25


def test_rounding_note_speaks_only_where_rounding_is_large():
    note = ncnn_export._rounding_note(
        {'scores': 2e-3, 'boxes (relative)': 1e-6},
        {'scores': 1e-3, 'boxes (relative)': 1e-3})
    assert 'amplifies float32 rounding' in note and 'scores by 0.002' in note
    assert 'boxes' not in note and '--tol NAME=VALUE' in note
    assert ncnn_export._rounding_note({'scores': 1e-5}, {'scores': 1e-3}) \
        == ''

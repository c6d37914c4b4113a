"""The rewrite of exported ONNX files for onnxruntime-web (WASM): the same
outputs on ONNX Runtime, the same metadata, MobilePoseNet's LPB phase
convolutions cut to their non-zero taps, other models unchanged, and the
command line's failures writing nothing."""
import os

import numpy as np
import pytest

onnx = pytest.importorskip('onnx')
ort = pytest.importorskip('onnxruntime')
web_export = pytest.importorskip('mmpose_light_runtime.web_export')


def _conv_kernels(model):
    return [
        tuple(a.ints) for n in model.graph.node if n.op_type == 'Conv'
        for a in n.attribute if a.name == 'kernel_shape'
    ]


def _run(model_or_path, inputs):
    data = model_or_path if isinstance(model_or_path, str) \
        else model_or_path.SerializeToString()
    session = ort.InferenceSession(data, providers=['CPUExecutionProvider'])
    return session.run(None, {'input': inputs})


@pytest.fixture(scope='module')
def crops():
    return np.random.default_rng(0).standard_normal(
        (3, 3, 256, 192)).astype(np.float32)


def test_rewrite_cuts_lpb_phases_same_outputs(exports, crops):
    path = exports['heatmap']['path']
    model = onnx.load(path)
    before = model.SerializeToString()
    rewritten = web_export.rewrite_for_web(model)
    assert model.SerializeToString() == before  # the input is not modified
    kernels = _conv_kernels(rewritten)
    # two LPBs, four phase convolutions each: 3x3 -> 2x2
    assert kernels.count((2, 2)) == 8
    assert kernels.count((3, 3)) == _conv_kernels(model).count((3, 3)) - 8
    onnx.checker.check_model(rewritten)
    reference, = _run(path, crops)
    output, = _run(rewritten, crops)
    np.testing.assert_allclose(output, reference, rtol=0, atol=1e-6)
    flat = output.reshape(*output.shape[:2], -1)
    ref_flat = reference.reshape(*reference.shape[:2], -1)
    np.testing.assert_array_equal(flat.argmax(-1), ref_flat.argmax(-1))
    assert {e.key: e.value for e in rewritten.metadata_props} == \
        {e.key: e.value for e in model.metadata_props}


@pytest.mark.parametrize('kind', ['regression', 'simcc'])
def test_rewrite_leaves_other_models(exports, kind):
    model = onnx.load(exports[kind]['path'])
    rewritten = web_export.rewrite_for_web(model)
    assert rewritten.SerializeToString() == model.SerializeToString()


def test_crop_zero_taps_any_stride():
    """A kernel with zero border taps, stride 2 and asymmetric padding:
    the same output after the cut."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(1)
    weight = rng.standard_normal((4, 1, 5, 5)).astype(np.float32)
    weight[:, :, 0] = 0  # top row
    weight[:, :, :, 3:] = 0  # two right columns
    weight[:, :, 4] = 0  # bottom row, but no bottom padding: kept
    node = helper.make_node(
        'Conv', ['input', 'w'], ['y'],
        group=4,
        kernel_shape=[5, 5],
        pads=[2, 1, 0, 2],
        strides=[2, 2])
    graph = helper.make_graph(
        [node], 'g',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       [1, 4, 11, 9])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, 'w')])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    rewritten = web_export.rewrite_for_web(model)
    conv = rewritten.graph.node[0]
    attrs = {a.name: list(a.ints) for a in conv.attribute}
    assert attrs['kernel_shape'] == [4, 3]
    assert attrs['pads'] == [1, 1, 0, 0]
    assert [i.name for i in rewritten.graph.initializer] == [conv.input[1]]
    x = rng.standard_normal((1, 4, 11, 9)).astype(np.float32)
    np.testing.assert_allclose(
        _run(rewritten, x)[0], _run(model, x)[0], rtol=0, atol=1e-5)


def test_cli_writes_checked_copy_with_metadata(exports, crops, tmp_path,
                                               capsys):
    path = exports['heatmap']['path']
    out = str(tmp_path / 'mpn.web.onnx')
    result = web_export.main([path, '--out', out])
    assert 'wrote' in capsys.readouterr().out
    assert result['rewrites'] == 8 and result['kind'] == 'pose'
    assert result['check']['max_rel'] <= web_export.TOLERANCE
    assert result['check']['max_keypoint_px'] <= 1e-3
    original, written = onnx.load(path), onnx.load(out)
    assert {e.key: e.value for e in written.metadata_props} == \
        {e.key: e.value for e in original.metadata_props}
    np.testing.assert_allclose(
        _run(out, crops)[0], _run(path, crops)[0], rtol=0, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ['mpn.web.onnx']


def test_cli_rejects_non_onnx(tmp_path, capsys):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not a model')
    out = tmp_path / 'out.onnx'
    with pytest.raises(SystemExit) as exit_info:
        web_export.main([str(bad), '--out', str(out)])
    assert exit_info.value.code == 2
    assert 'is not an ONNX file' in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ['bad.onnx']


def test_nothing_written_when_check_fails(exports, tmp_path, monkeypatch,
                                          capsys):
    """A rewrite that changed the outputs fails the check: an error, no
    file, no temporary left."""
    from onnx import numpy_helper

    def broken(model):
        # scale the first convolution's weight: different outputs
        conv = next(n for n in model.graph.node if n.op_type == 'Conv')
        init = next(i for i in model.graph.initializer
                    if i.name == conv.input[1])
        init.CopyFrom(
            numpy_helper.from_array(numpy_helper.to_array(init) * 2,
                                    init.name))
        return 1

    monkeypatch.setattr(web_export, '_rewrite', broken)
    out = tmp_path / 'out.onnx'
    with pytest.raises(web_export.RewriteError, match='differs'):
        web_export.export_web(exports['heatmap']['path'], str(out))
    with pytest.raises(SystemExit):
        web_export.main([exports['heatmap']['path'], '--out', str(out)])
    assert 'differs from the original' in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_missing_output_folder(exports, tmp_path):
    with pytest.raises(FileNotFoundError):
        web_export.export_web(exports['simcc']['path'],
                              str(tmp_path / 'no' / 'out.onnx'))

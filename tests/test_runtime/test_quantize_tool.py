"""tools/quantize.py on the two-layer model: quantize, then speed, fidelity
and AP on held-out images; refused input. Runs without PyTorch."""
import os.path as osp

import pytest
from test_quantize import DETS, MPII, two_layer_graph
from tiny_models import SAMPLE, pose_meta, save_model

pytest.importorskip('onnx')


@pytest.fixture(scope='module')
def tool(load_tool):
    return load_tool('quantize')


@pytest.fixture(scope='module')
def float_model(tmp_path_factory):
    path = tmp_path_factory.mktemp('tool') / 'two_layer.onnx'
    return save_model(two_layer_graph(), str(path), pose_meta())


def test_quantizes_and_measures_on_held_out_images(tool, float_model,
                                                   tmp_path, capsys):
    out = str(tmp_path / 'int8.onnx')
    code = tool.main([
        float_model, out, '--calib', MPII, '--eval', SAMPLE,
        '--eval-det-file', DETS, '--det-score-thr', '0.3', '--rounds', '1'
    ])
    assert code == 0 and osp.isfile(out)
    text = capsys.readouterr().out
    assert f'Wrote {out}: calibrated on 5 crop(s); 1 weighted layers in ' \
        'INT8 with ' in text
    assert 'calibration crops from the float ones: 8-bit ' in text
    assert text.rstrip().count('kept in float: final') == 1
    assert '| model | ms b1 | x b1 | ms b8 | x b8 |' in text
    assert '| ONNX Runtime float | ' in text
    assert '| ONNX Runtime INT8 |' in text
    assert 'Fidelity on 33 boxes of 4 held-out image(s)' in text
    assert '| ONNX Runtime INT8 | ONNX Runtime float |' in text
    assert 'OpenVINO' not in text and 'COCO keypoint AP' not in text


def test_openvino_and_coco_ap(tool, float_model, tmp_path, capsys):
    pytest.importorskip('openvino')
    try:
        from mmpose_light_runtime.quantize import coco_api
        coco_api()
    except ImportError:
        pytest.skip('needs xtcocotools or pycocotools')
    code = tool.main([
        float_model,
        str(tmp_path / 'int8.onnx'), '--calib', MPII, '--eval', SAMPLE,
        '--eval-det-file', DETS, '--eval-ann',
        osp.join(SAMPLE, 'test_coco.json'), '--openvino', '--rounds', '1'
    ])
    assert code == 0
    text = capsys.readouterr().out
    assert '| OpenVINO INT8 | ONNX Runtime INT8 |' in text
    assert '| OpenVINO float | ONNX Runtime float | 0.000 |' in text
    ap_table = text.split('COCO keypoint AP')[1].splitlines()
    assert ap_table[1] == '| model | AP | AP .5 | AP .75 | AR |'
    assert [line.split(' | ')[0] for line in ap_table[3:7]] == [
        '| ONNX Runtime float', '| ONNX Runtime INT8', '| OpenVINO float',
        '| OpenVINO INT8'
    ]


def test_fixed_weight_bits(tool, float_model, tmp_path, capsys):
    out = str(tmp_path / 'int8.onnx')
    assert tool.main([float_model, out, '--calib', MPII, '--weight-bits',
                      '7']) == 0
    text = capsys.readouterr().out
    assert 'with 7-bit weights' in text and '8-bit' not in text


@pytest.mark.parametrize('extra, message', [
    (['--eval', MPII], '--eval shares 5 image(s) with --calib'),
    (['--calib', SAMPLE, '--det-file', DETS + '.missing'],
     'does not exist'),
])
def test_refuses_bad_input(tool, float_model, tmp_path, capsys, extra,
                           message):
    out = tmp_path / 'int8.onnx'
    argv = [float_model, str(out), '--calib', MPII] + extra
    assert tool.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_refuses_a_quantized_model(tool, float_model, tmp_path, capsys):
    first = str(tmp_path / 'int8.onnx')
    assert tool.main([float_model, first, '--calib', MPII]) == 0
    assert tool.main([first, str(tmp_path / 'again.onnx'), '--calib',
                      MPII]) == 2
    assert 'is already quantized' in capsys.readouterr().err

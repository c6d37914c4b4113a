"""ONNX export: ONNX Runtime matches PyTorch at any batch, the embedded
pipeline metadata, re-parameterization of training-form models, stock MMPose
configs, and bad input that must leave no file behind."""
import json
import os
import os.path as osp
import stat

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from mmpose_light.deploy import export_onnx
from mmpose_light.deploy import onnx_export as onnx_export_module
from mmpose_light.deploy import training_form_modules
from mmpose_light.models.utils import reparameterize_model
from mmpose_light_runtime import META_KEY

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
STOCK_CONFIG = osp.join(ROOT, 'tests', 'data', 'configs',
                        'stock_mobilenetv2_sample.py')


def read_meta(path):
    model = onnx.load(path)
    props = {p.key: p.value for p in model.metadata_props}
    return json.loads(props[META_KEY])


def conv_nodes(path):
    return sum(node.op_type == 'Conv' for node in onnx.load(path).graph.node)


def conv_modules(model):
    return sum(isinstance(m, nn.Conv2d) for m in model.modules())


@pytest.mark.parametrize('kind', ['heatmap', 'regression'])
@pytest.mark.parametrize('batch', [1, 3])
def test_ort_matches_pytorch_at_any_batch(models, exports, estimators, kind,
                                          batch):
    model, export = models[kind], exports[kind]
    assert export['result']['max_rel_err'] <= 1e-4
    session = estimators[kind].backend.session
    assert isinstance(session.get_inputs()[0].shape[0], str)  # dynamic
    inputs = torch.randn(batch,
                         3,
                         256,
                         192,
                         generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        expected = model._forward(inputs).numpy()
    (output, ) = session.run(None, {'input': inputs.numpy()})
    assert output.shape == expected.shape
    # a network whose output ignores its input would make this vacuous
    assert np.abs(expected[0] - expected[-1]).max() > 0 or batch == 1
    scale = np.abs(expected).max()
    np.testing.assert_allclose(output, expected, rtol=0, atol=1e-4 * scale)


def test_metadata_describes_the_pipeline(models, exports):
    heatmap = read_meta(exports['heatmap']['path'])
    assert heatmap == exports['heatmap']['result']['meta']
    assert heatmap['output_names'] == ['heatmaps']
    assert heatmap['input_size'] == [192, 256]
    assert heatmap['codec'] == dict(type='MSRAHeatmap',
                                    input_size=[192, 256],
                                    heatmap_size=[48, 64],
                                    sigma=2,
                                    unbiased=False,
                                    blur_kernel_size=11)
    preprocessor = models['heatmap'].data_preprocessor
    pre = heatmap['preprocess']
    np.testing.assert_allclose(pre['mean'], preprocessor.mean.flatten())
    np.testing.assert_allclose(pre['std'], preprocessor.std.flatten())
    assert pre['swap_channels'] is True
    assert pre['bbox_padding'] == 1.25 and pre['use_udp'] is False
    dataset = heatmap['dataset_meta']
    assert dataset['num_keypoints'] == 17
    np.testing.assert_allclose(dataset['sigmas'],
                               models['heatmap'].dataset_meta['sigmas'])
    assert len(dataset['skeleton_links']) == len(
        dataset['skeleton_link_colors'])
    assert len(dataset['keypoint_colors']) == 17
    assert heatmap['sigmoid_sigma'] is False

    regression = read_meta(exports['regression']['path'])
    assert regression['codec'] == dict(type='RegressionLabel',
                                       input_size=[192, 256])
    assert regression['output_names'] == ['coords']
    assert regression['sigmoid_sigma'] is True
    # from the config's CocoMetric(score_mode='bbox_rle')
    assert regression['rescore']['score_mode'] == 'bbox_rle'

    # what the runtime's flip test needs: the heads' settings and the
    # keypoints' mirror pairs
    for kind in ('heatmap', 'regression', 'simcc'):
        meta = read_meta(exports[kind]['path'])
        test_cfg = models[kind].test_cfg
        assert meta['test_cfg'] == {
            key: test_cfg[key]
            for key in ('flip_mode', 'shift_heatmap', 'shift_coords')
            if key in test_cfg
        }
        assert meta['dataset_meta']['flip_indices'] == list(
            models[kind].dataset_meta['flip_indices'])
    simcc = read_meta(exports['simcc']['path'])
    assert simcc['output_names'] == ['simcc_x', 'simcc_y']
    assert simcc['codec'] == dict(type='SimCCLabel',
                                  input_size=[192, 256],
                                  simcc_split_ratio=2.0,
                                  use_dark=False,
                                  sigma=[4.9, 5.66])


@pytest.mark.parametrize('kind', ['heatmap', 'regression'])
def test_training_form_is_reparameterized_with_a_warning(
        models, exports, kind):
    # RepNet's RepVGG blocks and MobilePoseNet's LPBs are built in training
    # form by these configs: the export fuses a copy of the model
    model = models[kind]
    export = exports[kind]
    assert any('training form' in w for w in export['warnings'])
    deployed = reparameterize_model(model)
    assert not training_form_modules(deployed)
    if kind == 'regression':
        # three branches fuse into one conv: one Conv node per fused conv
        # (the deploy LPB splits a transposed conv into phase convs, so
        # MobilePoseNet has no such count)
        assert conv_modules(deployed) < conv_modules(model)
        assert conv_nodes(export['path']) == conv_modules(deployed)
    ops = {node.op_type for node in onnx.load(export['path']).graph.node}
    assert 'ConvTranspose' not in ops
    assert 'BatchNormalization' not in ops
    # the caller's model is left as it was
    assert training_form_modules(model)
    assert not model.training


def test_model_without_training_form_exports_quietly(exports):
    # RTMPose has nothing to re-parameterize
    assert not any('training form' in w
                   for w in exports['simcc']['warnings'])


def test_stock_mmpose_heatmap_config(tmp_path):
    from mmpose.apis import init_model
    torch.manual_seed(0)
    model = init_model(STOCK_CONFIG, None, device='cpu')
    out = str(tmp_path / 'stock.onnx')
    result = export_onnx(model, out)
    assert result['max_rel_err'] <= 1e-4
    meta = read_meta(out)
    assert meta['codec']['type'] == 'MSRAHeatmap'
    assert meta['output_names'] == ['heatmaps']


def test_wrong_input_shape_raises_and_writes_nothing(models, tmp_path):
    out = tmp_path / 'bad.onnx'
    with pytest.raises(ValueError, match=r'\(256, 192\)'):
        export_onnx(models['heatmap'], str(out), input_shape=(1, 3, 128, 96))
    with pytest.raises(ValueError, match='1 channels'):
        export_onnx(models['heatmap'], str(out), input_shape=(1, 1, 256, 192))
    for shape in [(1, 3, 256), (1, 3, 256, 0), (1, 3, 256.0, 192)]:
        with pytest.raises(ValueError, match='input_shape'):
            export_onnx(models['heatmap'], str(out), input_shape=shape)
    with pytest.raises(TypeError, match='pose estimator'):
        export_onnx(nn.Conv2d(3, 3, 1), str(out))
    with pytest.raises(ValueError, match='does not exist'):
        export_onnx(models['heatmap'], str(tmp_path / 'no' / 'x.onnx'))
    assert os.listdir(tmp_path) == []


def test_failed_check_keeps_the_old_file(tiny_model, tmp_path, monkeypatch):
    out = tmp_path / 'model.onnx'
    out.write_text('old')
    # no real exporter is that far off; force the check to fail
    monkeypatch.setattr(onnx_export_module, '_compare',
                        lambda outputs, reference: (0.5, 0.25))
    with pytest.raises(RuntimeError, match='relative error 0.25 > 0.0001'):
        export_onnx(tiny_model, str(out), input_shape=(1, 3, 64, 48))
    with pytest.raises(ValueError, match='rel_tol'):
        export_onnx(tiny_model, str(out), (1, 3, 64, 48), rel_tol=0)
    assert out.read_text() == 'old'
    assert os.listdir(tmp_path) == ['model.onnx']


def test_exporter_crash_leaves_no_temp_file(tiny_model, tmp_path, monkeypatch):

    def crash(model, args, f, **kwargs):
        with open(f, 'wb') as file:
            file.write(b'partial')
        raise RuntimeError('exporter crashed')

    monkeypatch.setattr(torch.onnx, 'export', crash)
    with pytest.raises(RuntimeError, match='exporter crashed'):
        export_onnx(tiny_model,
                    str(tmp_path / 'model.onnx'),
                    input_shape=(1, 3, 64, 48))
    assert os.listdir(tmp_path) == []
    assert tiny_model.training is False


TINY_OPTIONS = [
    '--cfg-options', 'model.head.decoder.input_size=(48,64)',
    'model.head.decoder.heatmap_size=(12,16)'
]


def test_tool_exports_a_checkpoint(tiny_model, configs, tmp_path, load_tool):
    tool = load_tool('export_onnx')
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': tiny_model.state_dict()}, checkpoint)
    out = str(tmp_path / 'tiny.onnx')
    result = tool.main([configs['heatmap'], checkpoint, out] + TINY_OPTIONS)
    assert result['max_rel_err'] <= 1e-4
    assert read_meta(out)['input_size'] == [48, 64]
    # the checkpoint's weights made it into the graph
    inputs = torch.randn(2,
                         3,
                         64,
                         48,
                         generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = tiny_model._forward(inputs).numpy()
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    (output, ) = session.run(None, {'input': inputs.numpy()})
    np.testing.assert_allclose(output,
                               expected,
                               rtol=0,
                               atol=1e-4 * np.abs(expected).max())
    assert sorted(os.listdir(tmp_path)) == ['tiny.onnx', 'tiny.pth']
    # the user's normal permissions, not those of a private temporary file
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~umask


def test_tool_bad_input_writes_nothing(tiny_model, configs, tmp_path,
                                       load_tool):
    tool = load_tool('export_onnx')
    out = str(tmp_path / 'x.onnx')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        tool.main([configs['heatmap'], str(tmp_path / 'missing.pth'), out])
    with pytest.raises(FileNotFoundError, match='nowhere.py'):
        tool.main([str(tmp_path / 'nowhere.py'), out, out])
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save({'state_dict': tiny_model.state_dict()}, checkpoint)
    with pytest.raises(ValueError, match='MSRAHeatmap'):
        tool.main([
            configs['heatmap'], checkpoint, out, '--input-shape', '128', '96'
        ] + TINY_OPTIONS)
    with pytest.raises(ValueError, match='--input-shape'):
        tool.main(
            [configs['heatmap'], checkpoint, out, '--input-shape', '0', '48'] +
            TINY_OPTIONS)
    assert sorted(os.listdir(tmp_path)) == ['tiny.pth']

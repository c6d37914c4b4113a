"""The built distributions, installed from their wheels as a user does.

Run by ``tools/check_wheels.sh`` in a fresh environment that holds the two
wheels (not editable) and the OpenMMLab stack, from an empty folder: nothing
of the clone is importable, so each check sees what the wheels ship. The
main test session leaves this folder out (``tests/conftest.py``).
"""
import importlib.metadata as metadata
import os
import os.path as osp
import re
import subprocess
import sys
import sysconfig

import pytest
import yaml

BIN = osp.dirname(sys.executable)
SAMPLE = 'td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-128x96.py'
SAMPLE_REL = 'body_2d_keypoint/topdown_heatmap/coco/' + SAMPLE
# one short epoch on the bundled sample, evaluated once
ONE_EPOCH = [
    '--cfg-options', 'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
    'default_hooks.checkpoint.interval=1'
]


def run(*cmd, cwd=None):
    """Run a command; its output, or a failure that shows it."""
    proc = subprocess.run(
        cmd, cwd=cwd, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f'{" ".join(cmd)} failed:\n{out[-4000:]}'
    return out


@pytest.fixture(scope='module')
def package_dir():
    import mmpose_light
    return osp.dirname(mmpose_light.__file__)


def test_imports_from_site_packages(package_dir):
    import mmpose_light_runtime
    site = sysconfig.get_paths()['purelib']
    for path in (package_dir, osp.dirname(mmpose_light_runtime.__file__)):
        assert osp.commonpath([path, site]) == site, path


def test_wheel_metadata():
    version = metadata.version('mmpose-light')
    assert metadata.version('mmpose-light-runtime') == version
    requires = metadata.requires('mmpose-light')
    assert f'mmpose-light-runtime=={version}' in requires
    for dist in ('mmpose-light', 'mmpose-light-runtime'):
        reqs = metadata.requires(dist) or []
        assert not [r for r in reqs if 'file:' in r or '@' in r], reqs
        files = [str(f) for f in metadata.files(dist)]
        assert any(f.endswith('LICENSE') for f in files), dist


def test_dist_folder_holds_both_sdists_and_wheels():
    dist = os.environ['MMPOSE_LIGHT_DIST']
    names = os.listdir(dist)
    for stem in ('mmpose_light-', 'mmpose_light_runtime-'):
        assert any(n.startswith(stem) and n.endswith('.whl') for n in names)
        assert any(n.startswith(stem) and n.endswith('.tar.gz')
                   for n in names)


def test_import_registers_every_component(package_dir):
    """Every ``@REGISTRY.register_module()`` class in the installed source
    is in MMPose's registry of that name after ``import mmpose_light``."""
    import mmpose.registry

    import mmpose_light  # noqa: F401
    pattern = re.compile(
        r'@(\w+)\.register_module\(\)\s*\nclass (\w+)', re.MULTILINE)
    found = []
    for folder, _, files in os.walk(package_dir):
        for name in files:
            if name.endswith('.py'):
                with open(osp.join(folder, name)) as f:
                    found += pattern.findall(f.read())
    assert len(found) >= 6, found
    for registry, cls in found:
        assert getattr(mmpose.registry, registry).get(cls) is not None, cls


def test_ships_configs_tools_data_and_index(package_dir):
    mim = osp.join(package_dir, '.mim')
    for rel in ('tools/train.py', 'tools/test.py', 'tools/dist_train.sh',
                'tools/dist_test.sh', 'tools/slurm_train.sh',
                'tools/slurm_test.sh', 'model-index.yml',
                'configs/' + SAMPLE_REL, 'data/sample/coco/test_coco.json'):
        assert osp.isfile(osp.join(mim, rel)), rel
    # development tooling stays in the repository
    assert not osp.exists(osp.join(package_dir, 'benchmarking'))
    assert not osp.exists(osp.join(mim, 'tools', 'benchmarks'))


def test_unknown_config_names_it_and_how_to_list(tmp_path):
    proc = subprocess.run(
        [sys.executable, '-m', 'mmpose_light.configs', '--path', 'nope.py'],
        capture_output=True, text=True)
    assert proc.returncode == 2
    assert "'nope.py'" in proc.stderr
    assert 'python -m mmpose_light.configs' in proc.stderr
    listed = run(sys.executable, '-m', 'mmpose_light.configs').split()
    assert SAMPLE_REL in listed


def test_mim_search_lists_the_index(package_dir):
    mim = osp.join(package_dir, '.mim')
    with open(osp.join(mim, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    names = []
    for rel in imports:
        with open(osp.join(mim, rel)) as f:
            names += [m['Name'] for m in yaml.safe_load(f)['Models']]
    out = run(osp.join(BIN, 'mim'), 'search', 'mmpose_light')
    assert len(names) >= 15
    missing = [n for n in names if n not in out]
    assert not missing, out


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """One epoch of a shipped sample config through ``mim train``, run from
    an empty folder."""
    work = tmp_path_factory.mktemp('mim_train')
    out = run(
        osp.join(BIN, 'mim'), 'train', 'mmpose_light', SAMPLE,
        '--work-dir', 'wd', *ONE_EPOCH, cwd=str(work))
    return work, out


def test_mim_train_a_shipped_config(trained):
    work, out = trained
    assert osp.isfile(work / 'wd' / 'epoch_1.pth'), out[-2000:]
    assert 'coco/AP' in out


def test_mim_test_a_shipped_config(trained):
    work, _ = trained
    out = run(
        osp.join(BIN, 'mim'), 'test', 'mmpose_light', SAMPLE,
        '--checkpoint', str(work / 'wd' / 'epoch_1.pth'), '--work-dir',
        'wd_test', cwd=str(work))
    assert re.search(r'coco/AP: \d', out), out[-2000:]


def test_user_config_inherits_a_shipped_one(tmp_path):
    """The documented route: ``_base_ = ['mmpose_light::...']`` in a config
    of one's own folder, trained by ``mim train mmpose_light``."""
    (tmp_path / 'my_config.py').write_text(
        f"_base_ = ['mmpose_light::{SAMPLE_REL}']\n"
        "model = dict(head=dict(out_channels=17))\n"
        "train_dataloader = dict(batch_size=7)\n")
    out = run(
        osp.join(BIN, 'mim'), 'train', 'mmpose_light', 'my_config.py',
        '--work-dir', 'wd', *ONE_EPOCH, cwd=str(tmp_path))
    assert osp.isfile(tmp_path / 'wd' / 'epoch_1.pth'), out[-2000:]
    # the user's override is what trained: the dumped config shows it
    dumped = (tmp_path / 'wd' / 'my_config.py').read_text()
    assert 'batch_size=7' in dumped


def _tiny_pose_model(path: str) -> str:
    """A stride-4 convolution with the runtime's metadata (COCO's 17
    keypoints at 64x48)."""
    import json

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    weight = np.random.default_rng(0).normal(0, 0.1, (17, 3, 4, 4))
    graph = helper.make_graph(
        [helper.make_node('Conv', ['input', 'w'], ['heatmaps'],
                          strides=[4, 4])], 'tiny',
        [helper.make_tensor_value_info('input', TensorProto.FLOAT,
                                       ['batch', 3, 64, 48])],
        [helper.make_tensor_value_info('heatmaps', TensorProto.FLOAT,
                                       ['batch', 17, 16, 12])],
        [numpy_helper.from_array(weight.astype(np.float32), 'w')])
    model = helper.make_model(graph,
                              opset_imports=[helper.make_opsetid('', 17)])
    model.ir_version = 8
    codec = dict(type='MSRAHeatmap', input_size=[48, 64],
                 heatmap_size=[12, 16], sigma=2, unbiased=False,
                 blur_kernel_size=11)
    meta = dict(version=2, input_name='input', output_names=['heatmaps'],
                input_size=[48, 64], codec=codec, sigmoid_sigma=False,
                output_keypoint_indices=None, test_cfg={},
                preprocess=dict(mean=[123.675, 116.28, 103.53],
                                std=[58.395, 57.12, 57.375],
                                swap_channels=True, bbox_padding=1.25,
                                use_udp=False),
                rescore=dict(score_mode='bbox_keypoint',
                             keypoint_score_thr=0.2),
                dataset_meta=dict(num_keypoints=17))
    entry = model.metadata_props.add()
    entry.key, entry.value = 'mmpose_light', json.dumps(meta)
    onnx.save(model, path)
    return path


def test_shipped_ncnn_tool_and_batch_command(package_dir, tmp_path):
    """The shipped export_ncnn.py checks on the shipped sample images by
    default; the batch command is installed and runs the result."""
    pytest.importorskip('ncnn')
    tool = osp.join(package_dir, '.mim', 'tools', 'export_ncnn.py')
    model = _tiny_pose_model(str(tmp_path / 'tiny.onnx'))
    out = run(sys.executable, tool, model, '--out', str(tmp_path / 'tiny'),
              cwd=str(tmp_path))
    assert 'on 12 crops of 4 image(s)' in out
    images = osp.join(package_dir, '.mim', 'data', 'sample', 'coco')
    out = run(osp.join(BIN, 'mmpose-light-runtime-batch'),
              str(tmp_path / 'tiny.ncnn.param'), images, '--out',
              str(tmp_path / 'poses'), '--no-progress', cwd=str(tmp_path))
    assert '4 input(s): 4 done' in out

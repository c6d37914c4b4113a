"""The configs shipped in the package, ``mmpose_light::`` and the launch
scripts (the installed wheels are checked by ``tests/installed``)."""
import os
import os.path as osp
import stat
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpose_light.configs import (ConfigNotFoundError, config_root,
                                  get_config_path, list_configs)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = ('body_2d_keypoint/topdown_heatmap/coco/'
          'td-hm_mobilenetv3-lpb_1xb14-200e_coco-sample-128x96.py')


def test_package_holds_every_config():
    shipped = set(list_configs())
    in_repo = set()
    for folder, dirs, files in os.walk(osp.join(ROOT, 'configs')):
        dirs[:] = [d for d in dirs if d != '_base_']
        in_repo |= {
            osp.relpath(osp.join(folder, f), osp.join(ROOT, 'configs'))
            for f in files if f.endswith('.py')
        }
    assert shipped == in_repo
    assert SAMPLE in shipped
    assert config_root().endswith(osp.join('mmpose_light', '.mim',
                                           'configs'))


def test_get_config_path_by_name_path_and_prefix():
    path = get_config_path(SAMPLE)
    assert osp.isfile(path)
    assert get_config_path('mmpose_light::' + SAMPLE) == path
    assert get_config_path(osp.basename(SAMPLE)) == path
    assert get_config_path(osp.basename(SAMPLE)[:-3]) == path


@pytest.mark.parametrize('name', ['nope.py', 'mmpose_light::a/b.py'])
def test_unknown_config_names_it_and_how_to_list(name):
    with pytest.raises(ConfigNotFoundError) as info:
        get_config_path(name)
    assert repr(name) in str(info.value)
    assert 'python -m mmpose_light.configs' in str(info.value)


def test_unknown_config_in_our_train_tool():
    proc = subprocess.run(
        [sys.executable,
         osp.join(ROOT, 'tools', 'train.py'), 'not-shipped.py'],
        capture_output=True,
        text=True)
    assert proc.returncode != 0
    assert "'not-shipped.py'" in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_user_config_inherits_with_prefix(tmp_path):
    """A config in a folder of the user's inherits ours with
    ``mmpose_light::`` once mmpose_light is imported, and its overrides
    merge."""
    user = tmp_path / 'my_config.py'
    user.write_text(f"_base_ = ['mmpose_light::{SAMPLE}']\n"
                    "train_dataloader = dict(batch_size=3)\n")
    cfg = Config.fromfile(str(user))
    assert cfg.train_dataloader.batch_size == 3
    assert cfg.model.backbone.type == 'TruncatedMobileNetV3'
    # the sample data resolve inside the package
    assert osp.isdir(cfg.train_dataloader.dataset.data_root)


def test_scope_registries_find_mmpose_components():
    """Parts that MMEngine scopes ``mmpose_light`` (from a
    ``mmpose_light::`` base) build from MMPose's registries, also through
    MMEngine's root registries (the runner builds datasets and transforms
    there), which without a registry of that scope would look in the root
    only and fail."""
    from mmengine.registry import TRANSFORMS
    from mmpose.registry import MODELS

    from mmpose_light import registry
    assert registry.MODELS.scope == 'mmpose_light'
    assert registry.MODELS.get('LPBHeatmapHead') is MODELS.get(
        'LPBHeatmapHead')
    with DefaultScope.overwrite_default_scope('mmpose'):
        transform = TRANSFORMS.build(
            dict(type='GetBBoxCenterScale', _scope_='mmpose_light'))
    assert type(transform).__name__ == 'GetBBoxCenterScale'


def _fake_srun(tmp_path):
    """An ``srun`` that records its arguments instead of starting jobs."""
    record = tmp_path / 'srun_args'
    srun = tmp_path / 'srun'
    srun.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}',
               GPUS='4', GPUS_PER_NODE='2', SRUN_ARGS='--qos=low')
    return record, env


@pytest.mark.parametrize('script,args,expected', [
    ('slurm_train.sh', ['part', 'job', 'cfg.py', 'wd', '--amp'],
     ['cfg.py', '--work-dir', 'wd', '--amp', '--launcher', 'slurm']),
    ('slurm_test.sh', ['part', 'job', 'cfg.py', 'ckpt.pth', '--dump', 'x'],
     ['cfg.py', 'ckpt.pth', '--dump', 'x', '--launcher', 'slurm']),
])
def test_slurm_scripts_pass_everything_to_the_tool(tmp_path, script, args,
                                                   expected):
    record, env = _fake_srun(tmp_path)
    subprocess.run(['bash', osp.join(ROOT, 'tools', script), *args],
                   check=True, env=env)
    argv = record.read_text().split('\n')[:-1]
    tool = 'train.py' if 'train' in script else 'test.py'
    assert argv[:2] == ['-p', 'part']
    assert '--job-name=job' in argv and '--ntasks=4' in argv
    assert '--ntasks-per-node=2' in argv and '--gres=gpu:2' in argv
    assert '--qos=low' in argv
    at = argv.index(osp.join(ROOT, 'tools', tool))
    assert argv[at + 1:] == expected


@pytest.mark.parametrize('script,args', [
    ('slurm_train.sh', ['part', 'job', 'cfg.py']),
    ('slurm_test.sh', ['part']),
    ('dist_test.sh', ['cfg.py', 'ckpt.pth']),
])
def test_launch_scripts_refuse_missing_arguments(script, args):
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', script), *args],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'usage:' in proc.stderr

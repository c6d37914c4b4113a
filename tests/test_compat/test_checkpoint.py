import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.runner import load_checkpoint, save_checkpoint

import mmpose_light  # noqa: F401
from mmpose_light.compat import CheckpointLoadError, load_local_checkpoint


def _mmengine_like_checkpoint(model: torch.nn.Module) -> dict:
    """What MMEngine's runner puts in a checkpoint besides weights."""
    hub = MessageHub.get_instance('test_checkpoint')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('iter', 3)
    return dict(
        meta=dict(
            epoch=1,
            seed=np.int64(7),
            dataset_meta=dict(
                sigmas=np.array([0.026, 0.025], dtype=np.float32),
                flip_indices=[1, 0],
                skeleton_link_colors=np.array([[0, 255, 0]])),
        ),
        state_dict=model.state_dict(),
        message_hub=hub.state_dict(),
        rng=np.random.get_state())


class _RunsCode:
    """Pickles as a call to ``os.system``: the classic checkpoint exploit."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


def test_mmengine_checkpoint_round_trips(tmp_path):
    model = torch.nn.Linear(3, 2)
    path = str(tmp_path / 'epoch_1.pth')
    save_checkpoint(_mmengine_like_checkpoint(model), path)

    other = torch.nn.Linear(3, 2)
    ckpt = load_checkpoint(other, path, map_location='cpu', strict=True)

    torch.testing.assert_close(other.weight, model.weight)
    np.testing.assert_array_equal(ckpt['meta']['dataset_meta']['sigmas'],
                                  np.array([0.026, 0.025], np.float32))
    assert ckpt['meta']['seed'] == 7
    hub = MessageHub.get_instance('restored')
    hub.load_state_dict(ckpt['message_hub'])
    assert hub.get_scalar('train/loss').current() == 0.5


def test_code_running_checkpoint_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {}, 'meta': _RunsCode(str(marker))}, path)

    with pytest.raises(CheckpointLoadError, match='system'):
        load_checkpoint(torch.nn.Linear(3, 2), path)
    assert not marker.exists()
    # The allow-list did not switch the protection off for plain torch.load.
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)
    assert not marker.exists()


def test_truncated_checkpoint_is_named(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    save_checkpoint(_mmengine_like_checkpoint(torch.nn.Linear(3, 2)),
                    str(path))
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])

    with pytest.raises(CheckpointLoadError, match='epoch_1.pth.*truncated'):
        load_local_checkpoint(str(path))
    assert path.read_bytes() == data[:len(data) // 2]


def test_foreign_file_and_missing_file(tmp_path):
    path = tmp_path / 'notes.json'
    path.write_text('{"not": "a checkpoint"}')
    with pytest.raises(CheckpointLoadError, match='notes.json'):
        load_checkpoint(torch.nn.Linear(3, 2), str(path))
    with pytest.raises(FileNotFoundError, match='absent.pth'):
        load_checkpoint(torch.nn.Linear(3, 2), osp.join(tmp_path,
                                                        'absent.pth'))


class _Getattr:
    """Pickles as ``getattr(HistoryBuffer, name)``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, self.name))


def test_getattr_only_reaches_history_buffer_statistics(tmp_path):
    from mmengine.logging import HistoryBuffer
    good = str(tmp_path / 'good.pth')
    torch.save({'meta': _Getattr('mean')}, good)
    assert load_local_checkpoint(good)['meta'] is HistoryBuffer.mean

    # getattr(HistoryBuffer, '__init__') is the first step of a chain to
    # __globals__ and os.system: refused.
    evil = str(tmp_path / 'evil.pth')
    torch.save({'meta': _Getattr('__init__')}, evil)
    with pytest.raises(CheckpointLoadError, match='evil.pth'):
        load_local_checkpoint(evil)

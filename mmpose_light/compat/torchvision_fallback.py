"""Let MMPose's visualizer import without torchvision.

``mmpose.visualization`` (built by every stock runtime config through
``PoseLocalVisualizer``) imports ``mmpose/visualization/simcc_vis.py``, whose
only use of torchvision is ``transforms.ToPILImage`` for drawing SimCC
heatmaps. No torchvision build matches the CPU torch this project installs,
so, when ``import torchvision`` fails, that one module is imported with a
stand-in ``torchvision.transforms`` present in ``sys.modules`` only for the
duration of the import. Afterwards ``torchvision`` is absent again, so other
libraries still see that no real torchvision is installed.
"""
import importlib
import sys
import types
from typing import Union

import numpy as np
import torch
from PIL import Image

__all__ = ['ToPILImage', 'torchvision_available', 'import_simcc_visualizer']

_SIMCC_MODULE = 'mmpose.visualization.simcc_vis'


class ToPILImage:
    """Convert a (C, H, W) tensor or (H, W, C) array to a PIL image.

    Covers the cases ``simcc_vis`` uses, with torchvision's conventions:
    float inputs are taken as [0, 1] and scaled to bytes, a 2-D input is a
    single channel.
    """

    def __call__(self, pic: Union[torch.Tensor, np.ndarray]) -> Image.Image:
        if isinstance(pic, torch.Tensor):
            if pic.ndim == 2:
                pic = pic.unsqueeze(0)
            if pic.ndim != 3:
                raise ValueError('expected a 2-D or 3-D tensor, got shape '
                                 f'{tuple(pic.shape)}')
            if pic.is_floating_point():
                pic = pic.mul(255).byte()
            array = pic.permute(1, 2, 0).cpu().numpy()
        elif isinstance(pic, np.ndarray):
            array = pic[..., None] if pic.ndim == 2 else pic
            if array.ndim != 3:
                raise ValueError(
                    f'expected a 2-D or 3-D array, got shape {pic.shape}')
            if np.issubdtype(array.dtype, np.floating):
                array = (array * 255).astype(np.uint8)
        else:
            raise TypeError(
                f'expected a torch.Tensor or numpy.ndarray, got {type(pic)}')
        if array.shape[2] == 1:
            return Image.fromarray(array[:, :, 0], mode='L')
        return Image.fromarray(array)


def torchvision_available() -> bool:
    """Whether a working torchvision can be imported."""
    if 'torchvision' in sys.modules:
        return True
    try:
        importlib.import_module('torchvision')
    except Exception:
        # A broken install (e.g. a CUDA wheel beside a CPU torch) may leave
        # half-imported modules behind; forget them.
        for name in [m for m in sys.modules if m.split('.')[0] ==
                     'torchvision']:
            del sys.modules[name]
        return False
    return True


def import_simcc_visualizer() -> None:
    """Import ``simcc_vis`` with a stand-in torchvision if none works.

    Idempotent; does nothing when torchvision imports or the module is
    already imported.
    """
    if _SIMCC_MODULE in sys.modules or torchvision_available():
        return
    transforms = types.ModuleType('torchvision.transforms')
    transforms.ToPILImage = ToPILImage
    stand_in = types.ModuleType('torchvision')
    stand_in.transforms = transforms
    saved = {n: sys.modules.get(n) for n in (
        'torchvision', 'torchvision.transforms')}
    sys.modules['torchvision'] = stand_in
    sys.modules['torchvision.transforms'] = transforms
    try:
        importlib.import_module(_SIMCC_MODULE)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module

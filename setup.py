"""Install mmpose_light, a plugin of lightweight pose estimators for MMPose.

torch, mmcv and mmpose are deliberately not in ``install_requires``: an
unpinned torch pulls a CUDA build, mmcv must be compiled with its ops for the
installed torch, and mmpose's metadata asks for packages that do not install
on this stack. ``tools/setup_env.sh`` installs them; see README.md.

The torch-free runtime, ``mmpose_light_runtime``, is a distribution of its
own in ``runtime/`` (numpy, OpenCV and ONNX Runtime only); this package
imports it and requires it from that folder.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def get_version() -> str:
    text = (HERE / 'mmpose_light' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


def parse_requirements(path: str) -> list:
    lines = (HERE / path).read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


setup(
    name='mmpose_light',
    version=get_version(),
    description='Lightweight top-down pose estimators (MobilePoseNet, '
    'RepNet) and Matrix-OKS-NMS as an MMPose 1.x plugin',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(exclude=('tests', 'tests.*', 'configs', 'tools')),
    install_requires=parse_requirements('requirements.txt') + [
        f'mmpose-light-runtime @ {(HERE / "runtime").resolve().as_uri()}'
    ],
    extras_require={'tests': parse_requirements('requirements/tests.txt')},
    zip_safe=False,
)

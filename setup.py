"""Build mmpose-light, a plugin of lightweight pose estimators for MMPose.

torch, mmcv and mmpose are deliberately not in ``install_requires``: an
unpinned torch pulls a CUDA build, mmcv must be compiled with its ops for the
installed torch, and mmpose's metadata asks for packages that do not install
on every stack (docs/install.md says how to install them).

The torch-free runtime is the distribution ``mmpose-light-runtime``, built
from ``runtime/``; both share one version number, kept in
``runtime/mmpose_light_runtime/version.py``, and this package requires the
runtime of exactly its own version.

As MMPose does, the package ships its configs, user tools, sample data and
model index under ``mmpose_light/.mim``, where ``mim`` and MMEngine look for
them. They are copied there when a wheel is built, and linked there from
the source tree by an editable install (``pip install -e .``), so both find
the same files.
"""
import os
import re
import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
VERSION_FILE = HERE / 'runtime' / 'mmpose_light_runtime' / 'version.py'

#: What mmpose_light/.mim holds: a path of the repository, or a folder and
#: the files of it that are shipped. Development tools (benchmarks, set-up
#: scripts, the main job) stay in the repository.
MIM_ITEMS = {
    'configs': None,
    'data/sample': None,
    'model-index.yml': None,
    'tools': ('train.py', 'test.py', 'dist_train.sh', 'dist_test.sh',
              'slurm_train.sh', 'slurm_test.sh', 'launch.sh', 'demo.py',
              'export_onnx.py', 'export_detector.py', 'export_ncnn.py',
              'reparameterize.py', 'quantize.py'),
}


def get_version() -> str:
    text = VERSION_FILE.read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


def parse_requirements(path: str) -> list:
    lines = (HERE / path).read_text().splitlines()
    return [
        ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')
    ]


def mim_sources(root: Path):
    """(source, path inside .mim) of every shipped item that exists."""
    for item, names in MIM_ITEMS.items():
        if names is None:
            if (root / item).exists():
                yield root / item, item
            continue
        for name in names:
            if (root / item / name).exists():
                yield root / item / name, f'{item}/{name}'


class BuildPyWithMim(build_py):
    """``build_py`` that also fills ``mmpose_light/.mim``.

    A wheel gets copies. An editable install (PEP 660: ``editable_mode``;
    pip never says ``develop`` there) gets symbolic links in the source
    package instead, so that edits to configs and tools show at once.
    """

    def run(self):
        super().run()
        editable = getattr(self, 'editable_mode', False)
        if editable:
            target = HERE / 'mmpose_light' / '.mim'
        else:
            target = Path(self.build_lib) / 'mmpose_light' / '.mim'
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        for src, rel in mim_sources(HERE):
            dst = target / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if editable:
                dst.symlink_to(os.path.relpath(src, dst.parent))
            elif src.is_dir():
                shutil.copytree(
                    src, dst, ignore=shutil.ignore_patterns(
                        '__pycache__', '*.pyc'))
            else:
                shutil.copy2(src, dst)


setup(
    name='mmpose-light',
    version=get_version(),
    description='Lightweight top-down pose estimators (MobilePoseNet, '
    'RepNet) and Matrix-OKS-NMS as an MMPose 1.x plugin',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    license_files=['LICENSE', 'NOTICE'],
    classifiers=[
        'Operating System :: POSIX :: Linux',
        'Programming Language :: Python :: 3',
        'Programming Language :: Python :: 3.11',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
        'Topic :: Scientific/Engineering :: Image Recognition',
    ],
    # torch 2.13, which the package is tested with, needs Python 3.10
    python_requires='>=3.10',
    packages=find_packages(include=('mmpose_light', 'mmpose_light.*')),
    install_requires=parse_requirements('requirements.txt') +
    [f'mmpose-light-runtime=={get_version()}'],
    extras_require={'tests': parse_requirements('requirements/tests.txt')},
    cmdclass={'build_py': BuildPyWithMim},
    zip_safe=False,
)

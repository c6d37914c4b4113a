"""Reading images and writing files safely.

Every file the project writes goes through :func:`atomic_output`: the data
goes to a temporary file next to the target, which replaces the target only
once it is complete, so a failure (an exception, a full disk, Ctrl-C) never
leaves a half-written file and never destroys an older one. The result gets
the permissions a plain ``open(path, 'w')`` would give (``0o666`` less the
umask), not the ``0o600`` of :func:`tempfile.mkstemp`.
"""
import contextlib
import hashlib
import json
import os
import os.path as osp
import tempfile
from typing import Any, Iterator, List, Sequence, Union

import cv2
import numpy as np

__all__ = [
    'AtomicFile', 'atomic_output', 'atomic_write_bytes', 'dump_json',
    'read_image', 'write_image', 'list_images', 'load_json', 'sha256_file',
    'IMAGE_EXTENSIONS'
]

#: File extensions read as images (lower case).
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff',
                    '.webp')


def _default_mode() -> int:
    # os.umask can only be read by setting it; restore it at once
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A temporary file that becomes ``path`` on :meth:`commit`.

    The temporary file lies next to ``path`` (so the final rename is
    atomic) and has the same extension (some writers, such as
    ``cv2.VideoWriter``, choose the format by it).

    Args:
        path (str): The file to write. Its folder must exist.

    Attributes:
        tmp (str): The temporary file to write to.

    Raises:
        FileNotFoundError: If the folder of ``path`` does not exist.
    """

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        folder = osp.dirname(osp.abspath(self.path))
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'cannot write {self.path!r}: folder {folder!r} does not '
                'exist')
        suffix = osp.splitext(self.path)[1]
        fd, self.tmp = tempfile.mkstemp(
            prefix=f'.{osp.basename(self.path)}.',
            suffix=f'.tmp{suffix}',
            dir=folder)
        os.close(fd)

    def commit(self) -> None:
        """Replace ``path`` with the temporary file, with normal
        permissions (``0o666`` less the umask)."""
        os.chmod(self.tmp, _default_mode())
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        """Remove the temporary file; ``path`` stays as it was."""
        if osp.exists(self.tmp):
            os.remove(self.tmp)


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[str]:
    """A temporary path that replaces ``path`` when the block succeeds.

    Example:
        >>> with atomic_output('poses.json') as tmp:
        ...     with open(tmp, 'w') as f:
        ...         f.write('[]')

    Args:
        path (str): The file to write. Its folder must exist.

    Yields:
        str: The temporary file (see :class:`AtomicFile`).
    """
    output = AtomicFile(path)
    try:
        yield output.tmp
        output.commit()
    finally:
        output.discard()


def atomic_write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        with open(tmp, 'wb') as f:
            f.write(data)


def dump_json(obj: Any, path: str, indent: int = None) -> None:
    """Write ``obj`` as JSON to ``path`` atomically.

    Args:
        obj: A JSON-serialisable object.
        path (str): The file to write.
        indent (int, optional): Indentation of ``json.dump``.
            Defaults to None (compact).
    """
    atomic_write_bytes(path, json.dumps(obj, indent=indent).encode())


def read_image(path: str) -> np.ndarray:
    """Read an image as BGR ``uint8``, as MMCV's ``imread`` does.

    Args:
        path (str): The image file.

    Returns:
        np.ndarray: The image. Shape (H, W, 3).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file cannot be decoded as an image.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image {path!r} does not exist')
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ValueError(f'cannot read {path!r} as an image')
    return image


def write_image(path: str, image: np.ndarray) -> None:
    """Write a BGR image atomically; the extension chooses the format.

    Raises:
        ValueError: If OpenCV cannot encode the image in that format.
    """
    ext = osp.splitext(path)[1] or '.jpg'
    ok, data = cv2.imencode(ext, image)
    if not ok:
        raise ValueError(f'cannot write an image as {path!r} (extension '
                         f'{ext!r})')
    atomic_write_bytes(path, data.tobytes())


def list_images(paths: Union[str, Sequence[str], None]) -> List[str]:
    """The image files of ``paths``: files as given, folders by their
    images (:data:`IMAGE_EXTENSIONS`), sorted by name.

    Args:
        paths (str | Sequence[str] | None): Image files and folders.

    Returns:
        list[str]: The image files; empty for None.

    Raises:
        FileNotFoundError: If a path does not exist.
    """
    if paths is None:
        return []
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found = []
    for item in paths:
        item = os.fspath(item)
        if osp.isdir(item):
            found += sorted(
                osp.join(item, name) for name in os.listdir(item)
                if name.lower().endswith(IMAGE_EXTENSIONS))
        elif osp.isfile(item):
            found.append(item)
        else:
            raise FileNotFoundError(f'image {item!r} does not exist')
    return found


def load_json(path: str) -> Any:
    """Read a JSON file.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If it is not valid JSON, naming the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path!r} does not exist')
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f'{path!r} is not valid JSON: {error}') from None


def sha256_file(path: str) -> str:
    """The SHA-256 of a file's content, hex."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()

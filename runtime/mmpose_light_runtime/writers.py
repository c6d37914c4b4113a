"""Outputs of a run: drawn images or a video, and COCO-format keypoints.

Everything is written atomically (:func:`~.fileio.atomic_output`): a video
grows in a temporary file that becomes the output only when the run ends
without error, so a failed run leaves no half-written video or JSON file and
keeps any older one.
"""
import os
import os.path as osp
import sys
import time
from typing import Any, Dict, List, Optional, TextIO

import cv2
import numpy as np

from .fileio import AtomicFile, dump_json, write_image

__all__ = ['VideoOutput', 'ImageOutput', 'JsonOutput', 'Progress']


class VideoOutput:
    """Frames into a video file, committed on :meth:`close`.

    Args:
        path (str): The video file (``.mp4`` or ``.avi``).
        fps (float): Frames per second.
        fourcc (str, optional): Codec. Defaults to None: ``'mp4v'`` for
            ``.mp4``, ``'MJPG'`` otherwise.
    """

    def __init__(self, path: str, fps: float,
                 fourcc: Optional[str] = None) -> None:
        ext = osp.splitext(path)[1].lower()
        if ext not in ('.mp4', '.avi'):
            raise ValueError(f'video output {path!r} should end in .mp4 or '
                             '.avi')
        self.path = path
        self.fps = float(fps)
        self.fourcc = fourcc or ('mp4v' if ext == '.mp4' else 'MJPG')
        self._file = AtomicFile(path)
        self._writer = None

    def write(self, image: np.ndarray, name: str = '') -> None:
        """Append a frame; every frame must have the first one's size."""
        height, width = image.shape[:2]
        if self._writer is None:
            self._writer = cv2.VideoWriter(
                self._file.tmp, cv2.VideoWriter_fourcc(*self.fourcc), self.fps,
                (width, height))
            if not self._writer.isOpened():
                raise ValueError(f'OpenCV cannot write a {self.fourcc} video '
                                 f'to {self.path!r}')
            self._size = (width, height)
        if (width, height) != self._size:
            raise ValueError(f'frame {name!r} is {width}x{height}, but the '
                             f'video {self.path!r} is {self._size[0]}x'
                             f'{self._size[1]}')
        self._writer.write(image)

    def close(self, commit: bool = True) -> None:
        """Finish the file: it replaces ``path`` only if ``commit``."""
        if self._writer is not None:
            self._writer.release()
        # a run without frames writes no video
        if commit and self._writer is not None:
            self._file.commit()
        self._file.discard()


class ImageOutput:
    """Drawn images: one file, or one file per frame in a folder.

    Args:
        path (str): An image file, or a folder (created if needed) that
            receives each frame under its own file name.
        folder (bool): Whether ``path`` is a folder.
    """

    def __init__(self, path: str, folder: bool) -> None:
        self.path = path
        self.folder = folder
        if folder:
            os.makedirs(path, exist_ok=True)

    def write(self, image: np.ndarray, name: str = '') -> None:
        target = self.path
        if self.folder:
            target = osp.join(self.path, osp.basename(name))
        write_image(target, image)

    def close(self, commit: bool = True) -> None:
        pass


class JsonOutput:
    """Keypoints of every frame as one COCO keypoint results list.

    Args:
        path (str): The JSON file, written on :meth:`close`.
    """

    def __init__(self, path: str) -> None:
        if not osp.isdir(osp.dirname(osp.abspath(path))):
            raise FileNotFoundError(f'cannot write {path!r}: its folder does '
                                    'not exist')
        self.path = path
        self.results: List[Dict[str, Any]] = []

    def add(self, entries: List[Dict[str, Any]]) -> None:
        self.results.extend(entries)

    def close(self, commit: bool = True) -> None:
        if commit:
            dump_json(self.results, self.path)


class Progress:
    """A one-line progress display with frames per second.

    Args:
        total (int, optional): Number of frames, if known.
        stream (TextIO): Where to print. Defaults to ``sys.stderr``.
        min_interval (float): Seconds between updates. Defaults to 0.5.
    """

    def __init__(self,
                 total: Optional[int] = None,
                 stream: TextIO = sys.stderr,
                 min_interval: float = 0.5) -> None:
        self.total = total
        self.stream = stream
        self.min_interval = min_interval
        self.count = 0
        self.start = time.perf_counter()
        self._shown = 0.
        self._shown_count = -1

    @property
    def fps(self) -> float:
        elapsed = time.perf_counter() - self.start
        return self.count / elapsed if elapsed > 0 else 0.

    def line(self) -> str:
        if self.total:
            width = 30
            done = int(width * self.count / self.total)
            bar = '#' * done + '-' * (width - done)
            return (f'[{bar}] {self.count}/{self.total} frames, '
                    f'{self.fps:.1f} fps')
        return f'{self.count} frames, {self.fps:.1f} fps'

    def update(self, count: int = 1) -> None:
        self.count += count
        now = time.perf_counter()
        if now - self._shown >= self.min_interval or \
                self.count == self.total:
            self._show()

    def _show(self) -> None:
        self._shown = time.perf_counter()
        self._shown_count = self.count
        self.stream.write('\r' + self.line())
        self.stream.flush()

    def close(self) -> None:
        """Show the final count and end the line."""
        if self._shown_count != self.count:
            self._show()
        self.stream.write('\n')
        self.stream.flush()

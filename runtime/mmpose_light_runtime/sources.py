"""Frames from an image, a folder of images, a video file or a camera."""
import math
import os
import os.path as osp
import re
import time
from typing import Iterator, List, NamedTuple, Optional, Union

import cv2
import numpy as np

from .fileio import IMAGE_EXTENSIONS, list_images, read_image

__all__ = ['Frame', 'FrameSource', 'open_source', 'image_id_from_name']


class Frame(NamedTuple):
    """One frame of a source.

    Attributes:
        image (np.ndarray): BGR image. Shape (H, W, 3).
        index (int): Position in the source, from 0.
        image_id (int): The number in an image's file name (COCO names
            images by id), else the index.
        name (str): The image file, or ``'<video>#<index>'``.
        timestamp (float, optional): Seconds from the start: a video
            file's own time stamps, a camera's clock at capture; None for
            images.
    """
    image: np.ndarray
    index: int
    image_id: int
    name: str
    timestamp: Optional[float] = None


def image_id_from_name(path: str, default: int) -> int:
    """The last number in a file's name (``000000000785.jpg``: 785), or
    ``default`` when it has none."""
    digits = re.findall(r'\d+', osp.splitext(osp.basename(path))[0])
    return int(digits[-1]) if digits else default


class FrameSource:
    """Iterate the frames of an input; see :func:`open_source`.

    Attributes:
        kind (str): ``'image'``, ``'folder'``, ``'video'`` or ``'camera'``.
        spec (str): The input as given.
        fps (float, optional): Frames per second of a video or camera.
        num_frames (int, optional): The number of frames, where known.
    """

    def __init__(self, kind: str, spec: str, files: Optional[List[str]] = None,
                 capture: Optional[cv2.VideoCapture] = None) -> None:
        self.kind = kind
        self.spec = spec
        self.files = files
        self.capture = capture
        self.fps = None
        self.num_frames = len(files) if files is not None else None
        if capture is not None:
            fps = capture.get(cv2.CAP_PROP_FPS)
            self.fps = fps if fps and fps > 0 else None
            count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            if kind == 'video' and count > 0:
                self.num_frames = count

    def __iter__(self) -> Iterator[Frame]:
        if self.files is not None:
            for index, path in enumerate(self.files):
                yield Frame(read_image(path), index,
                            image_id_from_name(path, index), path)
            return
        index = 0
        start = time.monotonic()
        last = -math.inf
        try:
            while True:
                ok, image = self.capture.read()
                if not ok:
                    break
                last = self._timestamp(index, start, last)
                yield Frame(image, index, index, f'{self.spec}#{index}',
                            last)
                index += 1
        finally:
            self.close()
        if index == 0:
            raise ValueError(f'no frame could be read from {self.kind} '
                             f'{self.spec!r}')

    def _timestamp(self, index: int, start: float, last: float) -> float:
        """The time of the frame just read, in seconds, after ``last``."""
        if self.kind == 'camera':
            now = time.monotonic() - start
        else:
            now = self.capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.
        if math.isfinite(now) and now > last:
            return now
        # some containers and drivers repeat or lack stamps: step by the
        # frame rate instead, so that time always moves forward
        step = 1. / (self.fps or 30.)
        return max(last + step, index * step)

    def close(self) -> None:
        """Release a video file or camera."""
        if self.capture is not None:
            self.capture.release()


def _open_capture(kind: str, spec: Union[str, int],
                  target: Union[str, int]) -> FrameSource:
    capture = cv2.VideoCapture(target)
    if not capture.isOpened():
        capture.release()
        what = 'camera' if kind == 'camera' else 'video'
        raise ValueError(f'cannot open {what} {spec!r}' + (
            '' if kind == 'camera' else
            ': not a video OpenCV can decode'))
    return FrameSource(kind, str(spec), capture=capture)


def open_source(spec: Union[str, int]) -> FrameSource:
    """Open an image, a folder of images, a video file or a camera.

    Args:
        spec (str | int): An image file, a folder (its images, sorted by
            name), a video file, or a camera index (an int, or a string of
            digits such as ``'0'``).

    Returns:
        FrameSource: An iterable of :class:`Frame`.

    Raises:
        FileNotFoundError: If the path does not exist.
        ValueError: If a folder holds no image, or a video or camera cannot
            be opened.
    """
    if isinstance(spec, (int, np.integer)) or (isinstance(spec, str)
                                               and spec.isdigit()
                                               and not osp.exists(spec)):
        return _open_capture('camera', spec, int(spec))
    spec = os.fspath(spec)
    if osp.isdir(spec):
        files = list_images(spec)
        if not files:
            raise ValueError(f'folder {spec!r} holds no image '
                             f'({", ".join(IMAGE_EXTENSIONS)})')
        return FrameSource('folder', spec, files=files)
    if not osp.isfile(spec):
        raise FileNotFoundError(f'input {spec!r} does not exist')
    if spec.lower().endswith(IMAGE_EXTENSIONS):
        # read now: an unreadable image fails before anything is written
        read_image(spec)
        return FrameSource('image', spec, files=[spec])
    return _open_capture('video', spec, spec)

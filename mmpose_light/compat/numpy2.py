"""MMPose 1.3 on numpy 2: the one call site that fails.

``PoseLocalVisualizer`` draws each keypoint with
``draw_circles(kpt, radius=np.array([r]))`` and the OpenCV backend passes
``int(radius)`` to ``cv2.circle``. numpy 2 refuses ``int()`` of a 1-element
array of rank 1, so no skeleton can be drawn. The wrapper hands the backend a
0-d array, which both ``int()`` and MMEngine's type check accept.
"""
import functools

import numpy as np

__all__ = ['patch_opencv_visualizer_radius']


def patch_opencv_visualizer_radius() -> None:
    """Make ``OpencvBackendVisualizer.draw_circles`` numpy-2 safe.

    Idempotent.
    """
    from mmpose.visualization.opencv_backend_visualizer import \
        OpencvBackendVisualizer
    original = OpencvBackendVisualizer.draw_circles
    if getattr(original, '_mmpose_light_patched', False):
        return

    @functools.wraps(original)
    def draw_circles(self, center, radius, *args, **kwargs):
        if isinstance(radius, np.ndarray) and radius.size == 1:
            radius = radius.reshape(())
        return original(self, center, radius, *args, **kwargs)

    draw_circles._mmpose_light_patched = True
    OpencvBackendVisualizer.draw_circles = draw_circles

import sys

import numpy as np
import pytest
import torch

import mmpose_light  # noqa: F401
from mmpose_light.compat import ToPILImage, torchvision_available

needs_no_torchvision = pytest.mark.skipif(
    torchvision_available(), reason='a working torchvision is installed')


@needs_no_torchvision
def test_no_fake_torchvision_left_behind():
    assert 'torchvision' not in sys.modules
    assert 'torchvision.transforms' not in sys.modules
    # A library probing for torchvision still finds none.
    with pytest.raises(ImportError):
        import torchvision  # noqa: F401


def test_visualizer_draws_without_torchvision():
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    from mmpose.visualization import PoseLocalVisualizer
    visualizer = PoseLocalVisualizer(radius=3, line_width=2)
    visualizer.set_dataset_meta(dict(
        num_keypoints=2,
        keypoint_colors=np.array([[255, 0, 0], [0, 255, 0]]),
        skeleton_links=[(0, 1)],
        skeleton_link_colors=np.array([[0, 0, 255]])))
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(
        keypoints=np.array([[[10., 10.], [40., 30.]]]),
        keypoint_scores=np.ones((1, 2)))
    image = np.zeros((48, 64, 3), np.uint8)
    drawn = visualizer.add_datasample(
        'sample', image, sample, draw_gt=False, show=False)
    assert drawn.shape == image.shape
    assert drawn.sum() > 0


def test_simcc_visualizer_uses_fallback_conversion():
    from mmpose.visualization.simcc_vis import SimCCVisualizer
    heatmap = torch.rand(2, 16, 12)
    out = SimCCVisualizer().draw_instance_xy_heatmap(
        heatmap, np.zeros((16, 12, 3), np.uint8), n=2)
    assert out.ndim == 3 and out.shape[2] == 3


def test_to_pil_image_follows_torchvision_conventions():
    gray = ToPILImage()(torch.full((4, 5), 0.5))
    assert gray.mode == 'L' and gray.size == (5, 4)
    assert np.asarray(gray)[0, 0] == 127  # 0.5 * 255 truncated to a byte
    rgb = ToPILImage()(torch.zeros(3, 4, 5, dtype=torch.uint8))
    assert rgb.mode == 'RGB' and rgb.size == (5, 4)
    with pytest.raises(ValueError, match='shape'):
        ToPILImage()(torch.zeros(1, 1, 1, 1))
    with pytest.raises(TypeError, match='list'):
        ToPILImage()([1, 2])

"""Crops to network inputs: the per-plane normalisation gives exactly the
values of the plain batch formula."""
import numpy as np
import pytest

from mmpose_light_runtime.preprocess import normalize_crops

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


@pytest.mark.parametrize('swap_channels', [False, True])
@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_normalize_crops_is_the_batch_formula(swap_channels, dtype):
    rng = np.random.default_rng(0)
    crops = (rng.random((4, 8, 6, 3)) * 255).astype(dtype)
    expected = crops.transpose(0, 3, 1, 2)
    if swap_channels:
        expected = expected[:, ::-1]
    expected = ((expected.astype(np.float32) -
                 np.float32(MEAN).reshape(1, 3, 1, 1)) /
                np.float32(STD).reshape(1, 3, 1, 1))
    inputs = normalize_crops(crops, MEAN, STD, swap_channels)
    assert inputs.dtype == np.float32 and inputs.flags.c_contiguous
    # bit for bit: the network sees what MMPose's preprocessor gives
    np.testing.assert_array_equal(inputs, expected)
    raw = normalize_crops(crops, None, None, swap_channels)
    np.testing.assert_array_equal(
        raw, crops.transpose(0, 3, 1, 2)[:, ::-1 if swap_channels else 1])


def test_normalize_no_crops():
    inputs = normalize_crops(np.zeros((0, 8, 6, 3), np.uint8), MEAN, STD)
    assert inputs.shape == (0, 3, 8, 6) and inputs.dtype == np.float32

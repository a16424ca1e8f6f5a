"""The forward model against scipy.ndimage (reflect = half-sample mirror)."""

import numpy as np
import pytest
import scipy.ndimage

from deblur_cli.forward import blur
from deblur_cli.errors import InputError, ParameterError
from deblur_cli.psf import defocus, gaussian, motion


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.random((48, 64, 3), dtype=np.float32)


@pytest.mark.parametrize("kernel", [motion(9, 30), defocus(2.5), gaussian(1.2), motion(15, 100)])
def test_blur_is_convolution_on_a_reflected_canvas(image, kernel):
    result = blur(image, kernel)
    assert result.dtype == np.float32 and result.shape == image.shape
    for c in range(3):
        expected = scipy.ndimage.convolve(image[..., c].astype(np.float64), kernel.astype(np.float64), mode="reflect")
        np.testing.assert_allclose(result[..., c], expected, atol=2e-5)


def test_blur_of_an_asymmetric_kernel_is_convolution_not_correlation(image):
    kernel = np.zeros((5, 5), np.float32)
    kernel[2, 2] = 0.5
    kernel[2, 4] = 0.5  # half the light lands two pixels to the right of its source
    grey = image[..., 0]
    result = blur(grey, kernel)
    np.testing.assert_allclose(result[:, 2:-2], 0.5 * grey[:, 2:-2] + 0.5 * grey[:, :-4], atol=1e-6)


def test_noise_has_the_requested_sigma_and_follows_the_seed():
    flat = np.full((128, 128), 0.5, np.float32)
    a = blur(flat, gaussian(1), noise_sigma=0.01, seed=3)
    b = blur(flat, gaussian(1), noise_sigma=0.01, seed=3)
    c = blur(flat, gaussian(1), noise_sigma=0.01, seed=4)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(float((a - 0.5).std()) - 0.01) < 0.0005
    assert abs(float((a - 0.5).mean())) < 0.0005


def test_grey_and_five_channel_images(image):
    kernel = defocus(1.5)
    grey = blur(image[..., 0], kernel)
    assert grey.shape == image.shape[:2]
    stack = np.concatenate([image, image[..., :2]], axis=2)
    result = blur(stack, kernel)
    np.testing.assert_allclose(result[..., 3:], result[..., :2], atol=1e-6)
    np.testing.assert_allclose(result[..., 0], grey, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 129, 300])
def test_any_number_of_channels_is_each_channel_alone(image, channels):
    stack = np.tile(image, (1, 1, -(-channels // 3)))[..., :channels]
    kernel = motion(5, 30)
    result = blur(stack, kernel)
    assert result.shape == stack.shape
    for channel in range(3):
        np.testing.assert_allclose(result[..., channel::3], blur(image[..., channel], kernel)[..., None]
                                   .repeat(result[..., channel::3].shape[2], axis=2), atol=1e-6)


def test_bad_parameters(image):
    with pytest.raises(ParameterError):
        blur(image, gaussian(1), noise_sigma=-0.1)
    with pytest.raises(InputError):
        blur(image, np.ones((51, 3)))
    with pytest.raises(InputError):
        blur(image, np.zeros((3, 3)))

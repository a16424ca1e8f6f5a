"""Canvases for DFT deconvolution: periodic, reflect + taper, MATLAB edgetaper."""

import re

import numpy as np
import pytest
import scipy.ndimage

from deblur_cli.boundary import edgetaper, extend
from deblur_cli.errors import InputError, ParameterError
from deblur_cli.psf import defocus, gaussian, motion

from .reference import matlab_edgetaper


@pytest.fixture
def image():
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 1, 70, dtype=np.float32)[None, :, None]  # a strong left-right jump
    return (0.7 * ramp + 0.3 * rng.random((50, 70, 3), dtype=np.float32)).astype(np.float32)


def test_periodic_is_the_image_itself(image):
    canvas, crop = extend(image, (5, 5), "periodic")
    assert np.array_equal(canvas, image) and np.array_equal(canvas[crop], image)


@pytest.mark.parametrize("psf_shape", [(1, 15), (9, 15), (21, 21)])
def test_reflect_canvas_holds_the_image_and_is_smooth_across_the_wrap(image, psf_shape):
    import scipy.fft

    canvas, crop = extend(image, psf_shape, "reflect")
    assert canvas.dtype == np.float32
    assert np.array_equal(canvas[crop], image)
    for axis, k in enumerate(psf_shape):
        size = canvas.shape[axis]
        assert size >= image.shape[axis] + 4 * k
        assert scipy.fft.next_fast_len(size, real=True) == size
    if psf_shape[0] >= 9:  # wide margins: next to the edge the fade has barely begun
        top, bottom = crop[0].start, crop[0].stop
        np.testing.assert_allclose(canvas[top - 1, crop[1]], image[0], atol=0.02)
        np.testing.assert_allclose(canvas[bottom, crop[1]], image[-1], atol=0.02)
    # the jump across the periodic wrap is far smaller than the image's own edge jump
    wrap_jump = np.abs(canvas[:, 0] - canvas[:, -1]).max()
    image_jump = np.abs(image[:, 0] - image[:, -1]).mean()
    assert wrap_jump < 0.1 * image_jump


def test_reflect_margin_fades_to_the_mean_of_the_edges(image):
    canvas, crop = extend(image, (21, 21), "reflect")
    rows, cols = crop
    middle_row = (rows.stop + canvas.shape[0] + rows.start) // 2 % canvas.shape[0]
    np.testing.assert_allclose(canvas[middle_row, cols], np.broadcast_to(np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]).mean(axis=0), (70, 3)), atol=0.02)


L_SHAPE = np.array([[1, 0, 0], [1, 0, 0], [1, 1, 1]], np.float32) / 5


SIGNED = np.array([[0, -0.2, 0], [-0.2, 1.8, -0.2], [0, -0.2, 0]], np.float32)  # overshoots: the result is clipped


@pytest.mark.parametrize("kernel", [gaussian(2), motion(9, 30), motion(9, 0), L_SHAPE, SIGNED],
                         ids=["gaussian", "motion", "row", "L", "signed"])
@pytest.mark.parametrize("grey", [False, True])
def test_edgetaper_is_matlabs(image, kernel, grey):
    pixels = image[..., 1] if grey else image
    np.testing.assert_allclose(edgetaper(pixels, kernel), matlab_edgetaper(pixels, kernel), atol=2e-6)


def test_edgetaper_of_a_one_row_kernel_only_tapers_left_and_right(image):
    tapered, crop = extend(image, (1, 9), "edgetaper", psf=motion(9, 0))
    np.testing.assert_allclose(tapered[:, 12:-12], image[:, 12:-12], atol=1e-5)
    assert np.abs(tapered[:, 0] - image[:, 0]).max() > 0.01


def test_edgetaper_needs_a_psf_smaller_than_half_the_image(image):
    with pytest.raises(InputError, match="twice"):
        edgetaper(image, defocus(13))
    with pytest.raises(ParameterError):
        extend(image, (3, 3), "edgetaper")
    with pytest.raises(ParameterError, match="unknown boundary"):
        extend(image, (3, 3), "wrap")


def test_reflect_with_a_psf_reblurs_the_margin_and_blends_the_edge_band(image):
    kernel = motion(9, 30)
    canvas, crop = extend(image, kernel.shape, "reflect", psf=kernel)
    rows, cols = crop
    height, width = image.shape[:2]
    mirrored = np.pad(image, [(rows.start, canvas.shape[0] - rows.stop), (cols.start, canvas.shape[1] - cols.stop), (0, 0)],
                      mode="symmetric").astype(np.float64)
    reblurred = np.stack([scipy.ndimage.convolve(mirrored[..., c], kernel.astype(np.float64), mode="reflect")
                          for c in range(3)], axis=2)
    # the image's edge rows and columns are the re-blurred canvas, its core is untouched
    np.testing.assert_allclose(canvas[rows.start, cols], reblurred[rows.start, cols], atol=1e-5)
    np.testing.assert_allclose(canvas[rows, cols.stop - 1], reblurred[rows, cols.stop - 1], atol=1e-5)
    reach_y, reach_x = kernel.shape[0] // 2 + 1, kernel.shape[1] // 2 + 1
    np.testing.assert_array_equal(canvas[rows, cols][reach_y:-reach_y, reach_x:-reach_x],
                                  image[reach_y:-reach_y, reach_x:-reach_x])
    # just outside the image, where the fade has barely begun, the margin is the re-blurred mirror
    np.testing.assert_allclose(canvas[rows.start - 1, cols], reblurred[rows.start - 1, cols], atol=0.02)
    assert canvas.shape[0] >= height + 4 * kernel.shape[0] and canvas.shape[1] >= width + 4 * kernel.shape[1]


@pytest.mark.parametrize(
    ("psf_shape", "error", "found"),
    [((-5, -5), ParameterError, "each side of psf_shape must be an integer >= 1, got -5"),
     ((3.5, 3.5), ParameterError, "each side of psf_shape must be an integer >= 1, got 3.5"),
     ("ab", ParameterError, "psf_shape must be a pair of integers >= 1, (height, width), got 'ab'"),
     ((3, 3, 3), ParameterError, "got (3, 3, 3)"),
     (None, ParameterError, "psf_shape must be given when the PSF itself is not"),
     ((10**6, 10**6), InputError, "psf_shape (1000000, 1000000) is larger than the image, of shape (50, 70)"),
     ((51, 3), InputError, "psf_shape (51, 3) is larger than the image")],
)
@pytest.mark.parametrize("mode", ["reflect", "periodic"])
def test_psf_shape_is_checked_against_the_image(image, psf_shape, error, found, mode):
    with pytest.raises(error, match=re.escape(found)):
        extend(image, psf_shape, mode)


def test_with_the_psf_psf_shape_may_be_none_or_its_shape_as_given_or_padded(image):
    even = np.ones((2, 4), np.float32)
    canvases = [extend(image, shape, "reflect", psf=even)[0] for shape in [None, (2, 4), (3, 5)]]
    assert all(np.array_equal(canvas, canvases[0]) for canvas in canvases)
    np.testing.assert_array_equal(canvases[0], extend(image, (3, 5), "reflect", psf=np.pad(even, [(0, 1), (0, 1)]))[0])
    with pytest.raises(ParameterError, match=re.escape("psf_shape (1, 1) is not the PSF's shape (25, 25)")):
        extend(image, (1, 1), "reflect", psf=gaussian(3))

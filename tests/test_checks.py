"""The numeric entry points refuse a malformed or non-finite image (InputError) and wrongly typed scalars."""

import re

import numpy as np
import pytest

from deblur_cli.checks import as_image, check_values, range_exponent, scaled_back, scaled_down
from deblur_cli.forward import blur
from deblur_cli.boundary import edgetaper, extend
from deblur_cli.deconv import wiener
from deblur_cli.errors import InputError, ParameterError
from deblur_cli.estimate import estimate_blur, gcv_nsr, noise_sigma
from deblur_cli.metrics import count_differing, psnr
from deblur_cli.psf import defocus, gaussian, motion
from deblur_cli.resample import conv_transpose2d, downsample, resize_bilinear

_PSF = np.full((3, 3), 1 / 9)

ENTRY_POINTS = {
    "wiener": lambda image: wiener(image, _PSF, 0.01),
    "wiener auto": lambda image: wiener(image, _PSF, "auto"),
    "blur": lambda image: blur(image, _PSF),
    "extend reflect": lambda image: extend(image, (3, 3), "reflect", psf=_PSF),
    "extend periodic": lambda image: extend(image, (3, 3), "periodic"),
    "edgetaper": lambda image: edgetaper(image, _PSF),
    "noise_sigma": noise_sigma,
    "estimate_blur": estimate_blur,
    "resize_bilinear": lambda image: resize_bilinear(image, (4, 4)),
    "conv_transpose2d": lambda image: conv_transpose2d(image, np.ones((2, 2)), stride=2),
    "downsample": lambda image: downsample(image, 2),
}


def _with(values, shape=(40, 40, 3), dtype=np.float64):
    image = np.full(shape, 0.5, dtype)
    image.flat[: len(values)] = values
    return image


@pytest.mark.parametrize("name", ENTRY_POINTS)
@pytest.mark.parametrize(
    ("image", "found"),
    [
        (_with([np.nan, np.nan, np.nan]), "image holds 3 NaN values;"),
        (_with([np.inf, 1.0, -np.inf, np.nan]), "image holds 1 NaN value, 2 infinite values;"),
        (_with([np.nan], shape=(40, 40), dtype=np.float32), "image holds 1 NaN value;"),
    ],
)
def test_non_finite_pixels_are_counted_in_the_error(name, image, found):
    with pytest.raises(InputError, match=re.escape(found)):
        ENTRY_POINTS[name](image)


@pytest.mark.parametrize("name", [name for name in ENTRY_POINTS if name != "noise_sigma"])
def test_values_beyond_float32_are_refused_where_computed_in_float32(name):
    with pytest.raises(InputError, match=re.escape("image holds 1 value beyond float32's range;")):
        ENTRY_POINTS[name](_with([1e39]))


def test_noise_sigma_computes_in_float64_so_takes_values_beyond_float32():
    assert noise_sigma(np.full((5, 5), 1e300)) == 0.0


@pytest.mark.parametrize("name", ENTRY_POINTS)
@pytest.mark.parametrize("shape", [(40,), (40, 40, 3, 1), (40, 40, 0), (0, 40), (40, 0, 3), ()])
def test_malformed_shapes_are_quoted_in_the_error(name, shape):
    with pytest.raises(InputError, match=re.escape(f"got shape {shape}")):
        ENTRY_POINTS[name](np.zeros(shape, np.float32))


@pytest.mark.parametrize(
    ("pixels", "found"),
    [(np.full((4, 4), 1j), "must hold real numbers, got complex128"), (np.full((4, 4), "a"), "got <U1"),
     ([[1.0, 2.0], [3.0]], "not an array of numbers")],
)
def test_values_that_are_not_real_numbers_are_refused(pixels, found):
    with pytest.raises(InputError, match=re.escape(found)):
        as_image(pixels)


def test_valid_images_pass_unchanged_in_the_asked_dtype():
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    assert as_image(pixels).dtype == np.float32 and np.array_equal(as_image(pixels), pixels)
    floats = np.linspace(-3e38, 3e38, 12, dtype=np.float32).reshape(2, 2, 3)
    assert as_image(floats) is floats
    assert as_image(pixels, dtype=None) is pixels
    with pytest.raises(InputError, match=re.escape("of 9x2 pixels is too small: 3x3 at least are needed")):
        as_image(np.zeros((2, 9)), min_side=3)


_IMAGE = np.full((8, 8), 0.5, np.float32)


@pytest.mark.parametrize(
    ("call", "found"),
    [
        (lambda: blur(_IMAGE, _PSF, noise_sigma="0.1"), "noise sigma must be a number from 0 to 1e6 (a fraction "),
        (lambda: blur(_IMAGE, _PSF, noise_sigma=None), "of full range), got None"),
        (lambda: blur(_IMAGE, _PSF, noise_sigma=float("nan")), "got nan"),
        (lambda: blur(_IMAGE, _PSF, noise_sigma=0.1, seed=-1), "seed must be an integer >= 0, got -1"),
        (lambda: blur(_IMAGE, _PSF, noise_sigma=0.1, seed=1.5), "seed must be an integer >= 0, got 1.5"),
        (lambda: blur(_IMAGE, _PSF, noise_sigma=0.1, seed=True), "seed must be an integer >= 0, got True"),
        (lambda: motion("5", 0), "motion length must be a finite number, got '5'"),
        (lambda: motion(5, None), "motion angle must be a finite number, got None"),
        (lambda: defocus("3"), "defocus radius must be a finite number, got '3'"),
        (lambda: gaussian(True), "gaussian sigma must be a finite number, got True"),
        (lambda: wiener(_IMAGE, _PSF, True), "NSR must be a number > 0 or 'auto', got True"),
        (lambda: wiener(_IMAGE, _PSF, None), "NSR must be a number > 0 or 'auto', got None"),
        (lambda: wiener(_IMAGE, _PSF, [0.01]), "NSR must be a number > 0 or 'auto', got [0.01]"),
        (lambda: gcv_nsr(np.ones((4, 3)), np.ones((4, 3)), full_width="4"), "full_width must be an integer >= 1"),
        (lambda: psnr(_IMAGE, _IMAGE, data_range="1"), "data_range must be a finite number > 0, got '1'"),
        (lambda: psnr(_IMAGE, _IMAGE, data_range=True), "data_range must be a finite number > 0, got True"),
        (lambda: count_differing(_IMAGE, _IMAGE, tolerance="0"), "tolerance must be a finite number >= 0, got '0'"),
    ],
)
def test_wrongly_typed_scalars_are_parameter_errors(call, found):
    with pytest.raises(ParameterError, match=re.escape(found)):
        call()


def test_numpy_scalars_are_numbers():
    assert np.array_equal(motion(np.float32(5), np.int64(0)), motion(5, 0))
    noisy = blur(_IMAGE, _PSF, noise_sigma=np.float64(0.1), seed=np.uint8(3))
    assert np.array_equal(noisy, blur(_IMAGE, _PSF, noise_sigma=0.1, seed=3))


@pytest.mark.parametrize(
    "values",
    [np.linspace(-2.0, 1.0, 60, dtype=np.float32).reshape(6, 10), np.linspace(-2.0, 1.0, 60).reshape(6, 10)[:, ::3],
     np.full((4, 5, 3), -3e38, np.float32), np.full((3, 3), 1e300)],
)
def test_check_values_bounds_the_magnitude_of_the_values(values):
    bound = check_values(values, "x")
    assert np.abs(values).max() <= bound * (1 + 1e-6) and np.isfinite(bound)
    pixels, peak = as_image(values, dtype=None, return_peak=True)
    assert pixels is values and peak == bound


def test_check_values_bounds_integers_by_their_dtype():
    assert check_values(np.zeros(3, np.uint8), "x") == 255
    assert check_values(np.zeros(3, np.int16), "x") == 32768
    assert check_values(np.zeros(3, bool), "x") == 1


@pytest.mark.parametrize(("bound", "exponent"), [(0.0, 0), (2.0**120, 0), (2.0**120 * 1.5, 1), (2.0**121, 2), (3e38 * 8, 11)])
def test_range_exponent_brings_the_bound_to_2_to_the_120(bound, exponent):
    assert range_exponent(bound) == exponent
    assert bound * 2.0**-exponent <= 2.0**120


def test_scaling_down_and_back_is_exact_and_refuses_what_leaves_float32():
    values = np.array([3e38, -1e-30, 1.5], np.float32)
    scaled = scaled_down(values, 11)
    assert scaled.dtype == np.float32 and np.array_equal(scaled, values.astype(np.float64) / 2048)
    assert np.array_equal(scaled_back(scaled, 11, "x"), values)  # in place
    assert scaled_down(values, 0) is values
    with pytest.raises(InputError, match=re.escape("the sum leaves float32's range (magnitude up to 3.4e+38)")):
        scaled_back(scaled_down(values, 11) * 4, 11, "the sum")

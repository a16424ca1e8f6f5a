"""PSNR, SSIM and differences against scikit-image and hand-computed cases."""

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from deblur_cli.errors import InputError, ParameterError
from deblur_cli.images import Image, read_image
from deblur_cli.metrics import (
    abs_diff_map,
    count_differing,
    luma,
    max_abs_diff,
    psnr,
    quality,
    ssim,
)

TOP = {np.uint8: 255, np.uint16: 65535}


def pair(dtype, shape, seed=0, noise=0.02):
    """A smooth random reference and a noisy copy, in the full range of ``dtype``."""
    rng = np.random.default_rng(seed)
    base = cv2.GaussianBlur(rng.random(shape), (0, 0), 2)
    base = (base - base.min()) / (base.max() - base.min())
    test = np.clip(base + rng.normal(0, noise, shape), 0, 1)
    if dtype in TOP:
        return (np.rint(base * TOP[dtype]).astype(dtype), np.rint(test * TOP[dtype]).astype(dtype))
    return base.astype(dtype), test.astype(dtype)


def sk_ssim(a, b, data_range):
    return structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=data_range, channel_axis=2 if a.ndim == 3 else None,
    )


# --- PSNR ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
@pytest.mark.parametrize("shape", [(37, 53), (40, 32, 3)])
def test_psnr_equals_skimage(dtype, shape):
    a, b = pair(dtype, shape)
    assert abs(psnr(a, b) - peak_signal_noise_ratio(a, b)) <= 1e-9


def test_psnr_float32_equals_skimage_on_the_same_values_in_float64():
    # skimage squares float32 differences in float32; this module accumulates in float64,
    # so the exact reference is skimage on the same values held in float64.
    a, b = pair(np.float32, (48, 48, 3))
    expected = peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64), data_range=1.0)
    assert abs(psnr(a, b) - expected) <= 1e-9


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([np.uint8, np.uint16]),
    st.integers(1, 24),
    st.integers(1, 24),
    st.sampled_from([None, 1, 3]),
    st.integers(0, 2**32 - 1),
)
def test_psnr_equals_skimage_on_random_integer_arrays(dtype, height, width, channels, seed):
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels is None else (height, width, channels)
    a = rng.integers(0, TOP[dtype] + 1, shape).astype(dtype)
    b = rng.integers(0, TOP[dtype] + 1, shape).astype(dtype)
    if np.array_equal(a, b):
        assert psnr(a, b) == math.inf
    else:
        assert abs(psnr(a, b) - peak_signal_noise_ratio(a, b)) <= 1e-9


def test_psnr_data_range_overrides_the_dtype():
    a, b = pair(np.float64, (32, 32))
    a, b = a * 4095, b * 4095
    assert abs(psnr(a, b, data_range=4095) - peak_signal_noise_ratio(a, b, data_range=4095)) <= 1e-9


EXTREME_RANGES = [5e-324, 1e-300, 1e-160, 1e200, 1e300, 1.7976931348623157e308]


@pytest.mark.parametrize("data_range", EXTREME_RANGES)
def test_psnr_is_finite_for_any_finite_data_range(data_range):
    # PSNR moves by 20 log10 of the ratio of two peaks: skimage's value at R = 255 carried over
    a, b = pair(np.uint8, (24, 32, 3))
    expected = peak_signal_noise_ratio(a, b) + 20 * (math.log10(data_range) - math.log10(255))
    assert psnr(a, b, data_range=data_range) == pytest.approx(expected, abs=1e-9)


def test_psnr_of_differences_whose_squares_underflow():
    # one of sixteen samples off by 1e-200: MSE = 1e-400 / 16, out of float64's range
    a = np.zeros((4, 4))
    b = a.copy()
    b[0, 0] = 1e-200
    assert psnr(a, b) == pytest.approx(4000 + 10 * math.log10(16), abs=1e-9)
    assert max_abs_diff(a, b) == 1e-200


def test_psnr_of_identical_images_is_inf():
    a, _ = pair(np.uint8, (16, 16, 3))
    assert psnr(a, a.copy()) == math.inf


def test_psnr_worked_example():
    # one of four samples off by 255: MSE = 255^2 / 4, PSNR = 10 log10(4)
    a = np.zeros((2, 2), np.uint8)
    b = a.copy()
    b[0, 0] = 255
    assert psnr(a, b) == pytest.approx(10 * math.log10(4), abs=1e-12)


def test_crop_border_measures_the_interior_only():
    a, b = pair(np.uint8, (40, 48, 3))
    b[:3] = 0  # damage confined to the border
    inner = (slice(3, -3), slice(3, -3))
    assert psnr(a, b, crop_border=3) == pytest.approx(peak_signal_noise_ratio(a[inner], b[inner]), abs=1e-9)
    assert ssim(a, b, crop_border=3) == pytest.approx(sk_ssim(a[inner], b[inner], 255), abs=1e-4)


# --- Y channel ----------------------------------------------------------------------


def test_y_psnr_matches_a_hand_computed_bt601_case():
    a = np.array([[[255, 0, 0], [0, 255, 0]], [[0, 0, 255], [128, 128, 128]]], np.uint8)
    b = np.array([[[250, 0, 0], [0, 255, 10]], [[0, 0, 255], [120, 130, 128]]], np.uint8)

    def y(rgb):  # ITU-R BT.601 luma as MATLAB rgb2ycbcr, r,g,b in [0, 1], 0..255 scale
        r, g, b = (rgb[..., i].astype(float) / 255 for i in range(3))
        return 16 + 65.481 * r + 128.553 * g + 24.966 * b

    mse = np.mean((y(a) - y(b)) ** 2)
    assert psnr(a, b, channel="y") == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)


def test_luma_equals_skimage_rgb2ycbcr():
    a, _ = pair(np.uint8, (24, 24, 3))
    assert np.allclose(luma(a, 255.0), rgb2ycbcr(a)[..., 0], atol=1e-9)


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_y_psnr_and_ssim_equal_skimage_on_the_luma(dtype):
    a, b = pair(dtype, (48, 40, 3))
    scale = 255 if dtype == np.uint8 else 1.0
    ya, yb = (rgb2ycbcr(v)[..., 0] * scale / 255 for v in (a, b))
    assert abs(psnr(a, b, channel="y") - peak_signal_noise_ratio(ya, yb, data_range=scale)) <= 1e-9
    assert abs(ssim(a, b, channel="y") - sk_ssim(ya, yb, scale)) <= 1e-4


@pytest.mark.parametrize("dtype, data_range", [(np.uint8, 100.0), (np.uint8, 1.0), (np.uint16, 255.0), (np.float64, 2.0)])
def test_y_with_a_data_range_keeps_the_luma_on_the_stored_scale(dtype, data_range):
    # data_range is only the peak R: the luma, offset included, is rgb2ycbcr's on the
    # samples' own scale. A darker copy makes SSIM's luminance term see the offset.
    a, b = pair(dtype, (48, 40, 3), noise=0.05)
    b = (b * 0.8).astype(dtype)
    scale = TOP.get(dtype, 1.0)
    ya, yb = (rgb2ycbcr(v)[..., 0] * scale / 255 for v in (a, b))
    assert abs(ssim(a, b, channel="y", data_range=data_range) - sk_ssim(ya, yb, data_range)) <= 1e-4
    assert abs(psnr(a, b, channel="y", data_range=data_range)
               - peak_signal_noise_ratio(ya, yb, data_range=data_range)) <= 1e-9


def test_quality_y_with_a_data_range_keeps_the_luma_on_the_stored_scale():
    a, b = pair(np.uint8, (40, 40, 3), noise=0.05)
    b = (b * 0.8).astype(np.uint8)
    reference = Image(a.astype(np.float32) / np.float32(255))
    image = Image(b.astype(np.float32) / np.float32(255))
    ya, yb = (rgb2ycbcr(v)[..., 0] for v in (a, b))
    result = quality(reference, image, channel="y", data_range=100)
    assert abs(result["ssim"] - sk_ssim(ya, yb, 100)) <= 1e-4
    assert abs(result["psnr"] - peak_signal_noise_ratio(ya, yb, data_range=100)) <= 1e-9
    assert result["data_range"] == 100


def test_y_psnr_is_the_same_at_every_bit_depth():
    a, b = pair(np.uint8, (32, 32, 3))
    wide = psnr(a.astype(np.uint16) * 257, b.astype(np.uint16) * 257, channel="y")
    unit = psnr(a / 255.0, b / 255.0, channel="y")
    assert wide == pytest.approx(psnr(a, b, channel="y"), abs=1e-9)
    assert unit == pytest.approx(psnr(a, b, channel="y"), abs=1e-9)


def test_y_of_a_grey_image_is_the_image():
    a, b = pair(np.uint8, (32, 32))
    assert psnr(a, b, channel="y") == psnr(a, b)


def test_y_needs_three_channels():
    a = np.zeros((16, 16, 4), np.uint8)
    with pytest.raises(ParameterError, match="3 channels"):
        psnr(a, a, channel="y")


# --- SSIM ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
@pytest.mark.parametrize("shape", [(64, 48), (40, 56, 3)])
def test_ssim_equals_skimage(dtype, shape):
    a, b = pair(dtype, shape, noise=0.05)
    data_range = TOP.get(dtype, 1.0)
    assert abs(ssim(a, b) - sk_ssim(a, b, data_range)) <= 1e-4


@pytest.mark.parametrize(
    "a, b",
    [
        # a flat bright field with sparse one-level steps: the float32 worst case
        (np.full((64, 64), 250, np.uint8), (np.full((64, 64), 250) + (np.arange(64 * 64).reshape(64, 64) % 7 == 0)).astype(np.uint8)),
        # a full-contrast checkerboard
        ((np.indices((64, 64)).sum(0) % 2 * 255).astype(np.uint8), (np.indices((64, 64)).sum(0) % 2 * 250).astype(np.uint8)),
    ],
)
def test_ssim_equals_skimage_on_hard_cases(a, b):
    assert abs(ssim(a, b) - sk_ssim(a, b, 255)) <= 1e-4


@pytest.mark.parametrize("height", [37, 43, 49])
def test_psnr_and_ssim_are_exact_across_strip_boundaries(height):
    # 8192 samples a row make 16-row strips: several strips, a last one of 5, 11 or 1 rows
    a, b = pair(np.uint8, (height, 8192), noise=0.05)
    assert abs(psnr(a, b) - peak_signal_noise_ratio(a, b)) <= 1e-9
    assert abs(ssim(a, b) - sk_ssim(a, b, 255)) <= 1e-4
    assert max_abs_diff(a, b) == np.abs(a.astype(int) - b.astype(int)).max()


def test_ssim_of_identical_images_is_one():
    a, _ = pair(np.uint8, (32, 32, 3))
    assert ssim(a, a) == pytest.approx(1.0, abs=1e-6)


def test_ssim_data_range_changes_the_constants_as_skimage():
    a, b = pair(np.float64, (32, 32), noise=0.1)
    assert abs(ssim(a, b, data_range=2.0) - sk_ssim(a, b, 2.0)) <= 1e-4


@pytest.mark.parametrize("exponent", [-1000, -500, -60, -40, 60, 100])
def test_ssim_is_unchanged_by_scaling_samples_and_data_range_together(exponent):
    # SSIM is a ratio of second moments with constants proportional to R^2: scaling the
    # samples and R by one power of two leaves it as it is, down to 1e-301 and up to 1e32
    a, b = pair(np.uint8, (48, 40), noise=0.05)
    scale = 2.0**exponent
    scaled = ssim(a * scale, b * scale, data_range=255 * scale)
    assert abs(scaled - sk_ssim(a, b, 255)) <= 1e-4


def test_ssim_tends_to_one_for_a_data_range_far_above_the_samples():
    a, b = pair(np.uint8, (48, 40), noise=0.05)
    for data_range in (1e200, 1e300, 1.7976931348623157e308):
        assert ssim(a, b, data_range=data_range) == pytest.approx(1.0, abs=1e-12)


def test_ssim_tends_to_its_unregularised_form_for_a_data_range_far_below_the_samples():
    # C1, C2 ~ R^2 vanish next to the variances: skimage at R = 1e-6 is that limit already
    a, b = pair(np.uint8, (48, 40), noise=0.05)
    for data_range in (1e-160, 1e-300, 5e-324):
        assert abs(ssim(a, b, data_range=data_range) - sk_ssim(a, b, 1e-6)) <= 1e-6


def test_ssim_of_flat_images_with_a_vanishing_data_range():
    # the limits as C1, C2 -> 0: equal flat fields are alike (1), black against grey is not (0)
    zero, one = np.zeros((16, 16), np.uint8), np.ones((16, 16), np.uint8)
    assert ssim(zero, zero.copy(), data_range=1e-300) == 1.0
    assert abs(ssim(zero, one, data_range=1e-300)) <= 1e-12


@settings(max_examples=40, deadline=None)
@given(
    st.integers(11, 20),
    st.integers(11, 20),
    st.integers(0, 3),
    st.sampled_from([5e-324, 1e-300, 1e-20, 1e-3, 1.0, 255.0, 1e20, 1e300]),
    st.integers(0, 2**32 - 1),
)
def test_ssim_stays_within_minus_one_and_one_for_any_data_range(height, width, levels, data_range, seed):
    # few levels make flat windows, where E[x^2] - E[x]^2 is rounding noise next to tiny constants
    rng = np.random.default_rng(seed)
    a = rng.integers(0, levels + 1, (height, width)).astype(np.uint8) * 60
    b = rng.integers(0, levels + 1, (height, width)).astype(np.uint8) * 60
    value = ssim(a, b, data_range=data_range)
    assert -1.0 <= value <= 1.0


def centred_ssim(a, b, data_range):
    """Wang et al.'s SSIM in float64 on samples less a constant: no cancellation whatever their level."""
    from scipy.ndimage import gaussian_filter

    level = np.median(a)
    a, b = a.astype(np.float64) - level, b.astype(np.float64) - level

    def mean(x):
        return gaussian_filter(x, 1.5, truncate=3.5, mode="reflect")

    mu_a, mu_b = mean(a), mean(b)
    var_a, var_b, cov = mean(a * a) - mu_a**2, mean(b * b) - mu_b**2, mean(a * b) - mu_a * mu_b
    mu_a, mu_b = mu_a + level, mu_b + level
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    index = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return index[5:-5, 5:-5].mean()


@pytest.mark.parametrize("level, step, data_range", [(49151, 1, 1.0), (191, 1, 1.0), (0.75, 1e-3, 1e-3), (0.5, 1e-3, 1.0)])
def test_ssim_keeps_its_precision_on_flat_fields_far_above_the_data_range(level, step, data_range):
    # Sparse one-step changes on a flat field: SSIM hangs on variances of ~step^2 / 35 next to
    # samples of the size of ``level``, which a float32 E[x^2] - E[x]^2 would lose.
    dtype = np.uint16 if level > 255 else np.uint8 if step == 1 else np.float32
    a = np.full((64, 80), level, dtype)
    b = a.copy()
    b[::7, ::5] += dtype(step)
    assert abs(ssim(a, b, data_range=data_range) - centred_ssim(a, b, data_range)) <= 1e-6


def test_ssim_refuses_images_smaller_than_the_window():
    a = np.zeros((10, 40), np.uint8)
    with pytest.raises(InputError, match="11x11"):
        ssim(a, a)


# --- differences --------------------------------------------------------------------


def test_max_abs_diff_and_count_differing_worked_example():
    a = np.zeros((3, 4, 3), np.uint8)
    b = a.copy()
    b[0, 0, 2] = 7  # one pixel off by 7 in one channel
    b[2, 3] = 2  # one pixel off by 2 in all channels
    assert max_abs_diff(a, b) == 7.0
    assert count_differing(a, b) == 2
    assert count_differing(a, b, 2) == 1
    assert count_differing(a, b, 7) == 0


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.bool_])
@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 3)])
def test_differences_take_signed_and_bool_samples_without_a_data_range(dtype, shape):
    rng = np.random.default_rng(1)
    a, b = (rng.integers(-100, 100, shape).astype(dtype) for _ in range(2))
    difference = np.abs(a.astype(np.float64) - b.astype(np.float64))
    per_pixel = difference if difference.ndim == 2 else difference.max(axis=2)
    assert max_abs_diff(a, b) == difference.max()
    assert count_differing(a, b) == np.count_nonzero(per_pixel)
    assert count_differing(a, b, 1) == np.count_nonzero(per_pixel > 1)


def test_luma_differences_of_signed_samples_need_no_scale():
    a = np.zeros((3, 4, 3), np.int16)
    b = a.copy()
    b[1, 2] = (-10, 20, 5)  # Y differs by (65.481 * -10 + 128.553 * 20 + 24.966 * 5) / 255
    expected = (65.481 * -10 + 128.553 * 20 + 24.966 * 5) / 255
    assert max_abs_diff(a, b, channel="y") == pytest.approx(expected, rel=1e-12)
    assert count_differing(a, b, expected - 0.01, channel="y") == 1


def test_differences_do_not_wrap_around_in_unsigned_types():
    a = np.array([[0]], np.uint8)
    b = np.array([[255]], np.uint8)
    assert max_abs_diff(a, b) == 255.0
    assert max_abs_diff(b, a) == 255.0


# --- errors -------------------------------------------------------------------------


def test_size_mismatch_names_both_sizes():
    with pytest.raises(InputError, match=r"reference is 5x4 .* image is 6x4"):
        psnr(np.zeros((4, 5), np.uint8), np.zeros((4, 6), np.uint8))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"channel": "red"}, "'all' or 'y'"),
        ({"crop_border": -1}, "crop_border"),
        ({"crop_border": 8}, "at most 7"),
        ({"data_range": 0}, "data_range"),
        ({"data_range": math.inf}, "data_range"),
        ({"data_range": math.nan}, "data_range"),
    ],
)
def test_bad_options_are_parameter_errors(options, message):
    a = np.zeros((16, 16), np.uint8)
    with pytest.raises(ParameterError, match=message):
        psnr(a, a, **options)


@pytest.mark.parametrize("tolerance", [-1.0, math.nan, math.inf])
def test_tolerance_must_be_finite_and_not_negative(tolerance):
    a = np.zeros((16, 16), np.uint8)
    with pytest.raises(ParameterError, match="tolerance"):
        count_differing(a, a, tolerance)
    with pytest.raises(ParameterError, match="tolerance"):
        quality(Image(a.astype(np.float32)), Image(a.astype(np.float32)), tolerance=tolerance)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 1e39])
@pytest.mark.parametrize("role", ["reference", "image"])
def test_samples_beyond_the_float32_range_are_refused(value, role):
    arrays = {"reference": np.zeros((16, 16)), "image": np.zeros((16, 16))}
    arrays[role][3, 4] = value
    for measure in (psnr, ssim, max_abs_diff):
        with pytest.raises(InputError, match=f"the {role} holds samples"):
            measure(arrays["reference"], arrays["image"])


MEASURES = [psnr, ssim, max_abs_diff, count_differing, quality, abs_diff_map]


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize(
    "array, message",
    [
        (np.zeros(16), r"shape \(16,\)"),
        (np.float64(3.0), r"shape \(\)"),
        (np.zeros((16, 16, 3, 1)), r"shape \(16, 16, 3, 1\)"),
        (np.zeros((16, 16, 0)), r"shape \(16, 16, 0\)"),
        (np.zeros((0, 0)), r"shape \(0, 0\)"),
        (np.zeros((16, 16), complex), "real numbers, got complex128"),
        (np.full((16, 16), "a"), "real numbers, got <U1"),
        (np.zeros((16, 16), object), "real numbers, got object"),
        ([[1.0, 2.0], [3.0]], "not an array of numbers"),
    ],
)
def test_arrays_that_are_not_images_are_input_errors_naming_shape_or_dtype(measure, array, message):
    good = np.zeros((16, 16))
    with pytest.raises(InputError, match="^reference .*" + message):
        measure(array, good)
    with pytest.raises(InputError, match="^image "):
        measure(good, array)


@pytest.mark.parametrize("measure", MEASURES[:5])
def test_a_single_channel_pairs_with_grey(measure):
    a, b = pair(np.uint8, (16, 16))
    expected = measure(a, b)
    assert measure(a, b[..., None]) == expected
    assert measure(a[..., None], b) == expected


def test_a_single_channel_image_pairs_with_grey_in_the_difference_map():
    a, b = pair(np.uint8, (16, 16))
    grey, single = Image(a / np.float32(255)), Image((b / np.float32(255))[..., None])
    np.testing.assert_allclose(abs_diff_map(grey, single), np.abs(a.astype(int) - b) / 255, atol=1e-7)


def test_signed_integer_data_needs_a_data_range():
    a = np.zeros((4, 4), np.int32)
    with pytest.raises(ParameterError, match="data_range"):
        psnr(a, a)
    assert psnr(a, a + 1, data_range=10) == pytest.approx(20.0)


# --- quality on Images --------------------------------------------------------------


def write(path, array):
    """Write with OpenCV (an encoder independent of the one under test)."""
    cv2.imwrite(str(path), array[..., ::-1] if array.ndim == 3 else array)
    return read_image(path)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_quality_of_files_equals_skimage_on_the_stored_integers(tmp_path, dtype):
    a, b = pair(dtype, (48, 64, 3))
    result = quality(write(tmp_path / "a.png", a), write(tmp_path / "b.png", b))
    assert abs(result["psnr"] - peak_signal_noise_ratio(a, b)) <= 1e-9
    assert abs(result["ssim"] - sk_ssim(a, b, TOP[dtype])) <= 1e-4
    assert result["max_abs_diff"] == np.abs(a.astype(int) - b.astype(int)).max()
    assert result["differing_pixels"] == np.count_nonzero((a != b).any(axis=2))
    assert result["data_range"] == TOP[dtype]
    assert result["identical"] is False


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_quality_of_plain_arrays_measures_them_as_stored_like_psnr(dtype):
    a, b = pair(dtype, (40, 48, 3))
    result = quality(a, b)
    scale = TOP.get(dtype, 1.0)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)  # skimage squares float32 in float32
    assert abs(result["psnr"] - peak_signal_noise_ratio(a64, b64, data_range=scale)) <= 1e-9
    assert abs(result["ssim"] - sk_ssim(a64, b64, scale)) <= 1e-4
    assert result["max_abs_diff"] == pytest.approx(np.abs(a64 - b64).max(), rel=1e-6)
    assert result["data_range"] == scale


def test_quality_of_an_array_against_an_image_uses_the_image_scale():
    a, b = pair(np.uint8, (24, 24))
    reference = Image(a.astype(np.float32) / 255, source_dtype=np.dtype(np.uint8))
    assert quality(reference, b)["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-9)
    np.testing.assert_allclose(abs_diff_map(reference, b), np.abs(a.astype(int) - b) / 255, atol=1e-7)


def test_quality_of_signed_integers_takes_the_data_range_given():
    a, b = (np.arange(16, dtype=np.int32).reshape(4, 4) * k for k in (1, -1))
    result = quality(a, b, data_range=100)
    assert result["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b, data_range=100), abs=1e-9)
    assert result["max_abs_diff"] == 30.0


def test_quality_of_identical_images_has_no_infinity(tmp_path):
    a, _ = pair(np.uint8, (32, 32, 3))
    result = quality(write(tmp_path / "a.png", a), write(tmp_path / "b.png", a))
    assert result["psnr"] is None
    assert result["identical"] is True
    assert result["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert result["max_abs_diff"] == 0.0
    assert result["differing_pixels"] == 0


def test_quality_measures_a_processed_result_as_it_will_be_stored():
    a, _ = pair(np.uint8, (32, 32))
    rng = np.random.default_rng(3)
    result = a / 255.0 + rng.normal(0, 0.01, a.shape)  # unclipped, unrounded float
    reference = Image(a.astype(np.float32) / np.float32(255))
    measured = quality(reference, Image(result.astype(np.float32)))
    stored = np.rint(np.clip(result.astype(np.float32), 0, 1) * np.float32(255)).astype(np.uint8)
    assert abs(measured["psnr"] - peak_signal_noise_ratio(a, stored)) <= 1e-9


def test_quality_of_a_16_bit_image_against_an_8_bit_reference_is_on_the_8_bit_scale():
    a, b = pair(np.uint8, (32, 32, 3))
    reference = Image(a.astype(np.float32) / np.float32(255))
    wide = b.astype(np.uint16) * 257
    image = Image(wide.astype(np.float32) / np.float32(65535), source_dtype=np.dtype(np.uint16))
    assert quality(reference, image)["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-6)


def test_quality_of_float_images_with_a_data_range(tmp_path):
    a, b = pair(np.float32, (32, 32), noise=0.05)
    a, b = a * 4, b * 4
    float_image = lambda x: Image(x, source_dtype=np.dtype(np.float32))  # noqa: E731
    result = quality(float_image(a), float_image(b), data_range=4)
    expected = peak_signal_noise_ratio(a.astype(np.float64), b.astype(np.float64), data_range=4)
    assert abs(result["psnr"] - expected) <= 1e-9


def test_quality_options_reach_every_metric():
    a, b = pair(np.uint8, (40, 40, 3))
    reference = Image(a.astype(np.float32) / np.float32(255))
    image = Image(b.astype(np.float32) / np.float32(255))
    result = quality(reference, image, channel="y", crop_border=4, tolerance=1)
    inner = (slice(4, -4), slice(4, -4))
    ya, yb = (rgb2ycbcr(v[inner])[..., 0] for v in (a, b))
    assert abs(result["psnr"] - peak_signal_noise_ratio(ya, yb, data_range=255)) <= 1e-9
    assert abs(result["ssim"] - sk_ssim(ya, yb, 255)) <= 1e-4
    assert result["max_abs_diff"] == pytest.approx(np.abs(ya - yb).max(), abs=1e-9)
    assert result["differing_pixels"] == np.count_nonzero(np.abs(ya - yb) > 1)


def test_quality_of_a_tiny_image_has_psnr_but_no_ssim():
    a = np.arange(16, dtype=np.float32).reshape(4, 4) / 255
    result = quality(Image(a), Image(a[::-1].copy()))
    assert result["ssim"] is None
    assert result["psnr"] > 0


def test_quality_refuses_grey_against_colour():
    grey = Image(np.zeros((16, 16), np.float32))
    colour = Image(np.zeros((16, 16, 3), np.float32))
    with pytest.raises(InputError, match="size differs"):
        quality(grey, colour)


def test_abs_diff_map_is_the_largest_channel_difference_over_the_range():
    a, b = pair(np.uint8, (16, 24, 3))
    reference = Image(a.astype(np.float32) / np.float32(255))
    image = Image(b.astype(np.float32) / np.float32(255))
    expected = np.abs(a.astype(int) - b.astype(int)).max(axis=2) / 255
    assert np.allclose(abs_diff_map(reference, image), expected, atol=1e-7)


@pytest.mark.parametrize("data_range", EXTREME_RANGES)
def test_quality_is_finite_for_any_finite_data_range(data_range):
    a, b = pair(np.uint8, (40, 40, 3))
    reference = Image(a.astype(np.float32) / np.float32(255))
    image = Image(b.astype(np.float32) / np.float32(255))
    result = quality(reference, image, data_range=data_range)
    expected = peak_signal_noise_ratio(a, b) + 20 * (math.log10(data_range) - math.log10(255))
    assert result["psnr"] == pytest.approx(expected, abs=1e-9)
    assert -1.0 <= result["ssim"] <= 1.0
    assert result["data_range"] == data_range


@pytest.mark.parametrize(
    "data_range, gain, expected",
    [
        (None, 20.0, lambda d: np.minimum(d * 20 / 255, 1)),
        (None, 1e308, lambda d: (d > 0) * 1.0),  # any difference is full scale
        (1e-300, 1.0, lambda d: (d > 0) * 1.0),
        (5e-324, 1e10, lambda d: (d > 0) * 1.0),  # R / gain is 0 in float64
        (None, 1e-300, lambda d: d * 0.0),  # no difference is visible
        (1e300, 1e-10, lambda d: d * 0.0),  # R / gain is inf in float64
    ],
)
def test_abs_diff_map_is_the_difference_over_r_over_gain_saturated_at_one(data_range, gain, expected):
    a, b = pair(np.uint8, (16, 24, 3), noise=0.05)
    b[::2] = a[::2]  # every other row equal
    reference = Image(a.astype(np.float32) / np.float32(255))
    image = Image(b.astype(np.float32) / np.float32(255))
    difference = np.abs(a.astype(int) - b.astype(int)).max(axis=2)
    assert difference.max() > 0 and difference.min() == 0
    result = abs_diff_map(reference, image, data_range=data_range, gain=gain)
    assert result.dtype == np.float32
    assert np.allclose(result, expected(difference), atol=1e-6)


@pytest.mark.parametrize("options", [{"gain": 0.0}, {"gain": math.nan}, {"gain": math.inf}, {"data_range": -1.0}])
def test_abs_diff_map_refuses_bad_options(options):
    a = Image(np.zeros((8, 8), np.float32))
    with pytest.raises(ParameterError):
        abs_diff_map(a, a, **options)


def test_abs_diff_map_refuses_samples_beyond_the_float32_range():
    finite = np.zeros((8, 8), np.float32)
    infinite = finite.copy()
    infinite[2, 5] = np.inf
    as_image = lambda x: Image(x, source_dtype=np.dtype(np.float32))  # noqa: E731
    with pytest.raises(InputError, match="the image holds samples"):
        abs_diff_map(as_image(finite), as_image(infinite))


def test_ssim_of_more_channels_than_opencv_holds_equals_skimage():
    # OpenCV 5 filters at most 128 channels at a time; SSIM is their mean, group by group.
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(2)
    a = gaussian_filter(rng.random((24, 20, 300)), (2, 2, 0))
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1)
    assert abs(ssim(a, b) - sk_ssim(a, b, 1.0)) <= 1e-4
    assert psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-9)

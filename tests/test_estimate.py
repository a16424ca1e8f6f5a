"""Noise level, automatic NSR and blind blur estimates, against known truths."""

import json
import re

import numpy as np
import pytest
import scipy.ndimage

from deblur_cli.forward import blur
from deblur_cli.errors import InputError, ParameterError
from deblur_cli.estimate import estimate_blur, estimate_psf, gcv_nsr, noise_sigma
from deblur_cli.estimate_blind import radial_transfer
from deblur_cli.psf import defocus, gaussian, motion

from .reference import circular_blur, matlab_psf2otf, photo


def _smooth(shape, seed=0):
    """A smooth random field in [0, 1] (no texture at the pixel scale)."""
    rng = np.random.default_rng(seed)
    field = scipy.ndimage.gaussian_filter(rng.random(shape), sigma=(3, 3) + (0,) * (len(shape) - 2))
    return ((field - field.min()) / np.ptp(field)).astype(np.float32)


# ---------------------------------------------------------------- noise_sigma


@pytest.mark.parametrize("sigma", [0.002, 0.01, 0.05])
def test_noise_sigma_recovers_known_sigma_on_a_smooth_image(sigma):
    rng = np.random.default_rng(1)
    clean = _smooth((200, 240))
    noisy = clean + rng.normal(0, sigma, clean.shape)
    assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.05)


def test_noise_sigma_on_a_blurred_photograph_matches_the_noise_added():
    rng = np.random.default_rng(2)
    blurred = scipy.ndimage.gaussian_filter(photo((256, 256)), 2.0)
    for sigma in (0.005, 0.02):
        noisy = blurred + rng.normal(0, sigma, blurred.shape).astype(np.float32)
        assert noise_sigma(noisy) == pytest.approx(sigma, rel=0.05)


def test_noise_sigma_counts_8_bit_rounding_as_noise():
    rng = np.random.default_rng(3)
    clean = _smooth((256, 256))
    sigma = 0.002
    stored = np.round(np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1) * 255) / 255
    expected = np.hypot(sigma, 1 / (255 * np.sqrt(12)))  # rounding is uniform noise
    assert noise_sigma(stored) == pytest.approx(expected, rel=0.08)


def test_noise_sigma_is_robust_to_edges_that_fool_the_plain_mean():
    rng = np.random.default_rng(4)
    steps = (np.indices((200, 200)).sum(axis=0) // 9 % 2).astype(np.float64)  # many sharp edges
    noisy = steps + rng.normal(0, 0.01, steps.shape)
    mask_response = scipy.ndimage.convolve(noisy, np.outer([1, -2, 1], [1, -2, 1]))[1:-1, 1:-1]
    immerkaer = np.sqrt(np.pi / 2) * np.abs(mask_response).mean() / 6
    assert immerkaer > 0.05  # the textbook estimator is swamped by the edges
    assert noise_sigma(noisy) == pytest.approx(0.01, rel=0.1)


def test_noise_sigma_per_channel_and_mean():
    rng = np.random.default_rng(5)
    clean = _smooth((160, 160, 3))
    sigmas = np.array([0.004, 0.01, 0.03])
    noisy = clean + rng.normal(0, 1, clean.shape) * sigmas
    np.testing.assert_allclose(noise_sigma(noisy, per_channel=True), sigmas, rtol=0.06)
    assert noise_sigma(noisy) == pytest.approx(sigmas.mean(), rel=0.06)


def test_noise_sigma_of_a_flat_image_is_zero():
    assert noise_sigma(np.full((20, 30), 0.5, np.float32)) == 0.0


@pytest.mark.parametrize("shape, message", [((2, 10), "image of 10x2 pixels is too small: 3x3 at least"),
                                            ((10,), "got shape (10,)"), ((4, 4, 3, 1), "got shape (4, 4, 3, 1)")])
def test_noise_sigma_refuses_unusable_shapes(shape, message):
    with pytest.raises(InputError, match=re.escape(message)):
        noise_sigma(np.zeros(shape))


# ---------------------------------------------------------------- gcv_nsr


def _grid(shape):
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.rfftfreq(shape[1])[None, :]
    return fy, fx


def test_gcv_finds_the_noise_to_prior_ratio_of_a_synthetic_spectrum():
    # Image power c / |R|^2 (the prior GCV assumes) and white noise N: the expected
    # GCV curve is minimal at lam = N / c, the Wiener-optimal weight.
    shape = (256, 256)
    fy, fx = _grid(shape)
    reg = (4 - 2 * np.cos(2 * np.pi * fy) - 2 * np.cos(2 * np.pi * fx)) ** 2 + 1e-3
    otf = np.exp(-(fy**2 + fx**2) / (2 * 0.08**2)) ** 2
    c, noise = 50.0, 0.2
    rng = np.random.default_rng(6)
    periodogram = rng.exponential(size=otf.shape)  # |G|^2 of Gaussian data scatters so
    spectrum = (otf * c / reg + noise) * periodogram
    assert gcv_nsr(spectrum, otf, reg) == pytest.approx(noise / c, rel=0.25)


def _periodic_case(kernel_shape=(1, 15), bsnr=30, seed=7):
    """Camera crop circularly blurred by a horizontal box, noise at the given BSNR."""
    image = photo((256, 256)).astype(np.float64)
    kernel = np.ones(kernel_shape) / np.prod(kernel_shape)
    blurred, otf = circular_blur(image, kernel)
    otf = otf[:, : image.shape[1] // 2 + 1]  # the rfft2 grid
    sigma = np.sqrt(blurred.var() / 10 ** (bsnr / 10))
    observed = blurred + np.random.default_rng(seed).normal(0, sigma, image.shape)
    return image, observed, otf


@pytest.mark.parametrize("reg", ["identity", "laplacian"])
def test_gcv_choice_is_within_a_factor_3_of_the_best_grid_nsr(reg):
    image, observed, otf = _periodic_case()
    spectrum = np.fft.rfft2(observed)
    otf_power = np.abs(otf) ** 2
    fy, fx = _grid(image.shape)
    reg_power = (
        np.ones(otf.shape)
        if reg == "identity"
        else (4 - 2 * np.cos(2 * np.pi * fy) - 2 * np.cos(2 * np.pi * fx)) ** 2
    )

    def psnr(nsr):
        restored = np.fft.irfft2(np.conj(otf) * spectrum / (otf_power + nsr * reg_power), s=image.shape)
        return 10 * np.log10(1 / np.mean((restored - image) ** 2))

    grid = 10 ** np.arange(-6, 0.01, 0.05)
    best = grid[int(np.argmax([psnr(nsr) for nsr in grid]))]
    chosen = gcv_nsr(np.abs(spectrum) ** 2, otf_power, reg_power)
    assert best / 3 <= chosen <= best * 3
    assert psnr(chosen) > psnr(best) - 0.3


def test_gcv_treats_channels_first_or_last_as_one_summed_power():
    rng = np.random.default_rng(8)
    otf = rng.random((32, 17)) ** 4
    channels = rng.random((32, 17, 3)) * 10
    reg = rng.random((32, 17)) + 0.5
    summed = gcv_nsr(channels.sum(axis=-1), otf, reg)
    assert gcv_nsr(channels, otf, reg) == summed
    assert gcv_nsr(np.moveaxis(channels, -1, 0), otf, reg) == summed


def test_gcv_constant_regulariser_scales_the_weight():
    _, observed, otf = _periodic_case(bsnr=25)
    spectrum = np.abs(np.fft.rfft2(observed)) ** 2
    otf_power = np.abs(otf) ** 2
    assert gcv_nsr(spectrum, otf_power, 4.0) == pytest.approx(gcv_nsr(spectrum, otf_power) / 4)


def _synthetic_spectrum(shape=(64, 64)):
    """|G|^2, |H|^2 and |Laplacian|^2 of a smooth image (prior 1 / |R|^2), Gaussian blur and white noise."""
    fy, fx = _grid(shape)
    reg = (4 - 2 * np.cos(2 * np.pi * fy) - 2 * np.cos(2 * np.pi * fx)) ** 2
    otf = np.exp(-(fy**2 + fx**2) / (2 * 0.08**2)) ** 2
    periodogram = np.random.default_rng(9).exponential(size=otf.shape)
    return (otf * 50 / (reg + 1e-3) + 0.2) * periodogram, otf, reg


@pytest.mark.parametrize("reg", ["identity", "laplacian"])
def test_gcv_choice_is_the_same_at_any_spectrum_scale(reg):
    spectrum, otf, laplacian = _synthetic_spectrum()
    reg_power = 1.0 if reg == "identity" else laplacian
    chosen = gcv_nsr(spectrum, otf, reg_power)
    for exponent in (-1000, 1000):  # powers of two: exact
        assert gcv_nsr(np.ldexp(spectrum, exponent), otf, reg_power) == chosen
    near_top = spectrum / spectrum.max() * 1e308
    assert gcv_nsr(np.stack([near_top] * 3, axis=-1), otf, reg_power) == pytest.approx(chosen, rel=1e-9)


def test_gcv_takes_otf_and_regulariser_powers_near_float64_top():
    spectrum, otf, laplacian = _synthetic_spectrum()
    chosen = gcv_nsr(spectrum, otf, laplacian)
    assert gcv_nsr(spectrum, np.ldexp(otf, 1015), np.ldexp(laplacian, 1015)) == chosen  # same ratio |H|^2 / |R|^2
    # An OTF power of 2^1015 wants an NSR far above the range searched: its top.
    assert gcv_nsr(spectrum, np.ldexp(otf, 1015)) == pytest.approx(100.0)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"spectrum_power": np.ones((8, 5), complex)}, "spectrum power must hold real numbers, got complex128"),
        ({"otf_power": np.full((8, 5), "a")}, "OTF power must hold real numbers, got <U1"),
        ({"reg_power": None}, "regulariser power must hold real numbers, got object"),
        ({"reg_power": np.ones((8, 5), complex)}, "regulariser power must hold real numbers, got complex128"),
        ({"otf_power": np.full((8, 5), np.nan)}, "OTF power holds 40 NaN values"),
        ({"spectrum_power": np.full((8, 5, 2), np.inf)}, "spectrum power holds 80 infinite values"),
        ({"spectrum_power": -np.arange(40.0).reshape(8, 5)}, "spectrum power must be >= 0, got values down to -39"),
        ({"spectrum_power": np.ones((8, 5, 0))}, r"spectrum power of shape \(8, 5, 0\) does not fit"),
        ({"spectrum_power": np.ones((4, 0)), "otf_power": np.ones((4, 0))}, r"non-empty 2-D rfft2 grid, got shape \(4, 0\)"),
        ({"reg_power": 1e-310}, "regulariser power 1e-310 is too small"),
    ],
)
def test_gcv_refuses_powers_that_are_not_real_finite_and_non_negative(arrays, message):
    arguments = {"spectrum_power": np.ones((8, 5)), "otf_power": np.ones((8, 5)), **arrays}
    with pytest.raises(ParameterError, match=message):
        gcv_nsr(**arguments)


def test_gcv_of_a_single_column_takes_a_canvas_one_wide():
    spectrum, otf, _ = _synthetic_spectrum((64, 1))
    assert gcv_nsr(spectrum, otf) == gcv_nsr(spectrum, otf, full_width=1)


def test_gcv_rejects_mismatched_or_invalid_input():
    good = np.ones((8, 5))
    with pytest.raises(ParameterError, match="does not fit"):
        gcv_nsr(np.ones((8, 4)), good)
    with pytest.raises(ParameterError, match="does not fit"):
        gcv_nsr(good, good, np.ones((3, 3)))
    with pytest.raises(ParameterError, match=">= 0"):
        gcv_nsr(-good, good)
    with pytest.raises(ParameterError, match="columns"):
        gcv_nsr(good, good, full_width=20)
    with pytest.raises(ParameterError, match="0 everywhere"):
        gcv_nsr(good, good, 0.0)


# ---------------------------------------------------------------- blind estimation


def _blurred(kernel, *, shape=(256, 256), bsnr=30, seed=0):
    """A photograph crop blurred by the forward model, noise at the given BSNR, 8-bit."""
    sharp = photo(shape)
    blurred = blur(sharp, kernel)
    sigma = float(np.sqrt(blurred.var() / 10 ** (bsnr / 10)))
    noisy = blurred + np.random.default_rng(seed).normal(0, sigma, blurred.shape)
    return (np.round(np.clip(noisy, 0, 1) * 255) / 255).astype(np.float32), sigma


def _angle_error(a, b):
    d = abs(a - b) % 180
    return min(d, 180 - d)


@pytest.mark.parametrize(
    "length, angle, shape",
    [(15, 30, (256, 256)), (23.5, 117.3, (256, 256, 3)), (9, 160, (256, 256)), (31.2, 2.5, (256, 256, 3))],
)
def test_motion_estimate_lands_within_tolerance(length, angle, shape):
    image, sigma = _blurred(motion(length, angle), shape=shape)
    found = estimate_blur(image)
    assert found["kind"] == "motion" and found["confidence"] > 0.8
    assert _angle_error(found["angle"], angle) < 1.5
    assert found["length"] == pytest.approx(length, abs=0.8)
    assert found["noise_sigma"] == pytest.approx(sigma, rel=0.2)


@pytest.mark.parametrize("radius, shape", [(3.3, (256, 256)), (7.8, (256, 256, 3))])
def test_defocus_estimate_lands_within_tolerance(radius, shape):
    found = estimate_blur(_blurred(defocus(radius), shape=shape)[0])
    assert found["kind"] == "defocus" and found["confidence"] > 0.8
    assert found["radius"] == pytest.approx(radius, abs=0.25)


def test_gaussian_estimate_lands_within_tolerance():
    found = estimate_blur(_blurred(gaussian(2.0), shape=(256, 256, 3))[0])
    assert found["kind"] == "gaussian" and found["confidence"] > 0.8
    assert found["sigma"] == pytest.approx(2.0, abs=0.3)


def test_unblurred_noise_gives_a_low_confidence_none():
    noise = np.random.default_rng(9).normal(0.5, 0.1, (256, 256)).astype(np.float32)
    found = estimate_blur(noise)
    assert found["kind"] == "none" and found["confidence"] < 0.5 and found["reason"]
    assert found["noise_sigma"] == pytest.approx(0.1, rel=0.05)


def test_flat_image_gives_none_with_zero_confidence():
    found = estimate_blur(np.full((64, 80, 3), 0.3, np.float32))
    assert found == {"kind": "none", "confidence": 0.0, "noise_sigma": 0.0, "crop": 64,
                     "reason": found["reason"]}
    assert "flat" in found["reason"]


def test_sharp_photograph_is_not_given_a_confident_blur():
    found = estimate_blur(_blurred(np.ones((1, 1), np.float32))[0])
    assert found["kind"] == "none" and found["confidence"] < 0.5


def test_restricted_kind_reports_its_best_fit_with_the_evidence_it_has():
    image = _blurred(motion(15, 30))[0]
    found = estimate_blur(image, kind="defocus")
    assert found["kind"] == "defocus" and "radius" in found and found["confidence"] < 0.5
    assert found["scores"]["motion"] > 0.8


def test_result_is_json_safe():
    found = estimate_blur(_blurred(motion(12, 45))[0])
    assert json.loads(json.dumps(found, allow_nan=False)) == found


def test_estimate_psf_is_the_kernel_of_the_estimate_or_the_identity():
    kernel, info = estimate_psf(_blurred(motion(15, 30))[0])
    np.testing.assert_array_equal(kernel, motion(info["length"], info["angle"]))
    kernel, info = estimate_psf(_blurred(defocus(4.2))[0])
    np.testing.assert_array_equal(kernel, defocus(info["radius"]))
    kernel, info = estimate_psf(np.full((40, 40), 0.5, np.float32))
    assert info["kind"] == "none"
    np.testing.assert_array_equal(kernel, np.ones((1, 1), np.float32))


def test_colour_near_float32_max_is_averaged_without_overflow():
    grey = np.random.default_rng(5).choice(np.float32([-3e38, 3e38]), (64, 64))
    assert estimate_blur(np.stack([grey] * 3, axis=2)) == estimate_blur(grey)


def test_estimate_blur_rejects_bad_requests():
    with pytest.raises(InputError, match="of 100x16 pixels is too small: 32x32 at least"):
        estimate_blur(np.zeros((16, 100)))
    with pytest.raises(ParameterError, match="unknown blur kind 'box'"):
        estimate_blur(np.zeros((64, 64)), kind="box")
    holed = np.zeros((64, 64), np.float32)
    holed[3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        estimate_blur(holed)


def test_radial_transfer_is_the_angular_mean_of_the_otf():
    # Reference: the 2-D OTF (psf2otf) averaged over rings of integer radius.
    size = 128
    kernel = defocus(4.5)
    otf = np.fft.fftshift(np.real(matlab_psf2otf(kernel, (size, size))))
    offsets = np.arange(size) - size // 2
    radius = np.rint(np.hypot(offsets[:, None], offsets[None, :])).astype(int)
    ring_mean = np.bincount(radius.ravel(), otf.ravel()) / np.bincount(radius.ravel())
    np.testing.assert_allclose(radial_transfer(kernel, size), ring_mean[2 : size // 2], atol=0.01)


def test_periodic_component_removes_a_smooth_part_that_solves_moisans_poisson_equation():
    from deblur_cli.estimate_blind import _periodic_component

    tile = np.random.default_rng(4).random((24, 31))
    smooth = tile - _periodic_component(tile)
    # Moisan (2011): the smooth part s has zero mean and its periodic 5-point Laplacian is
    # the boundary image v, which holds the jumps across the tile's opposite edges.
    v = np.zeros_like(tile)
    v[0, :] += tile[-1, :] - tile[0, :]
    v[-1, :] += tile[0, :] - tile[-1, :]
    v[:, 0] += tile[:, -1] - tile[:, 0]
    v[:, -1] += tile[:, 0] - tile[:, -1]
    laplacian = sum(np.roll(smooth, shift, axis) for shift in (1, -1) for axis in (0, 1)) - 4 * smooth
    np.testing.assert_allclose(laplacian, v, atol=1e-10)
    assert abs(smooth.mean()) < 1e-12

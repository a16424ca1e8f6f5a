"""Noise level, automatic NSR and blind blur estimates, against known truths."""

import numpy as np
import pytest
import scipy.ndimage

from deblur_cli.errors import ParameterError
from deblur_cli.estimate import gcv_nsr, noise_sigma


def _photo(shape, top=60, left=120):
    """A crop of scikit-image's camera (grey) or astronaut (RGB) photograph, in [0, 1]."""
    from skimage import data

    source = data.camera() if len(shape) == 2 else data.astronaut()
    return (source[top : top + shape[0], left : left + shape[1]] / 255).astype(np.float32)


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
    blurred = scipy.ndimage.gaussian_filter(_photo((256, 256)), 2.0)
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


@pytest.mark.parametrize("shape", [(2, 10), (10,), (4, 4, 3, 1)])
def test_noise_sigma_refuses_unusable_shapes(shape):
    with pytest.raises(ParameterError, match="shape"):
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
    image = _photo((256, 256)).astype(np.float64)
    kernel = np.ones(kernel_shape) / np.prod(kernel_shape)
    padded = np.zeros(image.shape)
    padded[: kernel.shape[0], : kernel.shape[1]] = kernel
    padded = np.roll(padded, (-(kernel.shape[0] // 2), -(kernel.shape[1] // 2)), axis=(0, 1))
    otf = np.fft.rfft2(padded)
    blurred = np.fft.irfft2(np.fft.rfft2(image) * otf, s=image.shape)
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

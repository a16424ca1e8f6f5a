"""Wiener deconvolution against its closed formula and on worked restorations."""

import numpy as np
import pytest
import scipy.ndimage
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deblur_cli.forward import blur
from deblur_cli.deconv import laplacian_otf, laplacian_power, wiener, wiener_filter
from deblur_cli.errors import InputError, ParameterError
from deblur_cli.psf import defocus, gaussian, motion

from .reference import circular_blur, matlab_psf2otf, photo

L_SHAPE = np.zeros((9, 9), np.float32)
L_SHAPE[1:8, 2] = 1  # a vertical bar ...
L_SHAPE[7, 2:8] = 1  # ... and a horizontal foot: no symmetry at all
L_SHAPE /= L_SHAPE.sum()


def _psnr(reference, image):
    mse = np.mean((reference.astype(np.float64) - image) ** 2)
    return 10 * np.log10(1.0 / mse)


def _scene(shape, seed=0):
    """Smooth random content with edges, in [0, 1]."""
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    smooth = scipy.ndimage.gaussian_filter(noise, sigma=(2, 2) + (0,) * (len(shape) - 2))
    blocks = (np.indices(shape[:2]).sum(axis=0) // 11 % 2).astype(np.float64)
    if len(shape) == 3:
        blocks = blocks[..., None]
    scene = 0.5 * (smooth - smooth.min()) / np.ptp(smooth) + 0.5 * blocks
    return scene.astype(np.float32)


def _closed_form(blurred, kernel, nsr, reg_power=1.0):
    _, otf = circular_blur(blurred, kernel)
    spectrum = np.fft.fft2(blurred, axes=(0, 1))
    return np.real(np.fft.ifft2(np.conj(otf) * spectrum / (np.abs(otf) ** 2 + nsr * reg_power), axes=(0, 1)))


EVEN = np.random.default_rng(5).random((4, 6)).astype(np.float32)
EVEN /= EVEN.sum()  # even sides: MATLAB's psf2otf rolls by -floor(k / 2), as circular_blur does


@pytest.mark.parametrize("kernel", [motion(11, 30), defocus(3), L_SHAPE, EVEN])
@pytest.mark.parametrize("nsr", [1e-3, 0.05])
def test_periodic_is_the_closed_formula(kernel, nsr):
    blurred = blur(_scene((60, 72, 3)), kernel, noise_sigma=0.01, seed=1)
    result = wiener(blurred, kernel, nsr, boundary="periodic")
    assert result.dtype == np.float32 and result.shape == blurred.shape
    np.testing.assert_allclose(result, _closed_form(blurred.astype(np.float64), kernel, nsr), atol=1e-5)


@pytest.mark.parametrize("shape", [(64, 50), (33, 47), (2, 9)])
def test_laplacian_otf_and_its_power_match_the_5_point_laplacian(shape):
    laplacian = np.zeros(shape)
    for (row, col), weight in {(0, 0): -4, (0, 1): 1, (0, -1): 1, (1, 0): 1, (-1, 0): 1}.items():
        laplacian[row % shape[0], col % shape[1]] += weight  # taps wrap (and add up) on tiny grids
    otf = np.fft.rfft2(laplacian)
    np.testing.assert_allclose(laplacian_otf(shape), otf.real, rtol=1e-12, atol=1e-12)
    assert np.abs(otf.imag).max() < 1e-12
    expected = np.abs(otf) ** 2
    power = laplacian_power(shape)
    assert power.dtype == np.float64 and power.shape == expected.shape
    np.testing.assert_allclose(power, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(laplacian_power(shape, 3, np.float32), expected[::3, ::3], rtol=1e-6, atol=1e-6)
    assert laplacian_power(shape, dtype=np.float32).dtype == np.float32
    # Near DC the sine form keeps its relative precision: 16 sin^4(pi f), f = 1 / W.
    assert laplacian_power((1, 4096))[0, 1] == pytest.approx(16 * np.sin(np.pi / 4096) ** 4, rel=1e-12)


def test_laplacian_regulariser_is_the_closed_formula():
    blurred = blur(_scene((64, 50)), defocus(2.5), noise_sigma=0.01, seed=2)
    laplacian = np.zeros((64, 50))
    laplacian[[0, 0, 0, 1, -1], [0, 1, -1, 0, 0]] = [-4, 1, 1, 1, 1]
    reg_power = np.abs(np.fft.fft2(laplacian)) ** 2
    result = wiener(blurred, defocus(2.5), 0.02, reg="laplacian", boundary="periodic")
    expected = _closed_form(blurred.astype(np.float64), defocus(2.5), 0.02, reg_power)
    np.testing.assert_allclose(result, expected, atol=1e-5)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.floats(0.4, 0.8), st.sampled_from([(32, 40), (33, 31), (24, 24, 3)]))
def test_noise_free_circular_blur_is_inverted(seed, sigma, shape):
    truth = np.random.default_rng(seed).random(shape).astype(np.float32)
    blurred, _ = circular_blur(truth.astype(np.float64), gaussian(sigma))
    restored = wiener(blurred.astype(np.float32), gaussian(sigma), 1e-8, boundary="periodic")
    assert _psnr(truth, restored) > 50


@pytest.mark.parametrize("boundary", ["reflect", "periodic", "edgetaper"])
def test_asymmetric_psf_restores_without_shift(boundary):
    truth = photo((96, 96))
    if boundary == "periodic":  # the periodic model holds for a circular blur only
        blurred = circular_blur(truth, L_SHAPE)[0].astype(np.float32)
    else:
        blurred = blur(truth, L_SHAPE, noise_sigma=0.001, seed=3)
    restored = wiener(blurred, L_SHAPE, 1e-3, boundary=boundary)
    a = truth - truth.mean()
    b = restored - restored.mean()
    correlation = np.real(np.fft.ifft2(np.fft.fft2(a) * np.conj(np.fft.fft2(b))))
    peak = np.unravel_index(np.argmax(correlation), correlation.shape)
    assert peak == (0, 0)
    if boundary == "reflect":
        assert _psnr(truth, restored) > _psnr(truth, blurred) + 3


@pytest.mark.parametrize("kernel", [motion(15, 30), defocus(4), gaussian(2)])
def test_reflect_beats_periodic_on_camera_like_borders(kernel):
    # Blur a larger scene and keep its centre: the borders hold light from outside the frame.
    scene = photo((140, 140, 3), top=208, left=132)
    blurred = blur(scene, kernel, noise_sigma=0.002, seed=5)[20:-20, 20:-20]
    truth = scene[20:-20, 20:-20]
    reflect = _psnr(truth, np.clip(wiener(blurred, kernel, 3e-3), 0, 1))
    periodic = _psnr(truth, np.clip(wiener(blurred, kernel, 3e-3, boundary="periodic"), 0, 1))
    assert reflect > periodic + 2
    assert reflect > _psnr(truth, blurred) + 2


def test_channels_are_independent_and_match_grey():
    blurred = blur(_scene((40, 56, 3), seed=6), motion(7, 60), noise_sigma=0.005, seed=7)
    colour = wiener(blurred, motion(7, 60), 0.01)
    grey = wiener(blurred[..., 1], motion(7, 60), 0.01)
    np.testing.assert_allclose(colour[..., 1], grey, atol=1e-6)


def test_auto_nsr_uses_gcv_on_the_same_canvas(monkeypatch):
    import deblur_cli.estimate

    seen = {}

    def fake_gcv(spectrum_power, otf_power, reg_power, **kwargs):
        seen.update(spectrum=spectrum_power.shape, otf=otf_power.shape, kwargs=kwargs)
        return 0.0123

    monkeypatch.setattr(deblur_cli.estimate, "gcv_nsr", fake_gcv)
    blurred = blur(_scene((40, 56, 3), seed=8), defocus(2), noise_sigma=0.01, seed=9)
    result, nsr = wiener(blurred, defocus(2), "auto", return_nsr=True)
    assert nsr == 0.0123
    assert seen["spectrum"] == seen["otf"]  # one power for all three channels
    np.testing.assert_allclose(result, wiener(blurred, defocus(2), 0.0123), atol=1e-6)


def test_auto_nsr_is_close_to_the_best_nsr():
    scene = _scene((96, 96), seed=10)
    blurred = blur(scene, defocus(3), noise_sigma=0.01, seed=11)
    restored, nsr = wiener(blurred, defocus(3), "auto", return_nsr=True)
    best = max(_psnr(scene, wiener(blurred, defocus(3), v)) for v in np.geomspace(1e-4, 1e-1, 13))
    assert 1e-5 < nsr < 1 and _psnr(scene, restored) > best - 1.5


@pytest.mark.parametrize("nsr", [0, -1, float("nan"), float("inf"), "lots"])
def test_bad_nsr(nsr):
    with pytest.raises(ParameterError):
        wiener(np.zeros((16, 16), np.float32), defocus(1), nsr)


def test_bad_options_and_psfs():
    image = np.zeros((16, 16), np.float32)
    with pytest.raises(ParameterError, match="regulariser"):
        wiener(image, defocus(1), 0.1, reg="tv")
    with pytest.raises(ParameterError, match="boundary"):
        wiener(image, defocus(1), 0.1, boundary="zero")
    with pytest.raises(InputError, match=r"the PSF \(31x1\) is larger than the image \(16x16, width x height\)"):
        wiener(image, motion(31, 0), 0.1)
    with pytest.raises(InputError, match=r"the PSF \(1x31\) is larger than the image \(40x16, width x height\)"):
        wiener(np.zeros((16, 40), np.float32), motion(31, 90), 0.1)
    with pytest.raises(InputError, match="NaN"):
        wiener(image, np.full((3, 3), np.nan), 0.1)


def test_auto_nsr_does_not_depend_on_the_scale_of_the_values():
    # GCV's choice is invariant to scaling G; |G|^2 of values near 1e20 overflows float32.
    truth = photo((96, 96))
    blurred = blur(truth, motion(9, 120), noise_sigma=0.01, seed=3)
    restored, nsr = wiener(blurred, motion(9, 120), "auto", return_nsr=True)
    scaled, scaled_nsr = wiener(blurred * np.float32(1e20), motion(9, 120), "auto", return_nsr=True)
    assert scaled_nsr == pytest.approx(nsr, rel=1e-6)
    np.testing.assert_allclose(scaled / np.float32(1e20), restored, atol=1e-5)


@pytest.mark.parametrize("nsr", [0.01, "auto"])
def test_a_flat_image_near_float32_max_is_divided_by_one_plus_the_nsr(nsr):
    # The DC term of the transform, the canvas's sum, is far beyond float32: the image is scaled.
    flat = np.full((64, 64), 3e38, np.float32)
    restored, used = wiener(flat, motion(15, 30), nsr, return_nsr=True)
    np.testing.assert_allclose(restored, 3e38 / (1 + used), rtol=1e-5)


@pytest.mark.parametrize("boundary", ["reflect", "periodic", "edgetaper"])
@pytest.mark.parametrize(("nsr", "reg"), [(0.01, "identity"), ("auto", "identity"), ("auto", "laplacian")])
def test_values_scaled_by_a_power_of_two_give_the_result_scaled_exactly(boundary, nsr, reg):
    image = blur(photo((48, 64)), motion(9, 30))
    kernel = motion(9, 30)
    restored, used = wiener(image, kernel, nsr, reg=reg, boundary=boundary, return_nsr=True)
    large, large_nsr = wiener(np.ldexp(image, 120), kernel, nsr, reg=reg, boundary=boundary, return_nsr=True)
    assert large_nsr == used
    np.testing.assert_array_equal(large, np.ldexp(restored, 120))


def test_a_result_beyond_float32_is_refused_not_returned_as_inf():
    # A blurred point, its peak about 0.04, is restored to a peak about 4 times higher.
    spike = np.zeros((48, 64), np.float32)
    spike[24, 32] = 1.0
    image = blur(spike, gaussian(2))
    largest = float(np.finfo(np.float32).max)
    assert float(image.max()) * 2.0**132 < largest < float(wiener(image, gaussian(2), 1e-4).max()) * 2.0**132
    with pytest.raises(InputError, match=r"the deblurred image leaves float32's range \(magnitude up to 3.4e\+38\)"):
        wiener(np.ldexp(image, 132), gaussian(2), 1e-4)


def test_auto_nsr_of_a_single_pixel_with_the_laplacian():
    # The Laplacian of a 1x1 canvas is 0: any NSR gives the same (inverse) filter.
    pixel = np.full((1, 1), 0.25, np.float32)
    result = wiener(pixel, np.ones((1, 1)), "auto", reg="laplacian", boundary="periodic")
    np.testing.assert_allclose(result, pixel, rtol=1e-6)


@pytest.mark.parametrize("angle", [0, 90])
def test_a_one_pixel_thin_psf_restores_the_edge_rows_too(angle):
    # Motion along the rows lets no light across the top and bottom edges: those rows are
    # as consistent as the rest and must be restored as well as their neighbours.
    truth = photo((64, 96)) if angle == 0 else photo((96, 64))
    kernel = motion(15, angle)
    assert 1 in kernel.shape
    error = wiener(blur(truth, kernel), kernel, 1e-4) - truth
    lines = error if angle == 0 else error.T  # one row per line across the motion
    rms = np.sqrt(np.mean(np.square(lines[:, 15:-15]), axis=1))  # away from the ends of the motion
    assert rms[0] < 1.3 * rms[1:4].max() and rms[-1] < 1.3 * rms[-4:-1].max()


def test_wiener_filter_is_the_closed_formula_on_the_half_spectrum():
    kernel = motion(9, 30)
    otf = matlab_psf2otf(kernel, (24, 30))[:, : 30 // 2 + 1]
    expected = np.conj(otf) / (np.abs(otf) ** 2 + 0.01)
    np.testing.assert_allclose(wiener_filter(kernel, (24, 30), 0.01), expected, atol=1e-5)
    with pytest.raises(ParameterError, match="needs a number for its NSR, got 'auto'"):
        wiener_filter(kernel, (24, 30), "auto")

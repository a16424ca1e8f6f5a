"""PSF kernels, loading and psf2otf against their definitions (MATLAB fspecial, psf2otf)."""

import math
import re

import numpy as np
import pytest
import scipy.fft
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deblur_cli.errors import InputError, ParameterError
from deblur_cli.psf import (
    MAX_PSF_SIDE,
    defocus,
    gaussian,
    load_psf,
    motion,
    psf2otf,
    read_kernel_file,
    recenter,
    validate_psf,
)
from deblur_cli.resample import load_kernel

from .reference import matlab_psf2otf


def _supersampled_disk(radius, factor=64):
    half = math.ceil(radius - 0.5)
    size = 2 * half + 1
    t = (np.arange(size * factor) + 0.5) / factor - size / 2
    inside = (t[:, None] ** 2 + t[None, :] ** 2 <= radius**2).astype(np.float64)
    kernel = inside.reshape(size, factor, size, factor).sum(axis=(1, 3))
    return kernel / kernel.sum()


def _principal_angle(kernel):
    """Angle (degrees, counter-clockwise on screen) of the kernel's principal axis."""
    rows, cols = np.indices(kernel.shape, dtype=np.float64)
    x = cols - kernel.shape[1] // 2
    y = -(rows - kernel.shape[0] // 2)
    w = kernel.astype(np.float64)
    mxx, myy, mxy = (w * x * x).sum(), (w * y * y).sum(), (w * x * y).sum()
    return math.degrees(0.5 * math.atan2(2 * mxy, mxx - myy)) % 180


def _check_kernel(kernel):
    assert kernel.dtype == np.float32
    assert kernel.ndim == 2 and kernel.shape[0] % 2 == 1 and kernel.shape[1] % 2 == 1
    assert abs(float(kernel.sum(dtype=np.float64)) - 1) < 1e-5
    # centred: the weights' centroid is the centre pixel (all three kernels are point-symmetric)
    rows, cols = np.indices(kernel.shape)
    assert abs((rows * kernel).sum() - kernel.shape[0] // 2) < 1e-3
    assert abs((cols * kernel).sum() - kernel.shape[1] // 2) < 1e-3
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-7)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(1, 40), st.floats(-360, 360))
def test_motion_is_odd_centred_and_sums_to_one(length, angle):
    _check_kernel(motion(length, angle))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.1, 15))
def test_defocus_is_odd_centred_and_sums_to_one(radius):
    kernel = defocus(radius)
    _check_kernel(kernel)
    assert kernel.shape[0] == 2 * max(math.ceil(radius - 0.5), 0) + 1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.floats(0.2, 8))
def test_gaussian_is_odd_centred_and_sums_to_one(sigma):
    _check_kernel(gaussian(sigma))


@pytest.mark.parametrize("radius", [1.5, 2, 2.5, 3.3, 5, 7.7, 10])
def test_defocus_weights_are_pixel_areas_inside_the_circle(radius):
    np.testing.assert_allclose(defocus(radius), _supersampled_disk(radius), atol=1e-4)


@pytest.mark.parametrize("angle", [0, 10, 30, 45, 60, 90, 120, 135, 170])
def test_motion_principal_axis_is_the_requested_angle(angle):
    measured = _principal_angle(motion(21, angle))
    difference = (measured - angle + 90) % 180 - 90
    assert abs(difference) < 1


def test_motion_matches_matlab_fspecial_examples():
    # fspecial('motion', 15, 0) is a row of 15 equal weights; fspecial('motion', 5, 90) a column.
    np.testing.assert_allclose(motion(15, 0), np.full((1, 15), 1 / 15), rtol=1e-6)
    np.testing.assert_allclose(motion(5, 90), np.full((5, 1), 1 / 5), rtol=1e-6)
    # 45 degrees on screen: the line goes from bottom-left to top-right.
    kernel = motion(9, 45)
    assert kernel[0, -1] > 0 and kernel[-1, 0] > 0 and kernel[0, 0] == 0 and kernel[-1, -1] == 0
    # the end pixels of a horizontal line of non-integer length get fractional weight
    row = motion(6, 0)[0] * 6
    np.testing.assert_allclose(row, [0.5, 1, 1, 1, 1, 1, 0.5], rtol=1e-6)


@pytest.mark.parametrize("sigma", [0.3, 1.1, 1.5, 3.3])  # 1.1 and 3.3: ceil(4 sigma) differs from round(4 sigma)
def test_gaussian_matches_fspecial_gaussian_of_size_2_ceil_4_sigma_plus_1(sigma):
    half = math.ceil(4 * sigma)
    t = np.arange(-half, half + 1)
    expected = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    np.testing.assert_allclose(gaussian(sigma), expected / expected.sum(), rtol=1e-5, atol=1e-9)


def _matlab_motion(length, angle):
    """A line-by-line port of MATLAB's fspecial('motion', length, angle), in float64."""
    eps = np.finfo(np.float64).eps
    half = (length - 1) / 2
    phi = np.mod(angle, 180) / 180 * np.pi
    cosphi, sinphi = np.cos(phi), np.sin(phi)
    xsign = np.sign(cosphi)
    sx = np.fix(half * cosphi + xsign - length * eps)
    sy = np.fix(half * sinphi + 1 - length * eps)
    x, y = np.meshgrid(np.arange(0, sx + xsign * 0.5, xsign) if xsign else np.zeros(1), np.arange(0, sy + 0.5))
    dist2line = y * cosphi - x * sinphi
    rad = np.sqrt(x**2 + y**2)
    last = (rad >= half) & (np.abs(dist2line) <= 1)
    x2lastpix = half - np.abs((x[last] + dist2line[last] * sinphi) / cosphi)
    dist2line[last] = np.sqrt(dist2line[last] ** 2 + x2lastpix**2)
    dist2line = np.maximum(1 + eps - np.abs(dist2line), 0)
    quarter = np.rot90(dist2line, 2)
    rows, cols = quarter.shape
    h = np.zeros((2 * rows - 1, 2 * cols - 1))
    h[:rows, :cols] = quarter
    h[rows - 1 :, cols - 1 :] = dist2line
    h /= h.sum() + eps * length * length
    return np.flipud(h) if cosphi > 0 else h


@pytest.mark.parametrize("length, angle", [(15, 30), (9.5, 10), (21, 60), (7, 135), (31, 150), (4, 179), (15, -30)])
def test_motion_weights_match_a_port_of_matlab_fspecial_motion(length, angle):
    np.testing.assert_allclose(motion(length, angle), _matlab_motion(length, angle), atol=1e-7)


def _exact_disk(radius):
    """Area of each pixel's unit square inside the circle, by numerical integration of chord lengths."""
    from scipy.integrate import quad

    half = math.ceil(radius - 0.5)

    def area(x0, y0):
        def height(x):  # length of [y0, y0 + 1] inside the circle at abscissa x
            reach = math.sqrt(max(radius * radius - x * x, 0.0))
            return max(0.0, min(y0 + 1, reach) - max(y0, -reach))

        return quad(height, x0, x0 + 1, limit=200, epsabs=1e-13)[0]

    kernel = np.array([[area(c - 0.5, r - 0.5) for c in range(-half, half + 1)] for r in range(-half, half + 1)])
    return kernel / kernel.sum()


@pytest.mark.parametrize("radius", [0.6, 0.72, 1.55, 2.3])  # 0.6 and 0.72: fspecial's small-disk branch
def test_defocus_weights_are_exact_pixel_areas(radius):
    np.testing.assert_allclose(defocus(radius), _exact_disk(radius), atol=1e-7)


@pytest.mark.parametrize(
    "call",
    [lambda: motion(0, 10), lambda: motion(float("nan"), 0), lambda: motion(5, float("inf")),
     lambda: defocus(-1), lambda: defocus(0), lambda: gaussian(0), lambda: gaussian(-2)],
)
def test_out_of_domain_parameters_raise(call):
    with pytest.raises(ParameterError):
        call()


@pytest.mark.parametrize("kernel", [motion(15, 30), defocus(3.3), gaussian(5), np.arange(12.0).reshape(3, 4)])
@pytest.mark.parametrize("shape", [(64, 80), (63, 81), (200, 47)])
def test_psf2otf_is_matlab_psf2otf_in_rfft2_layout(kernel, shape):
    otf = psf2otf(kernel, shape)
    assert otf.dtype == np.complex64 and otf.shape == (shape[0], shape[1] // 2 + 1)
    np.testing.assert_allclose(otf, matlab_psf2otf(kernel, shape)[:, : shape[1] // 2 + 1], atol=2e-6 * np.abs(kernel).sum())


def test_validate_psf_normalises_and_pads_even_sizes_at_the_end():
    psf = validate_psf(np.array([[1.0, 3.0], [0.0, 4.0]]))
    np.testing.assert_allclose(psf, [[0.125, 0.375, 0], [0, 0.5, 0], [0, 0, 0]])


@pytest.mark.parametrize(
    "bad, image_shape, found",
    [(np.full((3, 3), np.nan), None, "the PSF holds 9 NaN values"), (np.zeros((5, 5)), None, "all zero"),
     (-np.ones((3, 3)), None, "the PSF's sum is -9;"), (np.full((3, 3), -1e308), None, "the PSF's sum is -inf;"),
     (np.array([[1.0, np.inf, 1.0]]), None, "the PSF holds 1 infinite value"),
     (np.ones((9, 9)), (8, 20), "larger than the image"), (np.ones(5), None, "got shape (5,)"),
     (np.ones((0, 3)), None, "got shape (0, 3)")],
)
def test_validate_psf_rejects_invalid_kernels(bad, image_shape, found):
    with pytest.raises(InputError, match=re.escape(found)):
        validate_psf(bad, image_shape)


@pytest.mark.parametrize("scale", [4e307, 1e-320, 1e-40])
def test_validate_psf_normalises_weights_at_the_ends_of_float64(scale):
    # 4e307: the plain sum overflows to inf; 1e-320: subnormal weights carry few digits.
    weights = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])
    np.testing.assert_allclose(validate_psf(weights * scale), weights / 16, rtol=1e-3 if scale < 1e-300 else 1e-7)


def test_recenter_puts_the_centroid_on_the_centre_pixel():
    kernel = np.zeros((7, 7), np.float32)
    kernel[1, 5] = 2
    kernel[1, 6] = 1
    kernel[2, 5] = 1
    centred = recenter(kernel)
    h, w = centred.shape
    assert h % 2 == 1 and w % 2 == 1
    assert centred[h // 2, w // 2] == 0.5
    assert centred.sum() == 1
    assert centred[h // 2, w // 2 + 1] == centred[h // 2 + 1, w // 2] == 0.25


@pytest.mark.parametrize(
    "bad, found",
    [(np.full((3, 3), np.nan), "the PSF holds 9 NaN values"), (np.zeros((3, 3)), "all zero"),
     (np.ones(3), "got shape (3,)"), (np.ones((2, 2, 2)), "got shape (2, 2, 2)"), ([[1, 2], [3]], "differ")],
)
def test_recenter_validates_its_kernel_as_validate_psf(bad, found):
    with pytest.raises(InputError, match=re.escape(found)):
        recenter(bad)


def test_recenter_takes_huge_weights():
    kernel = np.zeros((3, 5))
    kernel[1, 3:] = 1e308
    expected = np.array([[0.5, 0.5, 0.0]])  # zero margins cut; the centroid, 0.5, rounds to 1: the new centre
    np.testing.assert_array_equal(recenter(kernel), expected)


def test_recenter_cuts_zero_margins_so_an_offset_kernel_becomes_the_tight_one():
    tight = motion(9, 30)
    offset = np.zeros((15, 15), np.float32)
    offset[1 : 1 + tight.shape[0], 1 : 1 + tight.shape[1]] = tight
    np.testing.assert_array_equal(recenter(offset), recenter(tight))
    assert recenter(offset).shape == tight.shape


@pytest.mark.parametrize(
    "bad, found",
    [(np.array([[1.0, np.inf]]), "the PSF holds 1 infinite value"), (np.ones(3), "got shape (3,)"),
     (np.ones((2, 2, 2)), "got shape (2, 2, 2)"), (np.zeros((0, 3)), "got shape (0, 3)"),
     (np.full((2, 2), 1j), "real numbers, got complex128")],
)
def test_psf2otf_validates_its_kernel(bad, found):
    with pytest.raises(InputError, match=re.escape(found)):
        psf2otf(bad, (8, 8))


@pytest.mark.parametrize(
    ("shape", "found"),
    [((30.0, 40.0), "each side of the transform's shape must be an integer >= 1, got 30.0"),
     ((0, 0), "each side of the transform's shape must be an integer >= 1, got 0"),
     (30, "the transform's shape must be a pair of integers >= 1, (height, width), got 30"),
     ((30, 40, 3), "got (30, 40, 3)")],
)
def test_psf2otf_validates_its_shape(shape, found):
    with pytest.raises(ParameterError, match=re.escape(found)):
        psf2otf(np.ones((3, 3)), shape)


@pytest.mark.parametrize("weights", [np.full((3, 3), 3e38, np.float32), np.full((3, 3), 1e300)])
def test_psf2otf_refuses_an_otf_beyond_float32(weights):
    found = f"the PSF's OTF reaches {9 * float(weights[0, 0]):.3g}, beyond float32's range"
    with pytest.raises(InputError, match=re.escape(found)):
        psf2otf(weights, (8, 8))


def test_psf2otf_of_weights_near_float32_max_is_exact_when_the_otf_fits():
    # The weights sum, in magnitude, to 2e38 (near the limit), their OTF to 2e38 at most.
    kernel = np.zeros((3, 3))
    kernel[1, 0], kernel[1, 2] = 1e38, -1e38
    np.testing.assert_allclose(psf2otf(kernel, (6, 8)), matlab_psf2otf(kernel, (6, 8))[:, :5], rtol=1e-6, atol=1e32)


def test_psf2otf_of_the_laplacian_sums_to_zero_as_matlab():
    laplacian = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_allclose(psf2otf(laplacian, (6, 8)), matlab_psf2otf(laplacian, (6, 8))[:, :5], atol=1e-6)


def test_load_psf_reads_npy_csv_and_16_bit_png(tmp_path):
    from deblur_cli.images import Image, write_image

    kernel = motion(7, 30)
    np.save(tmp_path / "k.npy", kernel * 5)
    np.savetxt(tmp_path / "k.csv", kernel, delimiter=",")
    np.savetxt(tmp_path / "k.txt", kernel)
    image = Image(kernel / kernel.max(), source_dtype=np.dtype(np.uint16))
    write_image(tmp_path / "k.png", image)
    for name in ("k.npy", "k.csv", "k.txt"):
        np.testing.assert_allclose(load_psf(tmp_path / name), kernel, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(load_psf(tmp_path / "k.png"), kernel, atol=1e-5)


def test_psf_and_kernel_loaders_read_the_same_weights_from_a_file(tmp_path):
    import cv2

    weights = np.array([[1, 2, 0], [3, 8, 5], [0, 4, 1]], np.uint16) * 1000
    np.save(tmp_path / "k.npy", weights.astype(np.float64))
    (tmp_path / "k.csv").write_text("# comment\n1000, 2000, 0\n3000,8000,5000\n0,4000,1000\n")
    (tmp_path / "k.txt").write_text("1000 2000 0\n3000\t8000 5000\n\n0 4000 1000  # last row\n")
    (tmp_path / "commas.txt").write_text("1000,2000,0\n3000,8000,5000\n0,4000,1000\n")
    (tmp_path / "semi.csv").write_bytes("\ufeff1000;2000;0\r\n3000;8000;5000\r\n0;4000;1000\r\n".encode())
    (tmp_path / "noted.txt").write_text("# rows, from the top\n1000 2000 0\n3000 8000 5000\n0 4000 1000\n")
    (tmp_path / "trailing.csv").write_text("1000,2000,0,\n3000,8000,5000,\n0,4000,1000, \n")
    cv2.imwrite(str(tmp_path / "k.png"), weights)  # 16-bit grey: read as weights / 65535
    for name, raw in [("k.npy", weights), ("k.csv", weights), ("k.txt", weights), ("commas.txt", weights),
                      ("semi.csv", weights), ("noted.txt", weights), ("trailing.csv", weights),
                      ("k.png", weights / 65535)]:
        np.testing.assert_allclose(read_kernel_file(tmp_path / name), raw, rtol=1e-6)
        np.testing.assert_allclose(load_kernel(tmp_path / name), raw, rtol=1e-6)
        np.testing.assert_allclose(load_psf(tmp_path / name), raw / raw.sum(), rtol=1e-6)


def test_a_colour_image_is_averaged_as_a_psf_and_refused_as_a_kernel(tmp_path):
    import cv2

    bgr = np.zeros((3, 3, 3), np.uint8)
    bgr[1, 1] = (30, 60, 90)
    bgr[0, 1] = (0, 0, 30)
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    expected = bgr.mean(axis=2) / bgr.mean(axis=2).sum()
    np.testing.assert_allclose(load_psf(tmp_path / "c.png"), expected, rtol=1e-6)
    with pytest.raises(InputError, match="must be greyscale") as caught:
        load_kernel(tmp_path / "c.png")
    assert caught.value.path.endswith("c.png")


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("none.csv", "", "holds no numbers; give rows of numbers"),
        ("none.txt", "\n  \n", "holds no numbers; give rows of numbers"),
        ("none.csv", "# only a comment\n", "holds no numbers; give rows of numbers"),
        ("ragged.csv", "1,2\n\n3\n", "table: line 3 has 1 numbers, the first row 2; give rows of numbers"),
        ("word.txt", "# weights\n1 2\n1 x2\n", "table: line 3 holds 'x2', not a number; give rows of numbers"),
        ("semi.csv", "1;2;x\n", "table: line 1 holds 'x', not a number; give rows of numbers separated by semicolons"),
        ("underscore.csv", "1_0,2\n", "table: line 1 holds '1_0', not a number"),
        ("text.npy", "1 2\n", "not a whole .npy file of numbers; save the array with numpy.save"),
    ],
)
def test_an_unreadable_kernel_file_is_one_clear_error(tmp_path, name, content, fragment):
    (tmp_path / name).write_text(content)
    for load, what in ((load_psf, "PSF"), (load_kernel, "kernel")):
        with pytest.raises(InputError, match=fragment) as caught:
            load(tmp_path / name)
        assert "\n" not in str(caught.value) and caught.value.path.endswith(name)
        assert what in caught.value.message


def test_load_psf_centroid_recentres_an_offset_kernel(tmp_path):
    offset = np.zeros((9, 9))
    offset[0:3, 5:8] = defocus(1.2)
    np.save(tmp_path / "off.npy", offset)
    centred = load_psf(tmp_path / "off.npy", center="centroid")
    h, w = centred.shape
    assert centred[h // 2, w // 2] == centred.max()
    rows, cols = np.indices(centred.shape)
    assert abs((rows * centred).sum() - h // 2) < 0.5 and abs((cols * centred).sum() - w // 2) < 0.5


@pytest.mark.parametrize("content", ["1,2\n3,x\n", ""])
def test_load_psf_rejects_bad_tables(tmp_path, content):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(InputError):
        load_psf(tmp_path / "bad.csv")


def test_load_psf_missing_file_and_bad_center(tmp_path):
    with pytest.raises(InputError, match="no such"):
        load_psf(tmp_path / "missing.npy")
    with pytest.raises(ParameterError):
        load_psf(tmp_path / "missing.npy", center="middle")


@pytest.mark.parametrize("build, value", [(motion, 1e9), (motion, 4200), (defocus, 1e5), (defocus, 2049), (gaussian, 1e6), (gaussian, 513)])
def test_kernels_wider_than_the_limit_are_refused_before_they_are_built(build, value):
    arguments = (value, 30) if build is motion else (value,)
    with pytest.raises(ParameterError, match=f"PSFs are limited to {MAX_PSF_SIDE}"):
        build(*arguments)


def test_the_widest_kernels_allowed_are_built():
    assert motion(MAX_PSF_SIDE, 0).shape == (1, MAX_PSF_SIDE)
    assert motion(MAX_PSF_SIDE, 90).shape == (MAX_PSF_SIDE, 1)
    assert gaussian(512).shape == (MAX_PSF_SIDE, MAX_PSF_SIDE)
    with pytest.raises(ParameterError):
        motion(MAX_PSF_SIDE + 2, 0)


@pytest.mark.parametrize("make, value", [(defocus, 1e-300), (defocus, 1e-200), (gaussian, 1e-300), (gaussian, 1e-155)])
def test_a_vanishing_blur_is_the_identity(make, value):
    # All the weight lies in the centre pixel; no underflow turns it into 0/0.
    kernel = make(value)
    assert kernel[kernel.shape[0] // 2, kernel.shape[1] // 2] == 1 and kernel.sum() == 1

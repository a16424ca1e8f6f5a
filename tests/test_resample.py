"""Tests of deblur_cli.resample against worked examples, OpenCV, scipy and scikit-image."""

import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage
from skimage.measure import block_reduce

from deblur_cli import resample
from deblur_cli.errors import InputError, ParameterError
from deblur_cli.resample import (
    bilinear_kernel,
    check_pixel_limit,
    conv_transpose2d,
    conv_transpose2d_size,
    downsample,
    load_kernel,
    nearest_kernel,
    resize_bilinear,
    same_padding,
    scaled_size,
    uneven_overlap,
)


def scatter_loop(x, kernel, stride, padding, output_padding=0, dilation=1):
    """Transposed convolution by its definition: every input pixel adds a scaled kernel copy."""
    (h, w), (kh, kw) = x.shape, kernel.shape
    out_h = (h - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1
    out_w = (w - 1) * stride - 2 * padding + dilation * (kw - 1) + output_padding + 1
    out = np.zeros((out_h, out_w))
    for i in range(h):
        for j in range(w):
            for u in range(kh):
                for v in range(kw):
                    r, c = i * stride + u * dilation - padding, j * stride + v * dilation - padding
                    if 0 <= r < out_h and 0 <= c < out_w:
                        out[r, c] += x[i, j] * kernel[u, v]
    return out


def scatter_taps(x, kernel, stride, padding):
    """The same, vectorised over pixels: one shifted, strided addition per kernel tap."""
    (h, w), (kh, kw) = x.shape[:2], kernel.shape
    full = np.zeros(((h - 1) * stride + kh, (w - 1) * stride + kw) + x.shape[2:])
    for u in range(kh):
        for v in range(kw):
            full[u : u + (h - 1) * stride + 1 : stride, v : v + (w - 1) * stride + 1 : stride] += kernel[u, v] * x
    return full[padding : full.shape[0] - padding, padding : full.shape[1] - padding]


def strided_conv(y, kernel, stride, padding, dilation, in_shape):
    """conv2d(y, kernel, stride, padding, dilation) (a correlation) with an (H, W) result."""
    (sy, sx), (py, px), (dy, dx), (kh, kw) = stride, padding, dilation, kernel.shape
    h, w = in_shape
    span_y, span_x = dy * (kh - 1) + 1, dx * (kw - 1) + 1
    need_y, need_x = (h - 1) * sy + span_y, (w - 1) * sx + span_x
    padded = np.pad(y, ((py, max(0, need_y - py - y.shape[0])), (px, max(0, need_x - px - y.shape[1]))))
    windows = sliding_window_view(padded, (span_y, span_x))[::sy, ::sx][:h, :w, ::dy, ::dx]
    return np.einsum("ijuv,uv->ij", windows, kernel)


def test_worked_example_1d():
    out = conv_transpose2d(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), stride=2)
    np.testing.assert_array_equal(out, [[3, 4, 6, 8]])
    assert out.dtype == np.float32


def test_worked_example_2x2_input_4x4_kernel_stride_3():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    kernel = np.arange(1.0, 17.0).reshape(4, 4)
    expected = np.zeros((7, 7))
    expected[0:4, 0:4] += 1 * kernel
    expected[0:4, 3:7] += 2 * kernel
    expected[3:7, 0:4] += 3 * kernel
    expected[3:7, 3:7] += 4 * kernel
    # the centre pixel gets a corner of all four copies: 1*16 + 2*13 + 3*4 + 4*1
    assert expected[3, 3] == 58
    out = conv_transpose2d(x, kernel, stride=3)
    assert out.shape == (7, 7)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out, scatter_loop(x, kernel, 3, 0))


@pytest.mark.parametrize(
    "size, k, stride, padding, output_padding",
    [(5, 4, 2, 0, 0), (5, 4, 2, 1, 0), (5, 4, 2, 1, 1), (5, 3, 2, 0, 1), (4, 3, 3, 2, 2),
     (6, 1, 3, 0, 2), (3, 5, 1, 2, 0), (7, 4, 4, 3, 3), (2, 2, 5, 0, 4)],
)
def test_output_size_and_values_follow_the_definition(size, k, stride, padding, output_padding):
    rng = np.random.default_rng(size * 31 + k)
    x = rng.standard_normal((size, size + 1))
    kernel = rng.standard_normal((k, k))
    out = conv_transpose2d(x, kernel, stride, padding, output_padding)
    expected_h = (size - 1) * stride - 2 * padding + (k - 1) + output_padding + 1
    assert out.shape == (expected_h, expected_h + stride)
    assert conv_transpose2d_size(x.shape, kernel.shape, stride, padding, output_padding) == out.shape
    np.testing.assert_allclose(out, scatter_loop(x, kernel, stride, padding, output_padding), atol=1e-5)


def test_padding_crops_and_output_padding_adds_at_bottom_right():
    rng = np.random.default_rng(0)
    x, kernel = rng.random((4, 5)), rng.random((3, 3))
    full = conv_transpose2d(x, kernel, 2)
    np.testing.assert_allclose(conv_transpose2d(x, kernel, 2, padding=1), full[1:-1, 1:-1], rtol=1e-6)
    extended = conv_transpose2d(x, kernel, 2, padding=0, output_padding=1)
    np.testing.assert_allclose(extended[:-1, :-1], full, rtol=1e-6)
    assert not extended[-1].any() and not extended[:, -1].any()


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    in_shape=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    kernel_shape=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    stride=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    seed=st.integers(0, 2**32 - 1),
)
def test_transposed_convolution_is_adjoint_of_strided_convolution(
    data, in_shape, kernel_shape, stride, padding, dilation, seed
):
    output_padding = tuple(data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    out_shape = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, p, op, d in zip(in_shape, kernel_shape, stride, padding, output_padding, dilation)
    )
    assume(min(out_shape) >= 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(in_shape + (2,)).astype(np.float32)
    y = rng.standard_normal(out_shape + (2,))
    kernel = rng.standard_normal(kernel_shape).astype(np.float32)
    transposed = conv_transpose2d(x, kernel, stride, padding, output_padding, dilation)
    assert transposed.shape == out_shape + (2,)
    lhs = np.sum(transposed.astype(np.float64) * y)
    rhs = sum(
        np.sum(x[..., c] * strided_conv(y[..., c], kernel, stride, padding, dilation, in_shape))
        for c in range(2)
    )
    scale = np.sum(np.abs(transposed) * np.abs(y)) + 1.0
    assert abs(lhs - rhs) <= 1e-5 * scale


@pytest.mark.parametrize("kernel_size, stride, padding", [(15, 1, 7), (15, 2, 3), (4, 2, 1), (3, 2, 0)])
def test_strips_threads_and_large_kernels_match_the_scatter(monkeypatch, kernel_size, stride, padding):
    # small strips and the thread pool even on small images, so their seams are crossed
    monkeypatch.setattr(resample, "_STRIP_BYTES", 2048)
    monkeypatch.setattr(resample, "_PARALLEL_MIN_VALUES", 0)
    rng = np.random.default_rng(kernel_size + stride)
    x = rng.random((37, 29, 3)).astype(np.float32)
    kernel = rng.standard_normal((kernel_size, kernel_size)).astype(np.float32)
    out = conv_transpose2d(x, kernel, stride, padding)
    np.testing.assert_allclose(out, scatter_taps(x, kernel, stride, padding), atol=2e-5 * kernel_size)


def test_large_image_uses_the_fast_path_and_matches_the_scatter():
    rng = np.random.default_rng(3)
    x = rng.random((300, 420, 3)).astype(np.float32)
    kernel = bilinear_kernel(2)
    out = conv_transpose2d(x, kernel, 2, 1)
    assert out.shape == (600, 840, 3)
    np.testing.assert_allclose(out, scatter_taps(x, kernel, 2, 1), atol=1e-5)


def test_grey_input_keeps_two_dimensions_and_uint8_is_computed_in_float():
    x = np.array([[0, 255], [128, 64]], dtype=np.uint8)
    out = conv_transpose2d(x, nearest_kernel(2), 2)
    assert out.shape == (4, 4) and out.dtype == np.float32
    np.testing.assert_array_equal(out, np.repeat(np.repeat(x, 2, 0), 2, 1))


def test_fcn_bilinear_kernel_values():
    np.testing.assert_allclose(bilinear_kernel(2), np.outer([0.25, 0.75, 0.75, 0.25], [0.25, 0.75, 0.75, 0.25]))
    third = np.array([1, 2, 3, 2, 1]) / 3
    np.testing.assert_allclose(bilinear_kernel(3), np.outer(third, third), rtol=1e-6)
    for f in range(1, 7):
        kernel = bilinear_kernel(f)
        assert kernel.shape == (2 * f - f % 2,) * 2
        sums = [kernel[a::f, b::f].sum() for a in range(f) for b in range(f)]
        np.testing.assert_allclose(sums, 1.0, rtol=1e-6)


@pytest.mark.parametrize("factor", [2, 3, 4])
@pytest.mark.parametrize("shape", [(9, 14, 3), (32, 17), (1, 6, 3)])
def test_bilinear_kernel_with_normalized_border_is_edge_clamped_bilinear(factor, shape):
    rng = np.random.default_rng(factor)
    x = rng.random(shape).astype(np.float32)
    kernel = bilinear_kernel(factor)
    padding, output_padding = same_padding(kernel.shape, factor)
    assert padding == ((factor - 1 + 1) // 2,) * 2 and output_padding == (0, 0)
    out = conv_transpose2d(x, kernel, factor, padding, output_padding, normalize_border=True)
    expected = cv2.resize(x, (shape[1] * factor, shape[0] * factor), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(out, expected.reshape(out.shape), atol=1e-5)
    plain = conv_transpose2d(x, kernel, factor, padding, output_padding)
    m = factor  # unnormalised, only the border rows and columns differ
    np.testing.assert_allclose(plain[m:-m, m:-m], out[m:-m, m:-m], atol=1e-5)
    assert shape[0] == 1 or not np.allclose(plain[0], out[0], atol=1e-3)


def test_normalize_border_divides_by_the_transposed_convolution_of_ones():
    rng = np.random.default_rng(5)
    x = rng.random((11, 8, 2)).astype(np.float32)
    kernel = rng.random((5, 3)).astype(np.float32) + 0.1
    kernel[0, 0] = 0.0
    out = conv_transpose2d(x, kernel, 2, 0, 1, normalize_border=True)
    denominator = scatter_loop(np.ones((11, 8)), kernel, 2, 0, 1)
    for c in range(2):
        numerator = scatter_loop(x[..., c], kernel, 2, 0, 1)
        expected = np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)
        np.testing.assert_allclose(out[..., c], expected, rtol=1e-5, atol=1e-6)
    assert (denominator == 0).any()  # the output-padding corner, which no input reaches


def test_nearest_kernel_repeats_pixels():
    rng = np.random.default_rng(1)
    x = rng.random((5, 7, 3)).astype(np.float32)
    for f in (2, 3):
        padding, output_padding = same_padding((f, f), f)
        out = conv_transpose2d(x, nearest_kernel(f), f, padding, output_padding)
        np.testing.assert_array_equal(out, cv2.resize(x, (7 * f, 5 * f), interpolation=cv2.INTER_NEAREST))


@pytest.mark.parametrize("k, stride, dilation", [(4, 2, 1), (5, 3, 1), (2, 3, 1), (6, 4, 1), (3, 1, 1), (4, 1, 1), (3, 2, 2)])
def test_same_padding_gives_stride_times_the_input(k, stride, dilation):
    (p, _), (op, _) = same_padding((k, k), stride, dilation)
    assert 0 <= op < max(stride, dilation)
    (h, w) = conv_transpose2d_size((6, 9), (k, k), stride, p, op, dilation)
    extra = 1 if stride == 1 and (dilation * (k - 1)) % 2 else 0
    assert (h, w) == (6 * stride + extra, 9 * stride + extra)


def test_uneven_overlap_flags_checkerboards():
    assert uneven_overlap(np.ones((3, 3)), 2)
    assert not uneven_overlap(np.ones((4, 4)), 2)
    assert not uneven_overlap(bilinear_kernel(3), 3)  # size 5, stride 3, yet even phases
    assert uneven_overlap(np.ones((1, 3)), (1, 2))
    flat = np.ones((8, 8), np.float32)
    plain = conv_transpose2d(flat, np.ones((3, 3)), 2, 1, 1)
    assert np.ptp(plain[2:-2, 2:-2]) > 1  # the checkerboard
    fixed = conv_transpose2d(flat, np.ones((3, 3)), 2, 1, 1, normalize_border=True)
    np.testing.assert_allclose(fixed, 1.0, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"stride": 0}, "stride must be an integer >= 1, got 0"),
        ({"stride": 1.5}, "stride must be an integer"),
        ({"stride": True}, "stride must be an integer"),
        ({"padding": -1}, "padding must be an integer >= 0, got -1"),
        ({"stride": 2, "output_padding": 2}, "output_padding must be smaller than the stride or the dilation"),
        ({"stride": 1, "output_padding": 1}, "output_padding=1 with stride=1, dilation=1"),
        ({"dilation": 0}, "dilation must be an integer >= 1"),
        ({"padding": 5}, "crops more than the transposed convolution produces"),
        ({"stride": (1, 2, 3)}, "pair of integers"),
    ],
)
def test_bad_parameters_are_refused(kwargs, fragment):
    with pytest.raises(ParameterError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        conv_transpose2d(np.ones((3, 3)), np.ones((2, 2)), **kwargs)


def test_output_padding_may_reach_the_dilation_as_in_pytorch():
    out = conv_transpose2d(np.ones((3, 3)), np.ones((2, 2)), stride=1, output_padding=1, dilation=2)
    assert out.shape == (6, 6)
    np.testing.assert_array_equal(out, np.pad(scatter_loop(np.ones((3, 3)), np.ones((2, 2)), 1, 0, 0, 2), ((0, 1), (0, 1))))


@pytest.mark.parametrize(
    "kernel, fragment",
    [(np.array([[1.0, np.nan]]), "1 NaN value"), (np.ones(3), "2-D"), (np.ones((0, 2)), "non-empty"),
     (np.ones((2, 2, 2)), "2-D")],
)
def test_bad_kernels_are_refused(kernel, fragment):
    with pytest.raises(ParameterError, match=fragment):
        conv_transpose2d(np.ones((3, 3)), kernel)


def test_a_result_beyond_float32_is_refused_not_returned_as_inf():
    x = np.full((5, 6), 3e38, np.float32)
    with pytest.raises(InputError, match=r"leaves float32's range .* input values reach 3e\+38 .* sum, in magnitude, to 9;"):
        conv_transpose2d(x, np.ones((3, 3)), stride=2)


@pytest.mark.parametrize(
    ("kernel", "stride", "normalize_border"),
    [(np.ones((2, 2)), 2, False), (bilinear_kernel(2), 2, True), (np.array([[-1.0, 1.0]]), 1, False)],
)
def test_results_near_float32_max_are_exact(kernel, stride, normalize_border):
    # Each output is at most 3e38 in magnitude although the input peak times the kernel's sum is beyond.
    x = np.random.default_rng(0).uniform(-3e38, 3e38, (5, 6)).astype(np.float32)
    if kernel.min() < 0:
        x = np.abs(x)
    out = conv_transpose2d(x, kernel, stride=stride, normalize_border=normalize_border)
    assert np.all(np.isfinite(out)) and np.abs(out).max() > 1e38
    if not normalize_border:
        np.testing.assert_allclose(out, scatter_loop(x.astype(np.float64), kernel, stride, 0), rtol=1e-5)


def _half_pixel_bilinear(x, size):
    """Bilinear interpolation with half-pixel centres and edge clamp, in float64 (scipy)."""
    rows = np.clip((np.arange(size[0]) + 0.5) * x.shape[0] / size[0] - 0.5, 0, x.shape[0] - 1)
    cols = np.clip((np.arange(size[1]) + 0.5) * x.shape[1] / size[1] - 0.5, 0, x.shape[1] - 1)
    return ndimage.map_coordinates(x.astype(np.float64), np.meshgrid(rows, cols, indexing="ij"), order=1)


_EDGES = np.array([[3e38, -3e38]] * 2, np.float32)


def test_bilinear_values_near_float32_max_stay_finite_and_exact():
    np.testing.assert_array_equal(resize_bilinear(_EDGES, (4, 4)), np.tile(np.float32([3e38, 1.5e38, -1.5e38, -3e38]), (4, 1)))
    np.testing.assert_allclose(
        resize_bilinear(_EDGES, (4, 4), align_corners=True), np.tile([3e38, 1e38, -1e38, -3e38], (4, 1)), rtol=1e-6
    )
    np.testing.assert_array_equal(resize_bilinear(np.full((40, 50), 1e38, np.float32), (20, 25)), np.float32(1e38))
    x = np.random.default_rng(3).uniform(-3e38, 3e38, (40, 50)).astype(np.float32)
    for size in [(20, 25), (13, 17), (90, 70)]:
        np.testing.assert_allclose(resize_bilinear(x, size), _half_pixel_bilinear(x, size), rtol=1e-5, atol=1e33)


@pytest.mark.parametrize("factor", [2, 5])
def test_area_downsampling_of_values_near_float32_max_is_the_block_mean(factor):
    np.testing.assert_array_equal(downsample(np.full((4, 4), 1e38, np.float32), 2, "area"), np.float32(1e38))
    x = np.random.default_rng(factor).uniform(-3e38, 3e38, (20, 30, 2)).astype(np.float32)
    expected = block_reduce(x.astype(np.float64), (factor, factor, 1), np.mean)
    np.testing.assert_allclose(downsample(x, factor, "area"), expected, rtol=1e-5, atol=1e33)


def test_scaling_away_an_overflow_keeps_small_values_far_from_large_ones():
    # 3e38 in one corner block, 1e-30 elsewhere: the scaled computation must not flush 1e-30 to 0.
    x = np.kron(np.float32([[3e38, 1e-30], [1e-30, 1e-30]]), np.ones((20, 20), np.float32))
    assert resize_bilinear(x, (80, 80))[-1, -1] == np.float32(1e-30)
    np.testing.assert_allclose(downsample(x, 4, "area")[-1, -1], 1e-30, rtol=1e-5)


def test_bad_images_are_refused():
    with pytest.raises(InputError, match="non-empty"):
        conv_transpose2d(np.ones((0, 3)), np.ones((2, 2)))
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        resize_bilinear(np.ones(3), (2, 2))


SHAPES = [(13, 17, 3), (40, 25), (5, 64, 3), (1, 9)]
SIZES = [(26, 34), (31, 11), (7, 100), (1, 1), (3, 40)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", SIZES)
def test_bilinear_equals_cv2_resize_and_half_pixel_edge_clamp(shape, size):
    rng = np.random.default_rng(len(shape) + size[0])
    x = rng.random(shape).astype(np.float32)
    out = resize_bilinear(x, size)
    assert out.shape == size + shape[2:]
    np.testing.assert_allclose(out, cv2.resize(x, size[::-1], interpolation=cv2.INTER_LINEAR).reshape(out.shape), atol=1e-5)
    # independent of OpenCV: sample at (o + 0.5) * n_in / n_out - 0.5, clamped to the edge
    rows = np.clip((np.arange(size[0]) + 0.5) * shape[0] / size[0] - 0.5, 0, shape[0] - 1)
    cols = np.clip((np.arange(size[1]) + 0.5) * shape[1] / size[1] - 0.5, 0, shape[1] - 1)
    grid = np.meshgrid(rows, cols, indexing="ij")
    planes = x.reshape(shape[:2] + (-1,))
    expected = np.stack([ndimage.map_coordinates(planes[..., c], grid, order=1) for c in range(planes.shape[2])], -1)
    np.testing.assert_allclose(out.reshape(expected.shape), expected, atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("size", SIZES)
def test_bilinear_align_corners(shape, size):
    rng = np.random.default_rng(7)
    x = rng.random(shape).astype(np.float32)
    out = resize_bilinear(x, size, align_corners=True)
    assert out.shape == size + shape[2:] and out.dtype == np.float32
    rows = np.arange(size[0]) * ((shape[0] - 1) / (size[0] - 1) if size[0] > 1 else 0.0)
    cols = np.arange(size[1]) * ((shape[1] - 1) / (size[1] - 1) if size[1] > 1 else 0.0)
    grid = np.meshgrid(rows, cols, indexing="ij")
    planes = x.reshape(shape[:2] + (-1,))
    expected = np.stack([ndimage.map_coordinates(planes[..., c], grid, order=1) for c in range(planes.shape[2])], -1)
    np.testing.assert_allclose(out.reshape(expected.shape), expected, atol=1e-5)
    if size[0] > 1 and size[1] > 1:  # the corners coincide
        for corner in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
            np.testing.assert_allclose(out[corner], x[corner], atol=1e-6)


@pytest.mark.parametrize("scale, expected", [(2, (20, 14)), (1.25, (13, 9)), (0.5, (5, 4)), (0.01, (1, 1)), ((2, 3), (20, 21))])
def test_scaled_size_rounds_to_nearest(scale, expected):
    assert scaled_size((10, 7), scale) == expected


@pytest.mark.parametrize("scale", [0, -1.5, float("nan"), float("inf"), "2"])
def test_scaled_size_refuses_bad_scales(scale):
    with pytest.raises(ParameterError, match="scale must be a finite number > 0"):
        scaled_size((10, 10), scale)


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("shape", [(32, 48, 3), (37, 50), (9, 13, 3)])
def test_downsample_area_and_max_are_block_reductions(factor, shape):
    rng = np.random.default_rng(factor)
    x = rng.random(shape).astype(np.float32)
    h, w = shape[0] // factor, shape[1] // factor
    block = (factor, factor) + (1,) * (len(shape) - 2)
    crop = x[: h * factor, : w * factor]
    area = downsample(x, factor, "area")
    assert area.shape == (h, w) + shape[2:]
    np.testing.assert_allclose(area, block_reduce(crop, block, np.mean), atol=1e-6)
    np.testing.assert_array_equal(downsample(x, factor, "max"), block_reduce(crop, block, np.max))
    bilinear = downsample(x, factor, "bilinear")
    np.testing.assert_allclose(bilinear, cv2.resize(crop, (w, h), interpolation=cv2.INTER_LINEAR).reshape(bilinear.shape), atol=1e-5)


def test_bilinear_downsampling_by_two_averages_each_block_and_by_three_samples_the_centre():
    rng = np.random.default_rng(2)
    x = rng.random((12, 18)).astype(np.float32)
    np.testing.assert_allclose(downsample(x, 2, "bilinear"), downsample(x, 2, "area"), atol=1e-6)
    np.testing.assert_allclose(downsample(x, 3, "bilinear"), x[1::3, 1::3], atol=1e-6)


def test_downsample_refuses_bad_input():
    with pytest.raises(ParameterError, match="factor 9 is larger than the image"):
        downsample(np.ones((8, 20)), 9)
    with pytest.raises(ParameterError, match="factor must be an integer >= 1, got 0"):
        downsample(np.ones((8, 8)), 0)
    with pytest.raises(ParameterError, match="unknown downsampling method 'median'"):
        downsample(np.ones((8, 8)), 2, "median")


@pytest.mark.parametrize(
    "call",
    [lambda image: resize_bilinear(image, scaled_size(image.shape, 1e6)),
     lambda image: resize_bilinear(image, (100, 101), max_pixels=10_000, align_corners=True),
     lambda image: conv_transpose2d(image, np.ones((2, 2)), stride=10**6)],
)
def test_outputs_beyond_the_pixel_limit_are_refused_before_any_work(call):
    with pytest.raises(ParameterError, match="pixels would exceed the limit of"):
        call(np.ones((10, 10), np.float32))


@pytest.mark.parametrize("size", [np.array([4, 5]), (np.int64(4), np.int32(5)), [np.uint8(4), 5]])
def test_sizes_may_be_numpy_integers(size):
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_array_equal(resize_bilinear(image, size), resize_bilinear(image, (4, 5)))


@pytest.mark.parametrize("size", [np.array([4.0, 5.0]), np.array([[4, 5]]), (4.0, 5), 8, (4, 5, 6)])
def test_sizes_that_are_not_pairs_of_integers_are_refused(size):
    with pytest.raises(ParameterError, match="size"):
        resize_bilinear(np.ones((3, 4)), size)


@pytest.mark.parametrize(("max_pixels", "found"), [("10", "got '10'"), (-1, "got -1"), (0, "got 0"), (2.5, "got 2.5")])
def test_a_pixel_limit_must_be_an_integer_of_one_or_more(max_pixels, found):
    with pytest.raises(ParameterError, match=f"max_pixels must be an integer >= 1, {found}"):
        resize_bilinear(np.ones((3, 4)), (4, 4), max_pixels=max_pixels)


@pytest.mark.parametrize("align_corners", [False, True])
def test_sizes_beyond_opencv_are_refused_whatever_the_pixel_limit(align_corners):
    with pytest.raises(ParameterError, match="output of 2x2147483648 pixels has a side beyond 2,147,483,647"):
        resize_bilinear(np.ones((3, 4)), (2**31, 2), max_pixels=None, align_corners=align_corners)


@pytest.mark.parametrize(
    ("make", "factor", "found"),
    [(bilinear_kernel, 2050, "a bilinear kernel 4100 pixels wide"), (bilinear_kernel, 10**6, "a bilinear kernel 2000000 pixels wide"),
     (nearest_kernel, 4098, "a nearest kernel 4098 pixels wide")],
)
def test_kernels_are_limited_like_psfs(make, factor, found):
    with pytest.raises(ParameterError, match=f"factor {factor} would make {found}; kernels are limited to 4097"):
        make(factor)


@pytest.mark.parametrize(
    "call",
    [lambda image: conv_transpose2d(image, np.ones((2, 2)), normalize_border="no"),
     lambda image: resize_bilinear(image, (4, 4), align_corners=1)],
)
def test_flags_must_be_bools(call):
    with pytest.raises(ParameterError, match="must be True or False, got"):
        call(np.ones((3, 3), np.float32))


def test_check_pixel_limit():
    check_pixel_limit((100, 100), 10_000)
    check_pixel_limit((10**6, 10**6), None)
    with pytest.raises(ParameterError, match="output of 101x100 = 10,100 pixels would exceed the limit of 10,000"):
        check_pixel_limit((100, 101), 10_000)


def test_load_kernel_from_npy_csv_txt_and_grey_image(tmp_path):
    kernel = np.array([[0.5, 1.0, -2.0], [3.0, 0.0, 4.25]], np.float32)
    np.save(tmp_path / "k.npy", kernel)
    np.savetxt(tmp_path / "k.csv", kernel, delimiter=",")
    np.savetxt(tmp_path / "k.txt", kernel)
    for name in ("k.npy", "k.csv", "k.txt"):
        loaded = load_kernel(tmp_path / name)
        assert loaded.dtype == np.float32
        np.testing.assert_array_equal(loaded, kernel)
    grey = np.array([[0, 51], [255, 102]], np.uint8)
    cv2.imwrite(str(tmp_path / "k.png"), grey)
    np.testing.assert_allclose(load_kernel(tmp_path / "k.png"), grey / 255, rtol=1e-6)


def test_load_kernel_refuses_bad_files(tmp_path):
    (tmp_path / "nan.csv").write_text("1,2\nnan,4\n")
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    (tmp_path / "text.csv").write_text("a,b\n")
    cv2.imwrite(str(tmp_path / "colour.png"), np.zeros((3, 3, 3), np.uint8) + [0, 0, 255])
    cases = [("nan.csv", "1 NaN value"), ("cube.npy", "2-D"), ("text.csv", "cannot read kernel"),
             ("colour.png", "greyscale"), ("missing.npy", "no such kernel file")]
    for name, fragment in cases:
        with pytest.raises(InputError, match=fragment) as caught:
            load_kernel(tmp_path / name)
        assert caught.value.path.endswith(name)


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(11)
    for stride, padding, output_padding, dilation, shape in [
        (2, 1, 0, 1, (4, 4)), (3, 2, 2, 1, (5, 3)), ((2, 3), (0, 1), (1, 2), (1, 2), (3, 4)), (1, 2, 1, 2, (3, 3)),
    ]:
        x = rng.standard_normal((9, 7, 3)).astype(np.float32)
        kernel = rng.standard_normal(shape).astype(np.float32)
        expected = functional.conv_transpose2d(
            torch.from_numpy(x).permute(2, 0, 1)[:, None], torch.from_numpy(kernel)[None, None],
            stride=stride, padding=padding, output_padding=output_padding, dilation=dilation,
        )[:, 0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(conv_transpose2d(x, kernel, stride, padding, output_padding, dilation), expected, atol=1e-5)
    x = rng.random((9, 7, 3)).astype(np.float32)
    for size, align in [((20, 15), False), ((20, 15), True), ((4, 30), False), ((4, 30), True)]:
        expected = functional.interpolate(
            torch.from_numpy(x).permute(2, 0, 1)[None], size=size, mode="bilinear", align_corners=align
        )[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(resize_bilinear(x, size, align_corners=align), expected, atol=1e-5)


@pytest.mark.parametrize("channels", [65, 129, 300])
def test_many_channels_give_what_each_channel_gives_alone(channels):
    # OpenCV 5 holds at most 128 channels in one matrix (512 before).
    x = np.random.default_rng(0).random((9, 7, channels), dtype=np.float32)
    kernel = np.arange(12, dtype=np.float32).reshape(4, 3)
    results = {
        "transposed": (conv_transpose2d(x, kernel, 2, 1), lambda plane: conv_transpose2d(plane, kernel, 2, 1)),
        "bilinear": (resize_bilinear(x, (13, 11)), lambda plane: resize_bilinear(plane, (13, 11))),
        "area": (downsample(x, 2), lambda plane: downsample(plane, 2)),
    }
    for name, (together, alone) in results.items():
        expected = np.stack([alone(x[..., c]) for c in range(channels)], axis=-1)
        np.testing.assert_allclose(together, expected, rtol=1e-6, atol=1e-5, err_msg=name)

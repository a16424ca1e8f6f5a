"""Upsampling and downsampling: bilinear interpolation, transposed convolution, pooling.

Conventions (DESIGN.md section 4):

- Images are float32 arrays (H, W) or (H, W, C); every channel is resampled alike.
  Sizes are given as (height, width), like NumPy shapes.
- Bilinear interpolation uses half-pixel centres with the edge sample repeated
  beyond the border: output pixel ``o`` samples the input at ``(o + 0.5) * n_in /
  n_out - 0.5``. This is ``cv2.resize(..., interpolation=cv2.INTER_LINEAR)`` on
  float input and PyTorch's ``interpolate(mode="bilinear", align_corners=False)``
  for a given output size. With ``align_corners=True`` output pixel ``o`` samples
  ``o * (n_in - 1) / (n_out - 1)``, so the corner pixels of input and output
  coincide. Shrinking by bilinear interpolation is not antialiased: it samples,
  it does not average (use ``downsample(..., "area")`` for that).
- Transposed convolution is PyTorch's ``conv_transpose2d`` with one 2-D kernel
  applied to every channel: each input pixel scatters a copy of the kernel, scaled
  by its value, at ``stride`` times its position (no kernel flip); ``padding`` crops
  that many rows and columns on every side, ``output_padding`` adds rows and
  columns at the bottom and right. It is computed in polyphase form: each of the
  stride x stride output phases is a small correlation of the input with one
  sub-sampled piece of the kernel, done by OpenCV in cache-sized strips on several
  threads and interleaved into the output.
- Downsampling by an integer factor N first drops the bottom rows and right
  columns that do not fill an N x N block (as PyTorch's pooling does), so that
  output pixel (i, j) covers input block [iN, (i+1)N) x [jN, (j+1)N).
"""

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .checks import FLOAT32_MAX, as_image, as_kernel, check_bool, check_int, check_size, range_exponent, scaled_back, scaled_down
from .choices import DOWNSAMPLE_METHODS
from .errors import InputError, ParameterError
from .formats import DEFAULT_MAX_PIXELS
from .opencv import MAX_CHANNELS, in_channel_groups
from .psf import MAX_PSF_SIDE, read_kernel_file

__all__ = [
    "bilinear_kernel",
    "nearest_kernel",
    "load_kernel",
    "conv_transpose2d",
    "conv_transpose2d_size",
    "same_padding",
    "transposed_parameters",
    "uneven_overlap",
    "resize_bilinear",
    "scaled_size",
    "downsample",
    "check_pixel_limit",
    "DOWNSAMPLE_METHODS",
]

_STRIP_BYTES = 1 << 20  # one strip buffer per phase, sized to stay in cache
_PARALLEL_MIN_VALUES = 1 << 20  # below this many output values, one thread


def _pair(value, name, minimum):
    """An int or an (int, int) pair (tuple, list or array) as a (rows, columns) tuple, each >= ``minimum``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()  # numpy integers become ints; a 0-d array, one number
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2:
        raise ParameterError(f"{name} must be an integer or a pair of integers, got {value!r}")
    return tuple(check_int(v, name, minimum) for v in values)


def _as_channels(pixels):
    """(H, W) or (H, W, C) float32 -> contiguous (H, W, C) float32, and a bound of its magnitude."""
    array, peak = as_image(pixels, return_peak=True)
    if array.ndim == 2:
        array = array[:, :, None]
    return np.ascontiguousarray(array), peak


def _check_kernel_side(name, factor, side):
    if side > MAX_PSF_SIDE:
        raise ParameterError(
            f"factor {factor} would make a {name} kernel {side} pixels wide; kernels are limited to {MAX_PSF_SIDE}"
        )
    return side


def bilinear_kernel(factor):
    """The bilinear upsampling kernel of FCN for an integer factor.

    Parameters
    ----------
    factor : int
        Upsampling factor f >= 1.

    Returns
    -------
    ndarray of float32, shape (k, k)
        ``k = 2f - f % 2``; the outer product of ``1 - |i - c| / f`` with
        ``c = f - 1`` (odd k) or ``f - 0.5`` (even k). With stride f and padding
        ``ceil((f - 1) / 2)`` the transposed convolution interpolates bilinearly
        with half-pixel centres, and each stride phase of the kernel sums to 1.

    Raises
    ------
    ParameterError
        ``factor`` not an integer >= 1, or a kernel wider than
        :data:`.psf.MAX_PSF_SIDE` (a factor above 2049).

    References
    ----------
    .. [1] J. Long, E. Shelhamer, T. Darrell, "Fully convolutional networks for
       semantic segmentation", CVPR 2015 (``surgery.upsample_filt``).
    """
    f = check_int(factor, "factor", 1)
    size = _check_kernel_side("bilinear", f, 2 * f - f % 2)
    centre = f - 1 if size % 2 else f - 0.5
    weights = 1.0 - np.abs(np.arange(size) - centre) / f
    return np.outer(weights, weights).astype(np.float32)


def nearest_kernel(factor):
    """The nearest-neighbour upsampling kernel: ones, ``factor`` x ``factor``.

    With stride ``factor`` and no padding, each input pixel becomes a block.

    Parameters
    ----------
    factor : int
        Upsampling factor, >= 1.

    Returns
    -------
    ndarray of float32, shape (factor, factor)

    Raises
    ------
    ParameterError
        ``factor`` is not an integer >= 1, or above :data:`.psf.MAX_PSF_SIDE`.
    """
    f = check_int(factor, "factor", 1)
    _check_kernel_side("nearest", f, f)
    return np.ones((f, f), np.float32)


def load_kernel(path):
    """Read a transposed-convolution kernel from a file, unnormalised.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` (a 2-D array), ``.csv``/``.txt`` (rows of numbers separated by
        semicolons, commas or white space), or a greyscale image (read like any input image:
        8- and 16-bit values scaled to [0, 1]); read by
        :func:`.psf.read_kernel_file`.

    Returns
    -------
    ndarray of float32, 2-D

    Raises
    ------
    InputError
        Unreadable file, colour image, not 2-D, empty, or a NaN/infinite weight.
    """
    path = os.fspath(path)
    return as_kernel(read_kernel_file(path, what="kernel", average_colour=False), "kernel", np.float32, source=path)


def _dilate(kernel, dilation):
    """Spread the taps of ``kernel`` ``dilation`` apart (zeros between)."""
    dy, dx = dilation
    if (dy, dx) == (1, 1):
        return kernel
    kh, kw = kernel.shape
    spread = np.zeros((dy * (kh - 1) + 1, dx * (kw - 1) + 1), np.float32)
    spread[::dy, ::dx] = kernel
    return spread


def transposed_parameters(stride, padding, output_padding, dilation):
    """Check the parameters of :func:`conv_transpose2d` against PyTorch's rules.

    Parameters
    ----------
    stride : int or (int, int)
        >= 1.
    padding : int or (int, int)
        >= 0.
    output_padding : int or (int, int)
        >= 0, smaller than the stride or the dilation.
    dilation : int or (int, int)
        >= 1.

    Returns
    -------
    stride, padding, output_padding, dilation : (int, int) each

    Raises
    ------
    ParameterError
        A value that is not an integer or a pair of integers, stride or
        dilation < 1, padding < 0, or output_padding not smaller than the stride
        or the dilation.
    """
    stride = _pair(stride, "stride", 1)
    padding = _pair(padding, "padding", 0)
    output_padding = _pair(output_padding, "output_padding", 0)
    dilation = _pair(dilation, "dilation", 1)
    for s, op, d in zip(stride, output_padding, dilation):
        if op >= max(s, d):
            raise ParameterError(
                f"output_padding must be smaller than the stride or the dilation, got "
                f"output_padding={op} with stride={s}, dilation={d}"
            )
    return stride, padding, output_padding, dilation


def conv_transpose2d_size(in_size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output (height, width) of :func:`conv_transpose2d`, checking the parameters.

    Per axis: ``(n - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1``.

    Parameters
    ----------
    in_size, kernel_size : (int, int)
        (height, width) of the input and of the kernel.
    stride, padding, output_padding, dilation : int or (int, int)
        As for :func:`conv_transpose2d`.

    Returns
    -------
    (int, int)
        (height, width) of the output.

    Raises
    ------
    ParameterError
        A parameter out of PyTorch's domain, or an output of no pixels.
    """
    stride, padding, output_padding, dilation = transposed_parameters(stride, padding, output_padding, dilation)
    size = tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, p, op, d in zip(in_size, kernel_size, stride, padding, output_padding, dilation)
    )
    if min(size) < 1:
        raise ParameterError(
            f"padding {padding[0]}x{padding[1]} crops more than the transposed convolution "
            f"produces (output would be {size[1]}x{size[0]}); lower the padding"
        )
    return size


def same_padding(kernel_size, stride, dilation=1):
    """Padding and output padding that make the output exactly ``stride`` times the input.

    Per axis with ``e = dilation * (k - 1) + 1 - stride``: ``padding = ceil(e / 2)``,
    ``output_padding = 2 * padding - e`` when ``e >= 0``, and ``padding = 0``,
    ``output_padding = -e`` when the kernel is shorter than the stride. For stride 1
    and an even kernel, where PyTorch allows no output padding, the output is one
    row (column) larger. The bilinear kernel gets FCN's ``ceil((f - 1) / 2)``, the
    nearest kernel 0.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Kernel (height, width), >= 1.
    stride : int or (int, int)
        >= 1.
    dilation : int or (int, int), optional
        >= 1.

    Returns
    -------
    padding, output_padding : (int, int)

    Raises
    ------
    ParameterError
        A value that is not an integer or a pair of integers >= 1.
    """
    kernel_size = _pair(kernel_size, "kernel size", 1)
    stride = _pair(stride, "stride", 1)
    dilation = _pair(dilation, "dilation", 1)
    padding, output_padding = [], []
    for k, s, d in zip(kernel_size, stride, dilation):
        excess = d * (k - 1) + 1 - s
        if excess < 0:
            p, op = 0, -excess
        else:
            p = -(-excess // 2)
            op = 2 * p - excess
            if op >= max(s, d):
                p, op = excess // 2, 0
        padding.append(p)
        output_padding.append(op)
    return tuple(padding), tuple(output_padding)


def uneven_overlap(kernel, stride, dilation=1):
    """Whether the kernel's stride phases carry unequal weight (checkerboard artefacts).

    Output pixels of different phases receive different sets of taps; where the
    sums of the phases ``kernel[by::sy, bx::sx]`` differ, a flat input comes out as
    a checkerboard (a 3x3 box at stride 2, say). The bilinear kernel of an odd factor
    (size 2f - 1) has equal sums and is not flagged, though its size is not a
    multiple of the stride.

    Parameters
    ----------
    kernel : array_like
        2-D kernel of finite weights.
    stride : int or (int, int)
        >= 1.
    dilation : int or (int, int), optional
        >= 1.

    Returns
    -------
    bool
        True when the phase sums differ by more than 1e-6 times the sum of the
        kernel's absolute weights.

    Raises
    ------
    ParameterError
        Kernel empty, not 2-D or not finite; stride or dilation not an integer
        (or pair) >= 1.
    """
    kernel = as_kernel(kernel, "kernel", np.float64, error=ParameterError)
    dy, dx = _pair(dilation, "dilation", 1)
    sy, sx = _pair(stride, "stride", 1)
    # Tap (i, j) of the dilated kernel lands in phase (i dy mod sy, j dx mod sx); only the
    # phases some tap reaches are listed, the others (if any) sum to 0.
    rows = np.arange(kernel.shape[0]) * dy % sy
    cols = np.arange(kernel.shape[1]) * dx % sx
    phases, which = np.unique(np.add.outer(rows * sx, cols).ravel(), return_inverse=True)
    sums = np.bincount(which.ravel(), weights=kernel.ravel())
    if phases.size < sy * sx:
        sums = np.append(sums, 0.0)
    scale = max(float(np.abs(kernel).sum()), np.finfo(np.float32).tiny)
    return bool(np.ptp(sums) > 1e-6 * scale)


def _phases(n_out, k, s, p):
    """Per output phase r: (a, b, taps) with out[q*s + r] = sum_m x[q + a - m] w[b + m*s]."""
    plan = []
    for r in range(s):
        a, b = divmod(r + p, s)
        plan.append((a, b, len(range(b, k, s)) if r < n_out else 0))
    return plan


def _span(lo, count, taps, n):
    """Input range a `taps`-long valid correlation needs for `count` outputs from index lo.

    Returns (start, end, before, after): the part inside [0, n) and how many
    zeros are missing before and after it.
    """
    hi = lo + count + taps - 1
    start, end = min(max(lo, 0), n), max(min(hi, n), 0)
    return start, end, start - lo, hi - end


def _correlate(x, g, rows, cols, buffer):
    """Valid correlation of x (zero outside) with g over the window of origin (rows, cols).

    rows, cols : (lo, count); the result is buffer[:count_rows, :count_cols] where
    result[i, j] = sum g[u, v] * x[lo_r + i + u, lo_c + j + v].
    """
    import cv2

    (ty, tx), (ry, cy), (rx, cx) = g.shape, rows, cols
    y0, y1, above, below = _span(ry, cy, ty, x.shape[0])
    x0, x1, left, right = _span(rx, cx, tx, x.shape[1])
    if y1 <= y0 or x1 <= x0:
        buffer[:cy, :cx] = 0.0
        return buffer[:cy, :cx]
    if above + below < ty and left + right < tx:
        # OpenCV's zero border supplies the missing rows and columns: the anchor
        # shifts the window so the first `count` outputs are the ones wanted.
        source, anchor = x[y0:y1, x0:x1], (left, above)
    else:
        source = np.zeros((cy + ty - 1, cx + tx - 1, x.shape[2]), np.float32)
        source[above : above + y1 - y0, left : left + x1 - x0] = x[y0:y1, x0:x1]
        anchor = (0, 0)
    h, w = source.shape[:2]
    cv2.filter2D(
        source, -1, g, dst=buffer[:h, :w], anchor=anchor, borderType=cv2.BORDER_CONSTANT
    )
    return buffer[:cy, :cx]


def _interleave(parts, destination):
    """destination[..., j*C:(j+1)*C] = parts[j]: the column phases side by side."""
    import cv2

    channels = parts[0].shape[2]
    if len(parts) * channels <= MAX_CHANNELS:
        cv2.merge(parts, dst=destination)
    else:
        for j, part in enumerate(parts):
            destination[:, :, j * channels : (j + 1) * channels] = part


def _reach(n_in, n_out, k, s, p):
    """reach[o, u] = 1 where kernel tap u lands on output o from an input inside [0, n_in)."""
    offset = np.arange(n_out)[:, None] + p - np.arange(k)[None, :]
    return ((offset % s == 0) & (offset >= 0) & (offset // s < n_in)).astype(np.float32)


class _BorderWeights:
    """Divides each phase of the output by the transposed convolution of an all-ones image.

    That response is ``reach_y @ kernel @ reach_x.T``. Away from the borders it is the
    sum of the phase's kernel piece, which is folded into the piece (the pieces are
    changed in place), so only the rows and columns that some tap reaches from outside
    the image are corrected, strip by strip. Where the response is 0 the output is 0.
    """

    def __init__(self, in_shape, kernel, stride, padding, rows, cols, phase_shape, pieces):
        (sy, sx), (qy, qx) = stride, phase_shape
        self.sy = sy
        self.reach_y = _reach(in_shape[0], qy * sy, kernel.shape[0], sy, padding[0])
        reach_x = _reach(in_shape[1], qx * sx, kernel.shape[1], sx, padding[1])
        self.spread_x = [kernel @ reach_x[rx::sx].T for rx in range(sx)]
        self.inner_y = [self.reach_y[ry::sy].sum(axis=1) == ty for ry, (_, _, ty) in enumerate(rows)]
        self.border_x = [np.flatnonzero(reach_x[rx::sx].sum(axis=1) != tx) for rx, (_, _, tx) in enumerate(cols)]
        self.sums = {key: float(piece.sum(dtype=np.float64)) for key, piece in pieces.items()}
        for key, piece in pieces.items():
            if self.sums[key] != 0:
                piece /= np.float32(self.sums[key])

    def _correct(self, part, ry, rx, q0, at_rows, at_cols):
        weights = self.reach_y[(q0 + at_rows) * self.sy + ry] @ self.spread_x[rx][:, at_cols]
        factor = np.zeros_like(weights)
        np.divide(self.sums[ry, rx] or 1.0, weights, out=factor, where=weights != 0)
        part[np.ix_(at_rows, at_cols)] *= factor[:, :, None]

    def __call__(self, part, ry, rx, q0):
        """Correct ``part``, phase (ry, rx) for phase rows q0, q0 + 1, ..."""
        inner = self.inner_y[ry][q0 : q0 + part.shape[0]]
        if self.sums[ry, rx] == 0:  # nothing was folded into the piece: correct everywhere
            inner = np.zeros_like(inner)
        border_rows, inner_rows = np.flatnonzero(~inner), np.flatnonzero(inner)
        if border_rows.size:
            self._correct(part, ry, rx, q0, border_rows, np.arange(part.shape[1]))
        if inner_rows.size and self.border_x[rx].size:
            self._correct(part, ry, rx, q0, inner_rows, self.border_x[rx])


def _polyphase(x, kernel, stride, padding, out_size, normalize):
    """Transposed convolution of (H, W, C) x by a (dilated) kernel, cropped to out_size."""
    import cv2

    (sy, sx), (py, px), (ho, wo), c = stride, padding, out_size, x.shape[2]
    rows = _phases(ho, kernel.shape[0], sy, py)
    cols = _phases(wo, kernel.shape[1], sx, px)
    qy, qx = -(-ho // sy), -(-wo // sx)
    out = np.empty((qy * sy, qx * sx, c), np.float32)
    # out[q*sy + ry, j*sx + rx] is view[q, ry, j, rx*c:(rx+1)*c]
    view = out.reshape(qy, sy, qx, sx * c)
    pieces = {
        (ry, rx): kernel[by::sy, bx::sx][::-1, ::-1].copy()
        for ry, (_, by, ty) in enumerate(rows)
        for rx, (_, bx, tx) in enumerate(cols)
        if ty and tx
    }
    fix = _BorderWeights(x.shape[:2], kernel, stride, padding, rows, cols, (qy, qx), pieces) if normalize else None
    tallest = max([ty for _, _, ty in rows] + [1])
    widest = max([tx for _, _, tx in cols] + [1])
    strip = max(1, min(qy, _STRIP_BYTES // (4 * c * (qx + widest))))

    def band(q_start, q_stop):
        buffers = [np.empty((strip + tallest - 1, qx + widest - 1, c), np.float32) for _ in range(sx)]
        for q0 in range(q_start, q_stop, strip):
            q1 = min(q_stop, q0 + strip)
            for ry, (ay, _, ty) in enumerate(rows):
                parts = []
                for rx, (ax, _, tx) in enumerate(cols):
                    if (ry, rx) in pieces:
                        part = _correlate(x, pieces[ry, rx], (ay - ty + 1 + q0, q1 - q0), (ax - tx + 1, qx), buffers[rx])
                        if fix is not None:
                            fix(part, ry, rx, q0)
                    else:
                        part = buffers[rx][: q1 - q0, :qx]
                        part[...] = 0.0
                    parts.append(part)
                _interleave(parts, view[q0:q1, ry])

    threads = max(1, cv2.getNumThreads())
    if threads == 1 or out.size < _PARALLEL_MIN_VALUES:
        band(0, qy)
    else:
        edges = np.linspace(0, qy, min(qy, 4 * threads) + 1).astype(int)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(band, edges[:-1], edges[1:]))
    if out.shape[:2] != (ho, wo):
        out = np.ascontiguousarray(out[:ho, :wo])
    return out


def conv_transpose2d(
    pixels, kernel, stride=1, padding=0, output_padding=0, dilation=1, *, normalize_border=False,
    max_pixels=DEFAULT_MAX_PIXELS,
):
    """Transposed convolution with PyTorch's semantics, one kernel for every channel.

    ``out[o] = sum over i, j with i * stride + j * dilation = o + padding of
    x[i] * kernel[j]`` (per axis), for output rows/columns ``o`` in
    ``[0, conv_transpose2d_size(...))``; positions no input reaches are 0. This is
    ``torch.nn.functional.conv_transpose2d`` with weight ``kernel[None, None]``
    applied to each channel, and the adjoint of the strided correlation
    ``conv2d(y, kernel, stride, padding, dilation)``.

    Parameters
    ----------
    pixels : ndarray, (H, W) or (H, W, C)
        Input image; computed in float32.
    kernel : ndarray, (kh, kw)
        Weights, used as given (no flip, no normalisation).
    stride : int or (int, int), optional
        Spacing of the scattered kernel copies, >= 1.
    padding : int or (int, int), optional
        Rows and columns cropped from every side of the full result, >= 0.
    output_padding : int or (int, int), optional
        Rows and columns added at the bottom and right; smaller than the stride
        or the dilation.
    dilation : int or (int, int), optional
        Spacing of the kernel taps, >= 1.
    normalize_border : bool, optional
        Divide by the transposed convolution of an all-ones image (0 where that
        is 0), so that a flat image stays flat up to the borders and uneven
        overlap is evened out. With :func:`bilinear_kernel` this is bilinear
        interpolation with the edge sample repeated. Not part of PyTorch.
    max_pixels : int or None, optional
        Largest output, in pixels, computed (see :func:`check_pixel_limit`); None
        for no limit.

    Returns
    -------
    ndarray of float32
        (H_out, W_out) or (H_out, W_out, C) as the input.

    Raises
    ------
    ParameterError
        Kernel not 2-D or not finite, a parameter out of PyTorch's domain,
        ``normalize_border`` not a bool, or an output of more than ``max_pixels``
        pixels.
    InputError
        An invalid image (see :func:`.checks.as_image`: not (H, W) / (H, W, C), no
        pixels, NaN or infinite values), or a result beyond float32's range.

    Examples
    --------
    >>> conv_transpose2d(np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), stride=(1, 2))
    array([[3., 4., 6., 8.]], dtype=float32)
    """
    normalize_border = check_bool(normalize_border, "normalize_border")
    x, peak = _as_channels(pixels)
    kernel = as_kernel(kernel, "kernel", np.float32, error=ParameterError)
    stride, padding, output_padding, dilation = transposed_parameters(stride, padding, output_padding, dilation)
    size = conv_transpose2d_size(x.shape[:2], kernel.shape, stride, padding, output_padding, dilation)
    check_pixel_limit(size, max_pixels)
    kernel = _dilate(kernel, dilation)
    bound = _output_bound(peak, kernel, normalize_border)
    with np.errstate(over="ignore", invalid="ignore"):
        out = in_channel_groups(_polyphase, x, kernel, stride, padding, size, normalize_border)
    # Below half the range (a margin for the rounding of float32 sums) nothing can have overflowed.
    if bound > FLOAT32_MAX / 2 and not (np.isfinite(out.min()) and np.isfinite(out.max())):  # NaN propagates
        raise InputError(
            f"the transposed convolution leaves float32's range (magnitude up to {FLOAT32_MAX:.3g}): "
            f"input values reach {_peak(x):.3g} and the kernel's weights sum, in magnitude, to "
            f"{float(np.abs(kernel).sum(dtype=np.float64)):.3g}; scale the image or the kernel down"
        )
    return out.reshape(size + np.shape(pixels)[2:])


def _peak(x):
    return max(-float(x.min()), float(x.max()))


def _output_bound(peak, kernel, normalize_border):
    """An upper bound of the output's magnitude (inf when there is none to give cheaply).

    Each output value is a sum of inputs times kernel weights. Normalised at the border,
    a kernel of non-negative weights averages its inputs; with negative weights the
    normalising sums may be near 0 and the result unbounded.
    """
    if not normalize_border:
        return peak * float(np.abs(kernel).sum(dtype=np.float64))
    return peak if kernel.min() >= 0 else math.inf


def scaled_size(shape, scale):
    """(height, width) scaled by ``scale`` and rounded to the nearest integer (at least 1).

    Parameters
    ----------
    shape : (int, int)
        (height, width).
    scale : float or (float, float)
        Factor for both axes, or (rows, columns); finite and > 0.

    Returns
    -------
    (int, int)

    Raises
    ------
    ParameterError
        A scale that is not a finite number > 0.
    """
    scales = tuple(scale) if isinstance(scale, (tuple, list)) else (scale, scale)
    for s in scales:
        if not (isinstance(s, (int, float, np.integer, np.floating)) and math.isfinite(s) and s > 0):
            raise ParameterError(f"scale must be a finite number > 0, got {s!r}")
    # Sides beyond any pixel limit are capped so that they stay integers (1e308 * n is inf).
    return tuple(max(1, math.floor(min(n * s, 2.0**62) + 0.5)) for n, s in zip(shape, scales))


def _interpolate_axis(x, n_out, axis):
    """Linear interpolation along one axis with corner-aligned sample positions."""
    n_in = x.shape[axis]
    step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    position = np.arange(n_out) * step
    lower = np.minimum(np.floor(position).astype(np.intp), n_in - 1)
    upper = np.minimum(lower + 1, n_in - 1)
    shape = [1] * x.ndim
    shape[axis] = n_out
    fraction = (position - lower).astype(np.float32).reshape(shape)
    first = np.take(x, lower, axis=axis)
    return first + (np.take(x, upper, axis=axis) - first) * fraction


def resize_bilinear(pixels, size, *, align_corners=False, max_pixels=DEFAULT_MAX_PIXELS):
    """Bilinear interpolation to a given size.

    Parameters
    ----------
    pixels : ndarray, (H, W) or (H, W, C)
        Input image; computed in float32.
    size : (int, int)
        Output (height, width), each >= 1.
    align_corners : bool, optional
        False (default): half-pixel centres, edge sample repeated: equals
        ``cv2.resize(pixels, (width, height), interpolation=cv2.INTER_LINEAR)``
        and PyTorch ``interpolate(size=size, mode="bilinear")``. True: the corner
        pixels coincide (PyTorch ``align_corners=True``). Neither averages when
        shrinking.
    max_pixels : int or None, optional
        Largest output, in pixels, computed (see :func:`check_pixel_limit`); None
        for no limit.

    Returns
    -------
    ndarray of float32, (height, width) or (height, width, C)

    Raises
    ------
    ParameterError
        A size that is not a pair of integers >= 1 (ints or NumPy integers, as a
        tuple, list or array), of more than ``max_pixels`` pixels or of a side beyond
        OpenCV's 2**31 - 1; ``align_corners`` not a bool; ``max_pixels`` not None
        nor an integer >= 1.
    InputError
        An invalid image (see :func:`.checks.as_image`: not (H, W) / (H, W, C), no
        pixels, NaN or infinite values), or a result beyond float32's range (values
        near float32's largest are computed exactly, scaled by a power of two).
    """
    import cv2

    align_corners = check_bool(align_corners, "align_corners")
    array, peak = as_image(pixels, return_peak=True)
    height, width = check_size(size, "size")
    check_pixel_limit((height, width), max_pixels)
    _check_opencv_size((height, width))
    if align_corners:
        # first + (second - first) * fraction: the difference reaches twice the peak.
        exponent = range_exponent(2 * peak)
        out = _interpolate_axis(_interpolate_axis(scaled_down(array, exponent), height, 0), width, 1)
        return scaled_back(out, exponent, "bilinear interpolation")
    return _opencv_resize(array, peak, (height, width), cv2.INTER_LINEAR, "bilinear interpolation")


_OPENCV_MAX_SIDE = 2**31 - 1  # OpenCV's sizes are C ints


def _check_opencv_size(size):
    if max(size) > _OPENCV_MAX_SIDE:
        raise ParameterError(
            f"output of {size[1]}x{size[0]} pixels has a side beyond {_OPENCV_MAX_SIDE:,}, the largest OpenCV "
            "takes; lower the scale"
        )


def _opencv_resize(array, peak, size, interpolation, what):
    """cv2.resize of (H, W) or (H, W, C) ``array`` to ``size`` (height, width), never overflowing.

    OpenCV's intermediate values may reach twice the peak of the input and, where it
    shrinks by an integer factor (INTER_AREA; INTER_LINEAR by 2), the sum of a block
    before it is divided; where that could leave float32's range, the input is scaled
    down by a power of two first and the result back (see :func:`.checks.range_exponent`).
    """
    height, width = size
    block = -(-array.shape[0] // height) * -(-array.shape[1] // width)
    exponent = range_exponent(2 * block * peak)
    out = in_channel_groups(_cv_resize, scaled_down(array, exponent), (width, height), interpolation)
    return scaled_back(out.reshape(size + array.shape[2:]), exponent, what)


def _cv_resize(array, size, interpolation):
    """cv2.resize keeping a channel axis of length 1."""
    import cv2

    out = cv2.resize(array, size, interpolation=interpolation)
    return out.reshape(out.shape[:2] + array.shape[2:])


def downsample(pixels, factor, method="area"):
    """Shrink an image by an integer factor.

    The bottom rows and right columns that do not fill a ``factor`` x ``factor``
    block are dropped first; the output is (H // factor, W // factor).

    Parameters
    ----------
    pixels : ndarray, (H, W) or (H, W, C)
        Input image; computed in float32.
    factor : int
        Shrinking factor, >= 1.
    method : {"area", "max", "bilinear"}, optional
        ``area``: mean of each block (``cv2.resize`` INTER_AREA, PyTorch
        ``avg_pool2d(factor)``); ``max``: maximum of each block (``max_pool2d``);
        ``bilinear``: :func:`resize_bilinear` sampling at the block centres, no
        averaging beyond the central 2 x 2 (aliases).

    Returns
    -------
    ndarray of float32

    Raises
    ------
    ParameterError
        Factor < 1 or larger than the image, unknown method.
    InputError
        An invalid image (see :func:`.checks.as_image`: not (H, W) / (H, W, C), no
        pixels, NaN or infinite values), or a result beyond float32's range.
    """
    import cv2

    f = check_int(factor, "factor", 1)
    if method not in DOWNSAMPLE_METHODS:
        raise ParameterError(f"unknown downsampling method {method!r}; use one of {', '.join(DOWNSAMPLE_METHODS)}")
    array, peak = as_image(pixels, return_peak=True)
    height, width = array.shape[0] // f, array.shape[1] // f
    if height == 0 or width == 0:
        raise ParameterError(
            f"factor {f} is larger than the image ({array.shape[1]}x{array.shape[0]}); use a smaller --factor"
        )
    blocks = array[: height * f, : width * f]
    if method == "max":
        return blocks.reshape((height, f, width, f) + array.shape[2:]).max(axis=(1, 3))
    interpolation = cv2.INTER_LINEAR if method == "bilinear" else cv2.INTER_AREA
    return _opencv_resize(blocks, peak, (height, width), interpolation, "downsampling")


def check_pixel_limit(size, max_pixels):
    """Refuse an output of more than ``max_pixels`` pixels, before computing it.

    Parameters
    ----------
    size : (int, int)
        Output (height, width).
    max_pixels : int or None
        The limit, >= 1; None disables the check.

    Raises
    ------
    ParameterError
        More pixels than ``max_pixels``, or ``max_pixels`` not None nor an integer >= 1.
    """
    if max_pixels is None:
        return
    max_pixels = check_int(max_pixels, "max_pixels", 1)
    count = size[0] * size[1]
    if count > max_pixels:
        raise ParameterError(
            f"output of {size[1]}x{size[0]} = {count:,} pixels would exceed the limit of "
            f"{max_pixels:,}; lower the scale or raise --max-pixels"
        )

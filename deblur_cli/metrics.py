"""Image quality against a reference: PSNR, SSIM, maximum difference, differing pixels.

Conventions (README, DESIGN.md section 4):

- **Data range** ``R``: by default from the reference's dtype (255 for uint8, 65535 for
  uint16, 1.0 for float), in the units of the stored values; ``data_range`` overrides it.
- **PSNR** ``= 10 log10(R^2 / MSE)``, the MSE taken over all pixels and channels with
  float64 accumulation; identical images give ``inf``.
- **channel="y"**: the luma of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` and the
  super-resolution literature define it, ``Y = 16 + 65.481 r + 128.553 g + 24.966 b``
  for ``r, g, b`` in [0, 1] (the samples over their stored scale ``S``: 255, 65535 or
  1.0 by dtype), on the 0..255 scale, not rounded; expressed on the samples' own scale
  (``Y * S / 255``) like the other channels. ``data_range`` sets only the peak ``R``,
  not the luma. A grey image is its own luma.
- **crop_border=N** drops N pixels on every side before measuring (the super-resolution
  convention of ignoring the border of a scale-N result).
- **SSIM**: Wang et al. (2004) with an 11x11 Gaussian window of sigma 1.5 (truncated at
  3.5 sigma), K1 = 0.01, K2 = 0.03, population covariances, the mean over the pixels at
  least 5 from the edge; on colour images the mean over the channels. This is
  ``skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=R)``.
"""

import math

import numpy as np

from .choices import QUALITY_CHANNELS
from .errors import InputError, ParameterError

__all__ = [
    "psnr",
    "ssim",
    "max_abs_diff",
    "count_differing",
    "luma",
    "abs_diff_map",
    "quality",
    "SSIM_WINDOW",
]

_SIGMA = 1.5
_TRUNCATE = 3.5
_RADIUS = int(_TRUNCATE * _SIGMA + 0.5)  # as scipy.ndimage: 5, an 11-tap window
SSIM_WINDOW = 2 * _RADIUS + 1
"""Side of the SSIM window; smaller images (after cropping) have no SSIM."""

_K1, _K2 = 0.01, 0.03
_LUMA_OFFSET = 16.0
_LUMA_WEIGHTS = (65.481, 128.553, 24.966)  # BT.601 luma on the 0..255 scale, r,g,b in [0, 1]
_STRIP_ELEMENTS = 1 << 17  # samples per strip of the one-pass statistics


def _nominal_range(dtype, data_range=None):
    """The stored scale of samples of ``dtype``; for other dtypes ``data_range`` if given."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return float(np.iinfo(dtype).max)
    if dtype.kind == "f":
        return 1.0
    if data_range is not None:
        return float(data_range)
    raise ParameterError(
        f"cannot tell the data range of {dtype} samples; pass data_range explicitly"
    )


def _check_options(channel, crop_border, data_range):
    if channel not in QUALITY_CHANNELS:
        raise ParameterError(f"channel must be {' or '.join(map(repr, QUALITY_CHANNELS))}, got {channel!r}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ParameterError(f"crop_border must be an integer >= 0, got {crop_border!r}")
    if data_range is not None and not (0 < float(data_range) < math.inf):
        raise ParameterError(f"data_range must be a finite number > 0, got {data_range!r}")


def _describe(shape):
    size = f"{shape[1]}x{shape[0]}"
    if len(shape) == 2:
        return f"{size} grey"
    return f"{size} with {shape[2]} channels"


def _check_same_shape(reference, image):
    if reference.shape != image.shape:
        raise InputError(
            f"size differs: reference is {_describe(reference.shape)}, "
            f"image is {_describe(image.shape)}; compare images of the same size"
        )


def luma(values, scale):
    """BT.601 luma (Y of MATLAB ``rgb2ycbcr``) of RGB values on a [0, S] scale.

    Parameters
    ----------
    values : ndarray
        (H, W, 3) RGB samples in [0, ``scale``].
    scale : float
        The scale ``S`` the samples are stored in (255 for 8-bit values, 1.0 for
        float); not the peak of a metric, which may differ.

    Returns
    -------
    ndarray of float64
        (H, W) luma ``(16 S + 65.481 r + 128.553 g + 24.966 b) / 255`` with ``r, g, b``
        the samples, in [16 S / 255, 235 S / 255]; for 8-bit values exactly MATLAB's
        ``rgb2ycbcr`` Y before rounding.

    References
    ----------
    ITU-R Recommendation BT.601-7, section 2.5.3 (8-bit studio-range coding of Y).
    """
    values = np.asarray(values)
    if values.ndim != 3 or values.shape[2] != 3:
        raise ParameterError(
            f"channel 'y' needs RGB images (3 channels), got shape {values.shape}"
        )
    weights = np.asarray(_LUMA_WEIGHTS, dtype=np.float64)
    return (values.astype(np.float64, copy=False) @ weights + _LUMA_OFFSET * scale) / 255.0


def _measured(values, channel, crop_border, scale):
    """Crop, then reduce to luma if asked: the samples the metrics are taken over."""
    height, width = values.shape[:2]
    if 2 * crop_border >= min(height, width):
        raise ParameterError(
            f"cropping {crop_border} pixels from every side leaves nothing of a {width}x{height} image; "
            f"crop at most {(min(height, width) - 1) // 2}"
        )
    if crop_border:
        values = values[crop_border:height - crop_border, crop_border:width - crop_border]
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if channel == "y" and values.ndim == 3:
        return luma(values, scale)
    return values


def _prepare(reference, image, channel, crop_border, data_range, scale=None):
    """Measured samples of both arrays and the peak ``R``.

    ``scale`` is the stored scale ``S`` of the samples (by default from the reference's
    dtype); the luma is taken on it, and ``R`` defaults to it.
    """
    reference = np.asarray(reference)
    image = np.asarray(image)
    _check_options(channel, crop_border, data_range)
    _check_same_shape(reference, image)
    if scale is None:
        scale = _nominal_range(reference.dtype, data_range)
    return (
        _measured(reference, channel, crop_border, scale),
        _measured(image, channel, crop_border, scale),
        scale if data_range is None else float(data_range),
    )


def _pixel_max(abs_difference):
    """Largest absolute difference at each pixel, over the channels (a new array)."""
    if abs_difference.ndim == 2:
        return abs_difference.copy()
    largest = abs_difference[..., 0].copy()
    for channel in range(1, abs_difference.shape[2]):  # faster than max(axis=2) on a short axis
        np.maximum(largest, abs_difference[..., channel], out=largest)
    return largest


def _psnr_from_mse(mse, data_range):
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(data_range**2 / mse))


def _gaussian_window():
    x = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / _SIGMA) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def _ssim_slab(a, b, data_range, centre, buffers, kernel):
    """The SSIM index map of rows of (H, W) or (H, W, C) samples, in six buffers.

    With s = a + b and d = a - b, 2 mu_a mu_b = (mu_s^2 - mu_d^2) / 2,
    mu_a^2 + mu_b^2 = (mu_s^2 + mu_d^2) / 2, 2 cov = (var_s - var_d) / 2 and
    var_a + var_b = (var_s + var_d) / 2: four windowed means instead of five. s is
    centred on ``centre``, the mid-range of a + b, so that E[s^2] - E[s]^2 loses little
    to cancellation; d needs no centring. The buffers' dtype sets the precision (see
    :func:`_statistics`). Every step writes into a buffer: fresh arrays would cost more
    in page faults than the arithmetic.
    """
    import cv2

    s, d, mu_s, mu_d, var_s, var_d = buffers

    def window_mean(source, destination):
        return cv2.sepFilter2D(source, -1, kernel, kernel, dst=destination, borderType=cv2.BORDER_REFLECT)

    dtype = s.dtype
    offset = dtype.type(centre)
    c1 = dtype.type(2 * (_K1 * data_range) ** 2)  # both sides of the ratio carry a factor 2
    c2 = dtype.type(2 * (_K2 * data_range) ** 2)
    np.add(a, b, out=s, dtype=dtype)
    s -= offset
    np.subtract(a, b, out=d, dtype=dtype)
    mu_s = window_mean(s, mu_s)
    mu_d = window_mean(d, mu_d)
    var_s = window_mean(np.square(s, out=s), var_s)
    var_d = window_mean(np.square(d, out=d), var_d)
    var_s -= np.square(mu_s, out=s)
    var_d -= np.square(mu_d, out=d)  # d now holds mu_d^2
    structure = np.subtract(var_s, var_d, out=s)  # 2 (2 cov + C2)
    structure += c2
    var_s += var_d  # 2 (var_a + var_b + C2)
    var_s += c2
    mu_s += offset  # back to the uncentred mean for the luminance term
    np.square(mu_s, out=mu_s)
    luminance = np.subtract(mu_s, d, out=var_d)  # 2 (2 mu_a mu_b + C1)
    luminance += c1
    mu_s += d  # 2 (mu_a^2 + mu_b^2 + C1)
    mu_s += c1
    luminance *= structure
    mu_s *= var_s
    luminance /= mu_s
    return luminance


def _statistics(a, b, data_range, *, differences=True, similarity=True, tolerance=0.0):
    """One pass over two measured arrays, in horizontal strips.

    Returns
    -------
    dict
        ``mse``, ``max_abs_diff``, ``differing_pixels`` (with ``differences``) and
        ``ssim`` (with ``similarity``; None for images under the window size).

    Notes
    -----
    Strips keep the working buffers small (cache-resident, reused, no page faults)
    whatever the image size. Differences are taken in float64, exact for integer
    and float32 samples; the squares of integer differences sum exactly, so the MSE of
    integer images is the same number as a whole-array mean. SSIM strips overlap by
    the window radius; its mean runs over the pixels at least that far from the edge.
    """
    height, width = a.shape[:2]
    per_row = a.size // height
    r = _RADIUS
    rows = max(16, _STRIP_ELEMENTS // per_row)
    similarity = similarity and min(height, width) >= SSIM_WINDOW
    if differences:
        scratch = np.empty((rows, *a.shape[1:]), np.float64)
    if similarity:
        low, high = float(min(a.min(), b.min())), float(max(a.max(), b.max()))
        # Variances come from E[s^2] - E[s]^2 with s = a + b centred on its mid-range. While the
        # samples lie near the data range [0, R], float32 keeps them to ~1e-7 R^2, far below
        # C2 = 2 (0.03 R)^2; samples far outside it (a range given too small) need float64.
        near = -data_range / 2 <= low and high <= 1.5 * data_range
        dtype = np.float32 if near else np.float64
        centre = low + high
        buffers = [np.empty((rows + 2 * r, *a.shape[1:]), dtype) for _ in range(6)]
        kernel = _gaussian_window().astype(dtype)
    squares = largest = ssim_sum = 0.0
    differing = 0
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        if differences:
            difference = np.subtract(a[top:bottom], b[top:bottom], out=scratch[:bottom - top], dtype=np.float64)
            np.abs(difference, out=difference)
            pixel_max = _pixel_max(difference)
            largest = max(largest, float(pixel_max.max()))
            differing += int(np.count_nonzero(pixel_max > tolerance))
            squares += float(np.square(difference, out=difference).sum())
        first, last = max(top, r), min(bottom, height - r)  # SSIM rows of this strip
        if similarity and first < last:
            count = last - first + 2 * r
            index = _ssim_slab(a[first - r:last + r], b[first - r:last + r], data_range, centre,
                               [buffer[:count] for buffer in buffers], kernel)
            ssim_sum += float(index[r:-r, r:-r].sum(dtype=np.float64))
    result = {}
    if differences:
        result.update(mse=squares / a.size, max_abs_diff=largest, differing_pixels=differing)
    if similarity:
        result["ssim"] = ssim_sum / ((height - 2 * r) * (width - 2 * r) * (per_row // width))
    else:
        result["ssim"] = None
    return result


def psnr(reference, image, *, data_range=None, channel="all", crop_border=0):
    """Peak signal-to-noise ratio of an image against a reference, in dB.

    Parameters
    ----------
    reference, image : ndarray
        Arrays of the same shape, (H, W) or (H, W, C), any of uint8, uint16, float.
    data_range : float, optional
        Peak value ``R``; by default from the reference's dtype (255, 65535, 1.0).
    channel : {"all", "y"}, optional
        Measure all channels, or the BT.601 luma of RGB images.
    crop_border : int, optional
        Pixels dropped on every side first.

    Returns
    -------
    float
        ``10 log10(R^2 / MSE)``; ``inf`` when the measured samples are identical.

    Raises
    ------
    InputError
        The shapes differ.
    ParameterError
        An option is out of its domain, or ``crop_border`` leaves nothing.

    References
    ----------
    .. [1] https://en.wikipedia.org/wiki/Peak_signal-to-noise_ratio
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, data_range)
    return _psnr_from_mse(_statistics(a, b, data_range, similarity=False)["mse"], data_range)


def ssim(reference, image, *, data_range=None, channel="all", crop_border=0):
    """Mean structural similarity index of an image against a reference.

    Parameters
    ----------
    reference, image : ndarray
        Arrays of the same shape, (H, W) or (H, W, C), at least 11x11 after cropping.
    data_range : float, optional
        ``R`` in the constants ``(K1 R)^2`` and ``(K2 R)^2``; by default from the
        reference's dtype (255, 65535, 1.0).
    channel : {"all", "y"}, optional
        Mean over all channels, or the BT.601 luma of RGB images.
    crop_border : int, optional
        Pixels dropped on every side first.

    Returns
    -------
    float
        In [-1, 1]; 1 for identical images.

    Raises
    ------
    InputError
        The shapes differ, or the image is smaller than the 11x11 window.
    ParameterError
        An option is out of its domain.

    References
    ----------
    .. [1] Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli, E. P. (2004). Image
       quality assessment: from error visibility to structural similarity. IEEE
       Transactions on Image Processing, 13(4), 600-612. :DOI:`10.1109/TIP.2003.819861`
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, data_range)
    value = _statistics(a, b, data_range, differences=False)["ssim"]
    if value is None:
        raise InputError(
            f"image of {a.shape[1]}x{a.shape[0]} pixels (after cropping) is smaller than "
            f"the {SSIM_WINDOW}x{SSIM_WINDOW} SSIM window"
        )
    return value


def max_abs_diff(reference, image, *, channel="all", crop_border=0):
    """Largest absolute difference between two arrays, in their units.

    Parameters
    ----------
    reference, image : ndarray
        Arrays of the same shape.
    channel : {"all", "y"}, optional
        Over all channels, or over the BT.601 luma (scaled as the reference's dtype).
    crop_border : int, optional
        Pixels dropped on every side first.

    Returns
    -------
    float
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, None)
    return _statistics(a, b, data_range, similarity=False)["max_abs_diff"]


def count_differing(reference, image, tolerance=0.0, *, channel="all", crop_border=0):
    """Number of pixels where some channel differs by more than ``tolerance``.

    Parameters
    ----------
    reference, image : ndarray
        Arrays of the same shape.
    tolerance : float, optional
        Largest difference (in the arrays' units) that still counts as equal.
    channel : {"all", "y"}, optional
        Over all channels, or over the BT.601 luma.
    crop_border : int, optional
        Pixels dropped on every side first.

    Returns
    -------
    int
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, None)
    return _statistics(a, b, data_range, similarity=False, tolerance=tolerance)["differing_pixels"]


def _values(image, scale):
    """An Image's colour samples as stored, float32 on the [0, ``scale``] scale.

    Integer-sourced images are clipped and rounded to their bit depth as writing them
    does (so a processed result is measured as its file will hold it); float images
    are taken as they are.
    """
    pixels = image.pixels
    if image.source_dtype.kind == "u":
        top = np.float32(np.iinfo(image.source_dtype).max)
        stored = np.clip(pixels, 0.0, 1.0)
        stored *= top
        np.rint(stored, out=stored)
        if scale != top:
            stored *= np.float32(scale / top)
        return stored
    return pixels if scale == 1.0 else pixels * np.float32(scale)


def abs_diff_map(reference, image, *, data_range=None):
    """Per-pixel largest absolute channel difference of two Images, as a fraction of R.

    Parameters
    ----------
    reference, image : Image
        Images of the same size and channel count.
    data_range : float, optional
        ``R`` in the units of the reference's stored values; by default from its dtype.

    Returns
    -------
    ndarray of float32
        (H, W), ``max_c |A - B| / R``: 0 where equal, 1 for a full-range difference.
    """
    scale = _nominal_range(reference.source_dtype)
    a, b = _values(reference, scale), _values(image, scale)
    _check_same_shape(a, b)
    data_range = scale if data_range is None else float(data_range)
    difference = np.subtract(a, b, dtype=np.float64)
    return (_pixel_max(np.abs(difference, out=difference)) / data_range).astype(np.float32)


def quality(reference, image, *, channel="all", crop_border=0, data_range=None, tolerance=0.0):
    """Every metric of an Image against a reference Image, ready for a report.

    Both images are measured on the reference's stored scale (0..255 for 8-bit, 0..65535
    for 16-bit, as is for float): integer-sourced images by their stored integer values
    (a processed result clipped and rounded as writing it does), float images as they
    are. Alpha is ignored.

    Parameters
    ----------
    reference, image : Image
        The expected image and the one under test; same size and channel count.
    channel : {"all", "y"}, optional
        See :func:`psnr`.
    crop_border : int, optional
        Pixels dropped on every side first.
    data_range : float, optional
        ``R`` in the units of the reference's stored values; by default from its dtype.
    tolerance : float, optional
        Differences up to this (in the same units) do not count in ``differing_pixels``.

    Returns
    -------
    dict
        ``psnr`` (float, None when identical or undefined), ``identical`` (bool: the
        measured samples are equal), ``ssim`` (float, None when the image is smaller
        than the 11x11 window), ``max_abs_diff`` (float), ``differing_pixels`` (int),
        ``data_range`` (float). JSON-safe: no inf or NaN.

    Raises
    ------
    InputError
        The sizes or channel counts differ.
    ParameterError
        An option is out of its domain.
    """
    scale = _nominal_range(reference.source_dtype)
    a, b, data_range = _prepare(
        _values(reference, scale), _values(image, scale), channel, crop_border, data_range, scale
    )
    measured = _statistics(a, b, data_range, tolerance=tolerance)
    value = _psnr_from_mse(measured["mse"], data_range)
    similarity = measured["ssim"]
    return {
        "psnr": value if math.isfinite(value) else None,
        "identical": measured["mse"] == 0,
        "ssim": similarity if similarity is not None and math.isfinite(similarity) else None,
        "max_abs_diff": measured["max_abs_diff"],
        "differing_pixels": measured["differing_pixels"],
        "data_range": data_range,
    }

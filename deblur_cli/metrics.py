"""Image quality against a reference: PSNR, SSIM, maximum difference, differing pixels.

Conventions (README, DESIGN.md section 4):

- **Data range** ``R``: by default from the reference's dtype (255 for uint8, 65535 for
  uint16, 1.0 for float), in the units of the stored values; ``data_range`` overrides it.
- **PSNR** ``= 10 log10(R^2 / MSE)``, the MSE taken over all pixels and channels with
  float64 accumulation; identical images give ``inf``.
- **channel="y"**: the luma of ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` and the
  super-resolution literature define it, ``Y = 16 + 65.481 r + 128.553 g + 24.966 b``
  for ``r, g, b`` in [0, 1], on the 0..255 scale, not rounded; expressed in the units of
  ``R`` (``Y * R / 255``), so the peak stays ``R``. A grey image is its own luma.
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
_CHANNELS = ("all", "y")


def _nominal_range(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        return float(np.iinfo(dtype).max)
    if dtype.kind == "f":
        return 1.0
    raise ParameterError(
        f"cannot tell the data range of {dtype} samples; pass data_range explicitly"
    )


def _check_options(channel, crop_border, data_range):
    if channel not in _CHANNELS:
        raise ParameterError(f"channel must be 'all' or 'y', got {channel!r}")
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


def luma(values, data_range):
    """BT.601 luma (Y of MATLAB ``rgb2ycbcr``) of RGB values on a [0, R] scale.

    Parameters
    ----------
    values : ndarray
        (H, W, 3) RGB samples in [0, ``data_range``].
    data_range : float
        The scale ``R`` of the samples (255 for 8-bit values).

    Returns
    -------
    ndarray of float64
        (H, W) luma ``(16 R + 65.481 r + 128.553 g + 24.966 b) / 255`` with ``r, g, b``
        the samples, in [16 R / 255, 235 R / 255]; for 8-bit values exactly MATLAB's
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
    return (values.astype(np.float64, copy=False) @ weights + _LUMA_OFFSET * data_range) / 255.0


def _measured(values, channel, crop_border, data_range):
    """Crop, then reduce to luma if asked: the samples the metrics are taken over."""
    height, width = values.shape[:2]
    if 2 * crop_border >= min(height, width):
        raise ParameterError(
            f"crop_border {crop_border} leaves nothing of a {width}x{height} image; "
            f"use at most {(min(height, width) - 1) // 2}"
        )
    if crop_border:
        values = values[crop_border:height - crop_border, crop_border:width - crop_border]
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[..., 0]
    if channel == "y" and values.ndim == 3:
        return luma(values, data_range)
    return values


def _prepare(reference, image, channel, crop_border, data_range):
    reference = np.asarray(reference)
    image = np.asarray(image)
    _check_options(channel, crop_border, data_range)
    _check_same_shape(reference, image)
    data_range = _nominal_range(reference.dtype) if data_range is None else float(data_range)
    return (
        _measured(reference, channel, crop_border, data_range),
        _measured(image, channel, crop_border, data_range),
        data_range,
    )


def _difference(a, b):
    return a.astype(np.float64) - b.astype(np.float64)


def _mse(difference):
    return float(np.mean(np.square(difference)))


def _pixel_max(difference):
    """Largest absolute difference at each pixel, over the channels."""
    difference = np.abs(difference)
    if difference.ndim == 2:
        return difference
    largest = difference[..., 0].copy()
    for channel in range(1, difference.shape[2]):  # faster than max(axis=2) on a short axis
        np.maximum(largest, difference[..., channel], out=largest)
    return largest


def _psnr_from_mse(mse, data_range):
    if mse == 0:
        return math.inf
    return float(10.0 * np.log10(data_range**2 / mse))


def _gaussian_window():
    x = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / _SIGMA) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def _ssim_map_mean(a, b, data_range):
    """Mean SSIM over the interior of (H, W) or (H, W, C) arrays (all channels pooled)."""
    import cv2

    kernel = _gaussian_window()

    def window_mean(x):
        return cv2.sepFilter2D(x, -1, kernel, kernel, borderType=cv2.BORDER_REFLECT)

    # float32 throughout; centring on R/2 keeps the E[x^2] - E[x]^2 cancellation small
    # (the result stays within ~1e-5 of a float64 computation for data in [0, R]).
    # The arithmetic is in place: it costs as much as the filtering otherwise.
    centre = np.float32(data_range / 2)
    x = np.subtract(a, centre, dtype=np.float32)
    y = np.subtract(b, centre, dtype=np.float32)
    mu_x = window_mean(x)
    mu_y = window_mean(y)
    var_x = window_mean(x * x)
    var_x -= np.square(mu_x)
    var_y = window_mean(y * y)
    var_y -= np.square(mu_y)
    cov = window_mean(np.multiply(x, y, out=x))
    mu_xy = mu_x * mu_y
    cov -= mu_xy
    mu_x += centre  # the SSIM luminance term needs the uncentred means
    mu_y += centre
    c1 = np.float32((_K1 * data_range) ** 2)
    c2 = np.float32((_K2 * data_range) ** 2)
    index = np.multiply(mu_x, mu_y, out=mu_xy)  # (2 mu_x mu_y + C1)(2 cov + C2)
    index *= 2
    index += c1
    cov *= 2
    cov += c2
    index *= cov
    denominator = np.square(mu_x, out=mu_x)  # (mu_x^2 + mu_y^2 + C1)(var_x + var_y + C2)
    denominator += np.square(mu_y, out=mu_y)
    denominator += c1
    var_x += var_y
    var_x += c2
    denominator *= var_x
    index /= denominator
    inner = index[_RADIUS:-_RADIUS, _RADIUS:-_RADIUS]
    return float(inner.mean(dtype=np.float64))


def _ssim_prepared(a, b, data_range):
    if min(a.shape[:2]) < SSIM_WINDOW:
        return None
    return _ssim_map_mean(a, b, data_range)


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
    return _psnr_from_mse(_mse(_difference(a, b)), data_range)


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
    value = _ssim_prepared(a, b, data_range)
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
    a, b, _ = _prepare(reference, image, channel, crop_border, None)
    return float(_pixel_max(_difference(a, b)).max())


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
    a, b, _ = _prepare(reference, image, channel, crop_border, None)
    return int(np.count_nonzero(_pixel_max(_difference(a, b)) > tolerance))


def _values(image, scale):
    """An Image's colour samples as stored, float32 on the [0, ``scale``] scale.

    Integer-sourced images are clipped and rounded to their bit depth as writing them
    does (so a processed result is measured as its file will hold it); float images
    are taken as they are.
    """
    pixels = image.pixels
    if image.source_dtype.kind == "u":
        top = np.float32(np.iinfo(image.source_dtype).max)
        stored = np.rint(np.clip(pixels, 0.0, 1.0) * top)
        return stored if scale == top else stored * np.float32(scale / top)
    return pixels.astype(np.float32) if scale == 1.0 else pixels * np.float32(scale)


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
    return (_pixel_max(_difference(a, b)) / data_range).astype(np.float32)


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
        _values(reference, scale), _values(image, scale), channel, crop_border,
        scale if data_range is None else data_range,
    )
    difference = _difference(a, b)
    mse = _mse(difference)
    value = _psnr_from_mse(mse, data_range)
    similarity = _ssim_prepared(a, b, data_range)
    difference = _pixel_max(difference)
    return {
        "psnr": value if math.isfinite(value) else None,
        "identical": mse == 0,
        "ssim": similarity if similarity is not None and math.isfinite(similarity) else None,
        "max_abs_diff": float(difference.max()),
        "differing_pixels": int(np.count_nonzero(difference > tolerance)),
        "data_range": data_range,
    }

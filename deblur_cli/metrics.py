"""Image quality against a reference: PSNR, SSIM, maximum difference, differing pixels.

Conventions (README, DESIGN.md section 4):

- **Data range** ``R``: by default from the reference's dtype (255 for uint8, 65535 for
  uint16, 1.0 for float), in the units of the stored values; ``data_range`` overrides it.
  Signed integers and bools have no such range: PSNR and SSIM need ``data_range`` for
  them; the differences need none.
- **Arrays**: (H, W) or (H, W, C) of real numbers; (H, W, 1) is grey, and pairs with (H, W).
- **PSNR** ``= 10 log10(R^2 / MSE)``, the MSE taken over all pixels and channels with
  float64 accumulation; identical images give ``inf``. It is computed as
  ``20 log10 R - 10 log10 MSE``, finite for any finite ``R > 0``.
- **Samples** must be finite and within float32's range (as images hold them); any
  finite ``R > 0`` is accepted.
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
  use_sample_covariance=False, data_range=R)``, except that it stays finite and within
  [-1, 1] for any ``R``: it tends to 1 as ``R`` grows far past the samples, and to its
  form without constants (``C1 = C2 = 0``) as ``R`` shrinks far below them.
"""

import math

import numpy as np

from .checks import FLOAT32_MAX, check_real, image_array
from .choices import QUALITY_CHANNELS
from .errors import InputError, ParameterError
from .images import Image
from .opencv import MAX_CHANNELS

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
_FLOAT32_DATA_RANGES = (1e-15, 1e15)  # R whose SSIM float32 holds without overflow or denormals


def _nominal_range(dtype, data_range=None):
    """The stored scale of unsigned or float samples; for other dtypes ``data_range`` if given."""
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


def _check_options(channel, crop_border, data_range, tolerance=0.0):
    if channel not in QUALITY_CHANNELS:
        raise ParameterError(f"channel must be {' or '.join(map(repr, QUALITY_CHANNELS))}, got {channel!r}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ParameterError(f"crop_border must be an integer >= 0, got {crop_border!r}")
    if data_range is not None and not 0 < check_real(data_range, "data_range", "a finite number > 0") < math.inf:
        raise ParameterError(f"data_range must be a finite number > 0, got {data_range!r}")
    if not 0 <= check_real(tolerance, "tolerance", "a finite number >= 0") < math.inf:
        raise ParameterError(f"tolerance must be a finite number >= 0, got {tolerance!r}")


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
    if channel == "y" and values.ndim == 3:
        return luma(values, scale)
    return values


def _grey(values):
    """(H, W, 1) samples as (H, W): one channel is grey, and pairs with grey."""
    return values[..., 0] if values.ndim == 3 and values.shape[2] == 1 else values


def _checked(values, role):
    """An Image as it is; an array (or array_like) of real numbers, (H, W, 1) taken as (H, W).

    Only the shape and dtype are checked here: :func:`_extent` finds NaN and infinities
    in the pass it makes anyway.
    """
    return values if isinstance(values, Image) else _grey(image_array(values, what=role))


def _prepare(reference, image, channel, crop_border, data_range, scale=None, tolerance=0.0, peak=True):
    """Measured samples of both arrays and the peak ``R``.

    ``scale`` is the stored scale ``S`` of the samples (by default from the reference's
    dtype); the luma is taken on it, and ``R`` defaults to it. Without ``peak`` (for
    differences, which need no ``R``) samples of any real dtype are measured: the luma's
    offset ``16 S / 255``, the only use of ``S`` then, cancels in a difference.
    """
    reference = _checked(reference, "reference")
    image = _checked(image, "image")
    _check_options(channel, crop_border, data_range, tolerance)
    _check_same_shape(reference, image)
    if scale is None:
        scale = _nominal_range(reference.dtype, data_range if peak else 1.0)
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


def _psnr(mean_square_db, data_range):
    """``10 log10(R^2 / MSE)`` as ``20 log10 R - 10 log10 MSE``: R^2 may not fit a float64."""
    if mean_square_db is None:
        return math.inf
    return 20.0 * math.log10(data_range) - mean_square_db


def _mean_square_db(squares, size, largest, a, b):
    """``10 log10 MSE`` (None when every difference is 0) from the float64 sum of squares.

    When the largest difference is under 2^-400 (~4e-121; float64 samples only), the
    squares near or pass float64's smallest normal number and lose their precision or
    vanish; the MSE is then taken again on the differences scaled by a power of two.
    """
    if largest == 0:
        return None
    if largest >= 2.0**-400:
        return 10.0 * math.log10(squares / size)
    exponent = math.frexp(largest)[1]
    scaled = np.ldexp(np.subtract(a, b, dtype=np.float64), -exponent)
    return 10.0 * math.log10(float(np.square(scaled).mean())) + 20.0 * exponent * math.log10(2.0)


def _extent(values, role):
    """Lowest and highest sample; refuses NaN, infinity and samples beyond float32's range."""
    low, high = float(values.min()), float(values.max())
    if not -FLOAT32_MAX <= low <= high <= FLOAT32_MAX:  # NaN fails every comparison
        raise InputError(
            f"the {role} holds samples from {low:g} to {high:g}; measure finite samples "
            f"within float32's range (magnitude up to {FLOAT32_MAX:.3g})"
        )
    return low, high


def _ssim_frame(low, high, data_range):
    """How SSIM is computed for samples in [``low``, ``high``] and peak ``R``.

    Returns
    -------
    tuple
        ``(dtype, centre, scale, c1, c2)``: the working precision; the mid-range of
        a + b; the power of two the centred sums and differences are multiplied by;
        the constants ``2 (K1 R)^2``, ``2 (K2 R)^2`` on that scale.

    Notes
    -----
    Variances come from E[s^2] - E[s]^2. While the samples lie near the data range
    [0, R] and R is moderate, float32 keeps them to ~1e-7 R^2, far below C2 and free of
    overflow and denormals; otherwise float64, on samples and R scaled by a power of two
    (exactly) so that the largest of them is in [0.5, 1): no square overflows, and the
    constants fit unless R is some 1e-150 of the samples or less, where they are held at
    float64's smallest normal number (the limit C -> 0 is then reached).
    """
    near = -data_range / 2 <= low and high <= 1.5 * data_range
    if near and _FLOAT32_DATA_RANGES[0] <= data_range <= _FLOAT32_DATA_RANGES[1]:
        dtype, scale = np.float32, 1.0
    else:
        exponent = max(math.frexp(max(data_range, -low, high))[1], -1021)  # 2^1021 fits a float64
        dtype, scale = np.float64, math.ldexp(1.0, -exponent)
    peak = data_range * scale
    tiny = float(np.finfo(dtype).tiny)
    c1, c2 = (max(2 * (k * peak) ** 2, tiny) for k in (_K1, _K2))  # the ratios carry a factor 2
    return dtype, low + high, scale, c1, c2


def _gaussian_window(dtype):
    x = np.arange(-_RADIUS, _RADIUS + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (x / _SIGMA) ** 2)
    return (kernel / kernel.sum()).astype(dtype)


def _ssim_slab(a, b, frame, buffers, kernel):
    """The SSIM index map of rows of (H, W) or (H, W, C) samples, in six buffers.

    With s = a + b and d = a - b, 2 mu_a mu_b = (mu_s^2 - mu_d^2) / 2,
    mu_a^2 + mu_b^2 = (mu_s^2 + mu_d^2) / 2, 2 cov = (var_s - var_d) / 2 and
    var_a + var_b = (var_s + var_d) / 2: four windowed means instead of five. s is
    centred on the mid-range of a + b so that E[s^2] - E[s]^2 loses little to
    cancellation; d needs no centring. ``frame`` (see :func:`_ssim_frame`) sets the
    precision, the scale and the constants. In float64, variances that rounding leaves
    below 0 are taken as 0, so that each of the two ratios lies in [-1, 1] with a
    positive denominator even where the constants are negligible; in float32 the
    constants outweigh the rounding. Every step writes into a buffer: fresh arrays
    would cost more in page faults than the arithmetic.
    """
    import cv2

    s, d, mu_s, mu_d, var_s, var_d = buffers

    def window_mean(source, destination):
        return cv2.sepFilter2D(source, -1, kernel, kernel, dst=destination, borderType=cv2.BORDER_REFLECT)

    dtype, centre, scale, c1, c2 = frame
    c1, c2 = dtype(c1), dtype(c2)
    np.add(a, b, out=s, dtype=dtype)
    s -= dtype(centre)
    np.subtract(a, b, out=d, dtype=dtype)
    if scale != 1:
        s *= dtype(scale)
        d *= dtype(scale)
    mu_s = window_mean(s, mu_s)
    mu_d = window_mean(d, mu_d)
    var_s = window_mean(np.square(s, out=s), var_s)
    var_d = window_mean(np.square(d, out=d), var_d)
    var_s -= np.square(mu_s, out=s)
    var_d -= np.square(mu_d, out=d)  # d now holds mu_d^2
    if dtype is np.float64:  # where rounding may outweigh the constants (see _ssim_frame)
        np.maximum(var_s, 0, out=var_s)
        np.maximum(var_d, 0, out=var_d)
    structure = np.subtract(var_s, var_d, out=s)  # 2 (2 cov + C2)
    structure += c2
    var_s += var_d  # 2 (var_a + var_b + C2)
    var_s += c2
    structure /= var_s
    mu_s += dtype(centre * scale)  # back to the uncentred mean for the luminance term
    np.square(mu_s, out=mu_s)
    luminance = np.subtract(mu_s, d, out=var_d)  # 2 (2 mu_a mu_b + C1)
    luminance += c1
    mu_s += d  # 2 (mu_a^2 + mu_b^2 + C1)
    mu_s += c1
    luminance /= mu_s
    luminance *= structure
    return luminance


def _statistics(a, b, data_range, *, differences=True, similarity=True, tolerance=0.0):
    """One pass over two measured arrays, in horizontal strips.

    Returns
    -------
    dict
        ``mse_db`` (``10 log10 MSE``, None when identical), ``max_abs_diff``,
        ``differing_pixels`` (with ``differences``) and ``ssim`` (with ``similarity``;
        None for images under the window size).

    Raises
    ------
    InputError
        Samples are NaN, infinite or beyond float32's range.

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
    if similarity and a.ndim == 3 and a.shape[2] > MAX_CHANNELS:  # OpenCV filters that many at most
        result = _statistics(a, b, data_range, differences=differences, similarity=False, tolerance=tolerance)
        groups = [np.s_[..., i : i + MAX_CHANNELS] for i in range(0, a.shape[2], MAX_CHANNELS)]
        means = [_statistics(a[group], b[group], data_range, differences=False)["ssim"] for group in groups]
        result["ssim"] = sum(mean * a[group].shape[2] for mean, group in zip(means, groups)) / a.shape[2]
        return result
    (low_a, high_a), (low_b, high_b) = _extent(a, "reference"), _extent(b, "image")
    if differences:
        scratch = np.empty((rows, *a.shape[1:]), np.float64)
    if similarity:
        frame = _ssim_frame(min(low_a, low_b), max(high_a, high_b), data_range)
        buffers = [np.empty((rows + 2 * r, *a.shape[1:]), frame[0]) for _ in range(6)]
        kernel = _gaussian_window(frame[0])
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
            index = _ssim_slab(a[first - r:last + r], b[first - r:last + r], frame,
                               [buffer[:count] for buffer in buffers], kernel)
            ssim_sum += float(index[r:-r, r:-r].sum(dtype=np.float64))
    result = {}
    if differences:
        result.update(mse_db=_mean_square_db(squares, a.size, largest, a, b), max_abs_diff=largest,
                      differing_pixels=differing)
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
        Arrays of the same shape, (H, W) or (H, W, C) ((H, W, 1) is grey), of unsigned
        integers or floats; signed integers and bools need ``data_range``.
    data_range : float, optional
        Peak value ``R``; by default from the reference's dtype (255 for uint8, 65535
        for uint16, 1.0 for float); required for signed integers and bools.
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
        An array is not 2-D or 3-D, has no pixels or channels or holds no real numbers,
        the shapes differ, or samples are not finite or beyond float32's range.
    ParameterError
        An option is out of its domain, ``crop_border`` leaves nothing, or signed or
        bool samples come without ``data_range``.

    References
    ----------
    .. [1] https://en.wikipedia.org/wiki/Peak_signal-to-noise_ratio
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, data_range)
    return _psnr(_statistics(a, b, data_range, similarity=False)["mse_db"], data_range)


def ssim(reference, image, *, data_range=None, channel="all", crop_border=0):
    """Mean structural similarity index of an image against a reference.

    Parameters
    ----------
    reference, image : ndarray
        Arrays of the same shape, (H, W) or (H, W, C), at least 11x11 after cropping;
        dtypes as in :func:`psnr`.
    data_range : float, optional
        ``R`` in the constants ``(K1 R)^2`` and ``(K2 R)^2``; by default from the
        reference's dtype (255, 65535, 1.0); required for signed integers and bools.
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
        An array is not an image of real numbers (as in :func:`psnr`), the shapes
        differ, the image is smaller than the 11x11 window, or samples are not finite
        or beyond float32's range.
    ParameterError
        An option is out of its domain, ``crop_border`` leaves nothing, or signed or
        bool samples come without ``data_range``.

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
        Arrays of the same shape, (H, W) or (H, W, C) ((H, W, 1) is grey), of any real
        dtype (bool, integer or float).
    channel : {"all", "y"}, optional
        Over all channels, or over the BT.601 luma (scaled as the reference's dtype).
    crop_border : int, optional
        Pixels dropped on every side first.

    Returns
    -------
    float

    Raises
    ------
    InputError
        An array is not 2-D or 3-D, has no pixels or channels or holds no real numbers,
        the shapes differ, or samples are not finite or beyond float32's range.
    ParameterError
        An option is out of its domain, or ``crop_border`` leaves nothing.
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, None, peak=False)
    return _statistics(a, b, data_range, similarity=False)["max_abs_diff"]


def count_differing(reference, image, tolerance=0.0, *, channel="all", crop_border=0):
    """Number of pixels where some channel differs by more than ``tolerance``.

    Parameters
    ----------
    reference, image : ndarray
        Arrays as in :func:`max_abs_diff`.
    tolerance : float, optional
        Largest difference (in the arrays' units) that still counts as equal; finite, >= 0.
    channel : {"all", "y"}, optional
        Over all channels, or over the BT.601 luma.
    crop_border : int, optional
        Pixels dropped on every side first.

    Returns
    -------
    int

    Raises
    ------
    InputError
        As :func:`max_abs_diff`.
    ParameterError
        An option (``tolerance`` included) is out of its domain, or ``crop_border``
        leaves nothing.
    """
    a, b, data_range = _prepare(reference, image, channel, crop_border, None, tolerance=tolerance, peak=False)
    return _statistics(a, b, data_range, similarity=False, tolerance=tolerance)["differing_pixels"]


def _stored_scale(reference, data_range):
    """The stored scale of the reference: by its source dtype for an Image, its dtype for an array.

    For an array of signed integers or bools, ``data_range`` (an error if None).
    """
    return _nominal_range(reference.source_dtype if isinstance(reference, Image) else reference.dtype, data_range)


def _values(image, scale):
    """An Image's colour samples as stored, float32 on the [0, ``scale``] scale; an array as it is.

    Integer-sourced images are clipped and rounded to their bit depth as writing them
    does (so a processed result is measured as its file will hold it); float images
    are taken as they are. An array (or array_like) holds its samples as stored, as
    :func:`psnr` takes them.
    """
    if not isinstance(image, Image):
        return image
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


def abs_diff_map(reference, image, *, data_range=None, gain=1.0):
    """Per-pixel largest absolute channel difference of two Images, amplified, saturated.

    Parameters
    ----------
    reference, image : Image or ndarray
        Images of the same size and channel count; arrays as in :func:`quality`.
    data_range : float, optional
        ``R`` in the units of the reference's stored values; by default from its dtype.
    gain : float, optional
        Amplification ``G``, finite and > 0: a difference of ``R / G`` maps to 1.

    Returns
    -------
    ndarray of float32
        (H, W), ``min(G max_c |A - B| / R, 1)``: 0 where equal, 1 for a difference of
        ``R / G`` or more. When ``R / G`` is below float64's range, any difference is 1.

    Raises
    ------
    InputError
        An array is not an image of real numbers (as in :func:`psnr`), the sizes or
        channel counts differ, or samples are not finite or beyond float32's range.
    ParameterError
        ``data_range`` or ``gain`` is out of its domain, or a signed or bool array
        reference comes without ``data_range``.
    """
    _check_options("all", 0, data_range)
    if not 0 < check_real(gain, "gain", "a finite number > 0") < math.inf:
        raise ParameterError(f"gain must be a finite number > 0, got {gain!r}")
    reference, image = _checked(reference, "reference"), _checked(image, "image")
    scale = _stored_scale(reference, data_range)
    a, b = _grey(_values(reference, scale)), _grey(_values(image, scale))
    _check_same_shape(a, b)
    _extent(a, "reference")
    _extent(b, "image")
    full = (scale if data_range is None else float(data_range)) / float(gain)  # 0 or inf if out of range
    difference = np.subtract(a, b, dtype=np.float64)
    difference = _pixel_max(np.abs(difference, out=difference))
    if full == 0:
        return (difference > 0).astype(np.float32)
    np.minimum(difference, full, out=difference)
    difference /= full
    return difference.astype(np.float32)


def quality(reference, image, *, channel="all", crop_border=0, data_range=None, tolerance=0.0):
    """Every metric of an image against a reference, ready for a report.

    Both images are measured on the reference's stored scale (0..255 for 8-bit, 0..65535
    for 16-bit, as is for float): integer-sourced images by their stored integer values
    (a processed result clipped and rounded as writing it does), float images as they
    are. Alpha is ignored.

    Parameters
    ----------
    reference, image : Image or ndarray
        The expected image and the one under test; same size and channel count. An
        array is measured as its stored samples, on the scale of its dtype (255 for
        uint8, 65535 for uint16, 1.0 for float; signed integers and bools need
        ``data_range``), as :func:`psnr` does; (H, W, 1) is grey.
    channel : {"all", "y"}, optional
        See :func:`psnr`.
    crop_border : int, optional
        Pixels dropped on every side first.
    data_range : float, optional
        ``R`` in the units of the reference's stored values; by default from its dtype.
    tolerance : float, optional
        Differences up to this (in the same units; finite, >= 0) do not count in
        ``differing_pixels``.

    Returns
    -------
    dict
        ``psnr`` (float, None when identical), ``identical`` (bool: the
        measured samples are equal), ``ssim`` (float, None when the image is smaller
        than the 11x11 window), ``max_abs_diff`` (float), ``differing_pixels`` (int),
        ``data_range`` (float). JSON-safe: no inf or NaN.

    Raises
    ------
    InputError
        An array is not an image of real numbers (as in :func:`psnr`), the sizes or
        channel counts differ, or samples are not finite or beyond float32's range.
    ParameterError
        An option is out of its domain, ``crop_border`` leaves nothing, or a signed or
        bool array reference comes without ``data_range``.
    """
    reference, image = _checked(reference, "reference"), _checked(image, "image")
    scale = _stored_scale(reference, data_range)
    a, b, data_range = _prepare(
        _values(reference, scale), _values(image, scale), channel, crop_border, data_range, scale, tolerance
    )
    measured = _statistics(a, b, data_range, tolerance=tolerance)
    identical = measured["mse_db"] is None
    return {
        "psnr": None if identical else _psnr(measured["mse_db"], data_range),
        "identical": identical,
        "ssim": measured["ssim"],
        "max_abs_diff": measured["max_abs_diff"],
        "differing_pixels": measured["differing_pixels"],
        "data_range": data_range,
    }

"""Point-spread functions: motion, defocus and Gaussian kernels, loading, and psf2otf.

Conventions (DESIGN.md section 4): a PSF is a float32 2-D array of odd shape that sums
to 1, with its centre at index ``(h // 2, w // 2)``. Its optical transfer function
(OTF) follows MATLAB's ``psf2otf``: the kernel is zero-padded at the end to the image
size and rolled by ``-(k // 2)`` so that its centre lands on index (0, 0); here it is
returned in the half-spectrum layout of :func:`scipy.fft.rfft2`.
"""

import math
import os

import numpy as np

from .checks import FLOAT32_MAX, as_kernel, check_real, check_size
from .choices import PSF_CENTERS
from .errors import InputError, ParameterError

__all__ = [
    "MAX_PSF_SIDE",
    "motion",
    "defocus",
    "gaussian",
    "load_psf",
    "read_kernel_file",
    "validate_psf",
    "psf2otf",
    "recenter",
]

_EPS = np.finfo(np.float64).eps


MAX_PSF_SIDE = 4097
"""Longest side, in pixels, of a kernel that :func:`motion`, :func:`defocus` and
:func:`gaussian` build: far beyond any real blur, and small enough to build at once."""


def _finite(name, value):
    """``value`` as a float, if it is a finite real number; else a ParameterError."""
    number = check_real(value, name, "a finite number")
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be a finite number, got {value}")
    return number


def _check_side(name, value, side):
    if side > MAX_PSF_SIDE:
        raise ParameterError(
            f"{name} {value:g} would make a kernel {side} pixels wide; PSFs are limited to {MAX_PSF_SIDE}"
        )


def motion(length, angle):
    """Linear motion blur: an anti-aliased line segment.

    The weights are those of MATLAB's ``fspecial('motion', length, angle)``: each
    pixel gets ``max(0, 1 - d)``, ``d`` its distance to a line of ``length`` pixels end
    to end (centre to centre of the end pixels, so a horizontal line of length 15
    covers 15 pixels), through the centre of the kernel.

    Parameters
    ----------
    length : float
        Length of the motion in pixels, >= 1 (1 gives the identity).
    angle : float
        Direction in degrees, counter-clockwise from the +x axis as seen on screen
        (x to the right, y up; rows grow downwards). Angles are taken modulo 180.

    Returns
    -------
    ndarray of float32
        Odd-shaped kernel summing to 1, centred at ``(h // 2, w // 2)``.

    Raises
    ------
    ParameterError
        ``length`` not a finite number >= 1, ``angle`` not a finite number, or a
        kernel wider than :data:`MAX_PSF_SIDE`.
    """
    length = _finite("motion length", length)
    angle = _finite("motion angle", angle)
    if length < 1:
        raise ParameterError(f"motion length must be >= 1 pixel, got {length:g}")
    half = (length - 1) / 2
    phi = math.radians(math.fmod(angle, 180.0) % 180.0)
    cos, sin = math.cos(phi), math.sin(phi)
    # Same extent as fspecial: the eps term drops rows/columns that would get zero weight.
    _check_side("motion length", length, 2 * int(half + 1 - length * _EPS) + 1)  # its extent at 0 degrees
    rx = int(half * abs(cos) + 1 - length * _EPS)
    ry = int(half * sin + 1 - length * _EPS)
    rows, cols = np.mgrid[-ry : ry + 1, -rx : rx + 1].astype(np.float64)
    x, y = cols, -rows
    along = x * cos + y * sin
    across = y * cos - x * sin
    distance = np.abs(across)
    # fspecial's end caps: beyond radius `half`, measure to the end point along the line.
    ends = (np.hypot(x, y) >= half) & (distance <= 1)
    distance[ends] = np.hypot(across[ends], half - np.abs(along[ends]))
    weights = np.maximum(1.0 - distance, 0.0)
    return (weights / weights.sum()).astype(np.float32)


def _quadrant_area(radius, x0, x1, y0, y1):
    """Area of {x0 <= x <= x1, y0 <= y <= y1, x^2 + y^2 <= r^2} for 0 <= x0 <= x1, 0 <= y0 <= y1."""
    r2 = radius * radius

    def primitive(x):  # integral of sqrt(r^2 - t^2) from 0 to x, for 0 <= x <= r
        x = np.clip(x, 0.0, radius)
        return 0.5 * (x * np.sqrt(np.maximum(r2 - x * x, 0.0)) + r2 * np.arcsin(x / radius))

    full_until = np.sqrt(np.maximum(r2 - y1 * y1, 0.0))  # the circle is above y1 for x below this
    inside_until = np.sqrt(np.maximum(r2 - y0 * y0, 0.0))  # and above y0 for x below this
    a = np.clip(full_until, x0, x1)
    b = np.clip(inside_until, x0, x1)
    b = np.maximum(a, b)
    rectangle = (a - x0) * (y1 - y0)
    under_arc = primitive(b) - primitive(a) - y0 * (b - a)
    return rectangle + under_arc


def _disk_area(radius, lo_x, hi_x, lo_y, hi_y):
    """Area of the intersection of the disk of ``radius`` at 0 with axis-aligned boxes."""
    total = 0.0
    for x0, x1 in ((np.maximum(lo_x, 0), np.maximum(hi_x, 0)), (np.maximum(-hi_x, 0), np.maximum(-lo_x, 0))):
        for y0, y1 in ((np.maximum(lo_y, 0), np.maximum(hi_y, 0)), (np.maximum(-hi_y, 0), np.maximum(-lo_y, 0))):
            total = total + _quadrant_area(radius, x0, x1, y0, y1)
    return total


def defocus(radius):
    """Out-of-focus blur: a uniform disk (pillbox) of ``radius`` pixels.

    Each pixel is weighted by the exact area of its unit square inside the circle,
    the convention of MATLAB's ``fspecial('disk', radius)``; the kernel is
    ``2 * ceil(radius - 0.5) + 1`` pixels wide.

    Parameters
    ----------
    radius : float
        Radius of the disk in pixels, > 0.

    Returns
    -------
    ndarray of float32
        Odd-shaped kernel summing to 1, centred at ``(h // 2, w // 2)``.

    Raises
    ------
    ParameterError
        ``radius`` not a finite number > 0, or a kernel wider than :data:`MAX_PSF_SIDE`.
    """
    radius = _finite("defocus radius", radius)
    if radius <= 0:
        raise ParameterError(f"defocus radius must be > 0 pixels, got {radius:g}")
    half = max(math.ceil(radius - 0.5), 0)
    _check_side("defocus radius", radius, 2 * half + 1)
    if half == 0:  # the disk lies within the centre pixel (its area may underflow to 0)
        return np.ones((1, 1), dtype=np.float32)
    rows, cols = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    area = _disk_area(float(radius), cols - 0.5, cols + 0.5, rows - 0.5, rows + 0.5)
    return (area / area.sum()).astype(np.float32)


def gaussian(sigma):
    """Gaussian blur: ``exp(-(x^2 + y^2) / (2 sigma^2))`` sampled at pixel centres.

    The kernel is truncated at ``ceil(4 sigma)`` pixels from the centre (MATLAB's
    ``fspecial('gaussian', 2 * ceil(4 sigma) + 1, sigma)``) and normalised to sum 1.

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels, > 0.

    Returns
    -------
    ndarray of float32
        Odd-shaped kernel summing to 1, centred at ``(h // 2, w // 2)``.

    Raises
    ------
    ParameterError
        ``sigma`` not a finite number > 0, or a kernel wider than :data:`MAX_PSF_SIDE`.
    """
    sigma = _finite("gaussian sigma", sigma)
    if sigma <= 0:
        raise ParameterError(f"gaussian sigma must be > 0 pixels, got {sigma:g}")
    half = max(math.ceil(4 * sigma), 1)
    _check_side("gaussian sigma", sigma, 2 * half + 1)
    t = np.arange(-half, half + 1, dtype=np.float64)
    with np.errstate(over="ignore"):  # a tiny sigma: the tails are 0, as they should be
        line = np.exp(-0.5 * np.square(t / sigma))
    kernel = np.outer(line, line)
    return (kernel / kernel.sum()).astype(np.float32)


def _pad_to_odd(psf):
    """Pad an even dimension with a zero row/column at the end; the centre stays at k // 2."""
    extra = [(0, 1 - size % 2) for size in psf.shape]
    return np.pad(psf, extra) if any(e for _, e in extra) else psf


def validate_psf(psf, image_shape=None, *, source=None):
    """Check a PSF and return it normalised: float32, odd shape, sum 1.

    Parameters
    ----------
    psf : array_like
        2-D kernel. Even dimensions are padded with a zero row/column at the end,
        which keeps the centre at ``(h // 2, w // 2)``.
    image_shape : tuple of int, optional
        (H, W) of the image the PSF will be applied to; the PSF must fit in it.
    source : str, optional
        File the PSF came from, named in the error.

    Returns
    -------
    ndarray of float32

    Raises
    ------
    InputError
        Not 2-D, empty, NaN or infinite values, sum <= 0 (all zero, or negative),
        or larger than the image.
    """
    array = as_kernel(psf, "the PSF", np.float64, source=source)
    # Scaled to a peak of 1 first, the sum can neither overflow (weights near 1e308) nor
    # lose its precision to subnormals (weights near 1e-320).
    peak = np.abs(array).max()
    if peak == 0:
        raise InputError("the PSF is all zero; a PSF must have a positive sum", source)
    array /= peak
    total = array.sum()
    if not total > 0:
        raise InputError(f"the PSF's sum is {float(total) * float(peak):.6g}; a PSF must have a positive sum", source)
    array = _pad_to_odd(array / total)
    if image_shape is not None:
        height, width = image_shape[:2]
        if array.shape[0] > height or array.shape[1] > width:
            raise InputError(
                f"the PSF ({array.shape[1]}x{array.shape[0]}) is larger than the image "
                f"({width}x{height}, width x height); use a smaller PSF",
                source,
            )
    return array.astype(np.float32)


def recenter(psf):
    """Move a kernel's centroid onto its centre pixel by an integer shift.

    The kernel's all-zero margins are cut, then it is zero-padded on the side needed so
    that the pixel nearest to the centroid (of the positive weights) becomes index
    ``(h // 2, w // 2)``; the values themselves are not interpolated. Measured kernels are rarely centred, and an
    off-centre kernel shifts the whole deconvolved image.

    Parameters
    ----------
    psf : array_like
        2-D kernel with a positive sum.

    Returns
    -------
    ndarray of float32
        Odd-shaped kernel, the weights normalised to sum 1 (:func:`validate_psf`),
        centred on the centroid.

    Raises
    ------
    InputError
        An invalid kernel (see :func:`validate_psf`).
    """
    kernel = validate_psf(psf)
    rows, cols = np.flatnonzero(kernel.any(axis=1)), np.flatnonzero(kernel.any(axis=0))
    # Zero margins place nothing: without them the kernel is as small as its weights allow,
    # and so are the margins and edge bands the boundary handling gives it.
    kernel = kernel[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    weights = np.maximum(kernel, 0.0, dtype=np.float64)
    pads = []
    for axis, size in enumerate(weights.shape):
        profile = weights.sum(axis=1 - axis)
        centre = int(np.floor(np.dot(np.arange(size), profile) / profile.sum() + 0.5))
        half = max(centre, size - 1 - centre)
        pads.append((half - centre, half - (size - 1 - centre)))
    return np.pad(kernel, pads)


_ARRAY_FILES = (".npy", ".csv", ".txt")


def _read_table(path, what):
    """Rows of numbers separated by semicolons, commas or spaces; ``#`` starts a comment."""
    try:
        with open(path, encoding="utf-8-sig") as f:  # -sig: the byte-order mark spreadsheets write
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {what} file as text: {getattr(e, 'strerror', None) or e}", path) from None
    lines = [(number, line.split("#", 1)[0].strip()) for number, line in enumerate(text.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line]
    if not lines:
        raise InputError(f"the {what} file holds no numbers; give rows of numbers", path)
    delimiter = next((mark for mark in (";", ",") if any(mark in line for _, line in lines)), None)
    rows = []
    for number, line in lines:
        if delimiter is not None:
            line = line.rstrip(delimiter + " \t")  # a delimiter ending the row, as some spreadsheets write
        cells = [cell.strip() for cell in line.split(delimiter)]
        bad = next((cell for cell in cells if not _is_number(cell)), None)
        if bad is not None:
            raise InputError(f"cannot read {what} table: line {number} holds {bad!r}, not a number; "
                             "give rows of numbers separated by semicolons, commas or spaces", path)
        rows.append([float(cell) for cell in cells])
        if len(rows[-1]) != len(rows[0]):
            raise InputError(f"cannot read {what} table: line {number} has {len(rows[-1])} numbers, the first row "
                             f"{len(rows[0])}; give rows of numbers of one length", path)
    return np.array(rows, dtype=np.float64)


def _is_number(text):
    if "_" in text:  # float() takes "1_0" as 10, as Python source does; a table does not
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_kernel_file(path, *, what="kernel", average_colour=True):
    """Read the weights of a kernel file as stored, neither normalised nor validated.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` (an array saved by :func:`numpy.save`), ``.csv``/``.txt`` (rows of
        numbers separated by semicolons, commas or white space, ``#`` starting a comment) or an
        image (PNG, TIFF, ... read by :func:`.images.read_image`: 8- and 16-bit values
        scaled to [0, 1], alpha ignored).
    what : str, optional
        What the file holds ("PSF", "kernel"), named in error messages.
    average_colour : bool, optional
        A colour image gives the mean over its channels; if False, an InputError.

    Returns
    -------
    ndarray
        The stored array: float64 for tables, float32 for images, the file's dtype
        and shape for ``.npy`` (the caller checks that it is a 2-D array of finite
        numbers: :func:`validate_psf` does).

    Raises
    ------
    InputError
        Missing or unreadable file, a table that is not rows of numbers, or a colour
        image when ``average_colour`` is False.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if extension in _ARRAY_FILES and not os.path.isfile(path):
        raise InputError(f"no such {what} file; check the path", path)
    if extension == ".npy":
        try:
            return np.load(path, allow_pickle=False)
        except OSError as e:
            raise InputError(f"cannot read {what} file: {e.strerror or e}", path) from None
        except (ValueError, EOFError):
            raise InputError(
                f"cannot read {what} array: not a whole .npy file of numbers; save the array with numpy.save", path
            ) from None
    if extension in _ARRAY_FILES:
        return _read_table(path, what)
    from .images import read_image

    pixels = read_image(path).pixels
    if pixels.ndim == 2:
        return pixels
    if not average_colour:
        raise InputError(f"{what} image must be greyscale, got a colour image; save it in grey", path)
    return pixels.mean(axis=2)


def load_psf(path, center="none"):
    """Read a PSF from a file and normalise it.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy`` (2-D array), ``.csv``/``.txt`` (rows of numbers separated by
        semicolons, commas or white space) or an image (PNG, TIFF, ... of any bit depth; colour
        images are averaged over their channels, alpha ignored); read by
        :func:`read_kernel_file`.
    center : {"none", "centroid"}, optional
        ``"centroid"`` shifts the kernel so that its centroid is the centre pixel
        (see :func:`recenter`); ``"none"`` keeps the file's geometry, the centre being
        index ``(h // 2, w // 2)``.

    Returns
    -------
    ndarray of float32
        Odd-shaped kernel summing to 1.

    Raises
    ------
    InputError
        Missing or unreadable file, or an invalid kernel (see :func:`validate_psf`).
    ParameterError
        Unknown ``center``.
    """
    if center not in PSF_CENTERS:
        raise ParameterError(f"PSF centring must be one of {', '.join(PSF_CENTERS)}, got {center!r}")
    path = os.fspath(path)
    psf = validate_psf(read_kernel_file(path, what="PSF"), source=path)
    if center == "centroid":
        psf = recenter(psf)
    return psf


def psf2otf(psf, shape):
    """Optical transfer function of a PSF on an image grid, as MATLAB's ``psf2otf``.

    The PSF is zero-padded at the end to ``shape`` and rolled by ``-(k // 2)`` along
    each axis, so its centre sits at index (0, 0), then transformed with a real 2-D
    DFT. Only the kernel's rows are transformed along the last axis; along the first,
    a kernel of a few rows (at most ``2 ceil(log2 H)``) is summed directly as one
    small matrix product, a taller one transformed, so the cost is small for small
    kernels.

    Parameters
    ----------
    psf : array_like
        2-D kernel, no larger than ``shape``.
    shape : tuple of int
        (H, W) of the transform.

    Returns
    -------
    ndarray of complex64
        Shape (H, W // 2 + 1): ``scipy.fft.rfft2`` of the padded, rolled kernel.

    Raises
    ------
    ParameterError
        ``shape`` is not a pair of integers >= 1.
    InputError
        The PSF is not a non-empty 2-D array of finite real numbers, is larger than
        ``shape``, or has an OTF beyond float32's range (weights summing, in
        magnitude, to more than about 3.4e38). Its weights are used as given
        (neither normalised nor padded to an odd size, as MATLAB's ``psf2otf``; a
        zero sum, as of a Laplacian, is allowed).
    """
    psf = as_kernel(psf, "the PSF", np.float64)
    height, width = check_size(shape, "the transform's shape")
    kh, kw = psf.shape
    if kh > height or kw > width:
        raise InputError(f"the PSF ({kw}x{kh}) is larger than the transform ({width}x{height}, width x height)")
    # |OTF| <= sum |w|: below float32's largest value no value of the OTF can overflow.
    magnitude = float(np.abs(psf).sum())
    if magnitude < 0.5 * FLOAT32_MAX:
        return _otf(psf, height, width, np.complex64)
    otf = _otf(psf, height, width, np.complex128)
    peak = float(np.abs(otf).max())
    if peak > FLOAT32_MAX:
        raise InputError(
            f"the PSF's OTF reaches {peak:.3g}, beyond float32's range (magnitude up to "
            f"{FLOAT32_MAX:.3g}); scale the weights down"
        )
    return otf.astype(np.complex64)


def _otf(psf, height, width, dtype):
    """:func:`psf2otf` of checked float64 weights, computed in ``dtype``."""
    import scipy.fft

    kh, kw = psf.shape
    # Offsets of the kernel's rows and columns from its centre, wrapped onto the grid.
    row_offsets = (np.arange(kh) - kh // 2) % height
    rows = np.zeros((kh, width), dtype=np.float64)
    rows[:, (np.arange(kw) - kw // 2) % width] = psf
    row_spectra = scipy.fft.rfft(rows, axis=1).astype(dtype)  # (kh, W//2+1)
    if kh <= 2 * math.ceil(math.log2(max(height, 2))):
        # A few rows: the DFT along the first axis as one small matrix product.
        phase = np.exp((-2j * np.pi / height) * (np.outer(np.arange(height), row_offsets) % height))
        return phase.astype(dtype) @ row_spectra
    columns = np.zeros((height, row_spectra.shape[1]), dtype=dtype)
    columns[row_offsets] = row_spectra
    return scipy.fft.fft(columns, axis=0, overwrite_x=True)

"""Boundary handling for DFT-based deconvolution: the canvas the transform runs on.

A DFT treats the image as periodic, so the jump between opposite edges acts as a
sharp feature that deconvolution turns into ringing across the whole picture. Three
remedies, by name:

``periodic``
    Nothing is done; the transform runs on the image as it is (MATLAB ``deconvwnr``).
``reflect``
    The image is mirrored (``cba|abc``) into a margin of twice the PSF's size on every
    side. Given the PSF, the margin is blurred once more by it, so that it holds what
    the camera would have recorded of the mirrored scene (a mirrored record is blurred
    by the mirrored PSF, which differs for motion blur), and the image's own edge band,
    half the PSF wide (none along an axis where the PSF is one pixel thin), where light
    from outside the frame makes the record inconsistent
    with any inside scene, is blended linearly into that re-blurred canvas. The margin is
    then faded with a raised cosine to the mean of the image's edge pixels, reached half-way between
    opposite edges, so the canvas is smooth across its periodic wrap. Its size is a fast
    DFT length; the result is cropped back to the image.
``edgetaper``
    MATLAB's ``edgetaper``: the image is blended with a circularly blurred copy of
    itself, with weights from the autocorrelation of the PSF's projections, so its
    edges become blurred and continuous across the wrap. Same size as the image.
"""

import numpy as np

from .checks import as_image, check_size
from .choices import BOUNDARY_MODES as MODES
from .errors import InputError, ParameterError
from .psf import validate_psf

__all__ = ["extend", "edgetaper", "MODES"]


def _fast_length(n):
    import scipy.fft

    return scipy.fft.next_fast_len(n, real=True)


def _gap_window(size, before, after):
    """Weights along one axis of the canvas: 1 on the image, a raised cosine in the margins.

    The margins ``after`` (below/right of the image) and ``before`` (above/left) are
    adjacent across the periodic wrap and together form one gap of ``before + after``
    samples; the weight falls from 1 at one image edge to 0 in the middle of the gap
    and rises back to 1 at the other edge.
    """
    gap = before + after
    window = np.ones(size, dtype=np.float32)
    if gap:
        steps = np.arange(1, gap + 1, dtype=np.float64)  # distance after the image's far edge
        fade = (0.5 + 0.5 * np.cos(2 * np.pi * steps / (gap + 1))).astype(np.float32)
        window[size - after :] = fade[:after]
        window[:before] = fade[after:]
    return window


def _edge_ramp(length, reach):
    """Weights along one image axis: 0 at both edges, rising linearly to 1 at ``reach``."""
    index = np.arange(length, dtype=np.float32)
    return np.minimum(np.minimum(index, index[::-1]) / np.float32(reach), 1).astype(np.float32)


def _bands(start, length, reach, size):
    """Split the canvas axis into (first band, middle, last band) around the image's edges."""
    first = start + min(reach, length // 2)
    last = max(start + length - reach, first)
    return np.s_[:first], np.s_[first:last], np.s_[last:size]


def _blurred_block(canvas, rows, cols, psf):
    """``psf`` convolved with ``canvas`` over ``canvas[rows, cols]``, with the context it needs."""
    from .forward import convolve_reflected

    ry, rx = psf.shape[0] // 2, psf.shape[1] // 2
    r0, r1 = max(rows.start - ry, 0), min(rows.stop + ry, canvas.shape[0])
    c0, c1 = max(cols.start - rx, 0), min(cols.stop + rx, canvas.shape[1])
    block = convolve_reflected(canvas[r0:r1, c0:c1], psf)
    return block[rows.start - r0 : rows.stop - r0, cols.start - c0 : cols.stop - c0]


def _mirror_index(offsets, length):
    """Indices that mirror ``cba|abc`` (repeatedly, for offsets beyond the length)."""
    folded = np.mod(offsets, 2 * length)
    return np.where(folded < length, folded, 2 * length - 1 - folded)


def _reflect_canvas(image, psf_shape, psf):
    height, width = image.shape[:2]
    kh, kw = psf_shape
    rows = _fast_length(height + 4 * kh)
    cols = _fast_length(width + 4 * kw)
    top, left = (rows - height) // 2, (cols - width) // 2
    bottom, right = rows - height - top, cols - width - left
    canvas = np.empty((rows, cols) + image.shape[2:], dtype=np.float32)
    crop = (np.s_[top : top + height], np.s_[left : left + width])
    canvas[crop] = image
    above, below = np.s_[:top], np.s_[top + height :]
    canvas[above, crop[1]] = image[_mirror_index(np.arange(-top, 0), height)]
    canvas[below, crop[1]] = image[_mirror_index(np.arange(height, height + bottom), height)]
    canvas[:, :left] = canvas[:, left + _mirror_index(np.arange(-left, 0), width)]
    canvas[:, left + width :] = canvas[:, left + _mirror_index(np.arange(width, width + right), width)]
    extra = (None,) * (image.ndim - 2)
    edges = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    level = edges.mean(axis=0, dtype=np.float64).astype(np.float32)
    # Per axis: the fade of the margins (1 on the image) and the ramp that blends the image's
    # edge band into the re-blurred canvas (0 in the margins); the band reaches half the
    # PSF plus one pixel. Along an axis where the PSF is one pixel thin no light crosses
    # the edge, and there is no band.
    fade_y, fade_x = _gap_window(rows, top, bottom), _gap_window(cols, left, right)
    ramp_y, ramp_x = np.zeros(rows, np.float32), np.zeros(cols, np.float32)
    reach_y, reach_x = ((k // 2 + 1 if k > 1 else 0) for k in (kh, kw)) if psf is not None else (0, 0)
    ramp_y[crop[0]] = _edge_ramp(height, reach_y) if reach_y else 1
    ramp_x[crop[1]] = _edge_ramp(width, reach_x) if reach_x else 1
    first_y, middle_y, last_y = _bands(top, height, reach_y, rows)
    first_x, _, last_x = _bands(left, width, reach_x, cols)
    # Only these blocks change; the image's core stays as it is.
    blocks = [(first_y, np.s_[:]), (last_y, np.s_[:]), (middle_y, first_x), (middle_y, last_x)]
    updates = []
    for band_rows, band_cols in blocks:
        band_rows = slice(*band_rows.indices(rows)[:2])
        band_cols = slice(*band_cols.indices(cols)[:2])
        if band_rows.stop <= band_rows.start or band_cols.stop <= band_cols.start:
            continue
        original = canvas[band_rows, band_cols]
        # With the PSF, the margin is re-blurred by it: what the camera would have recorded
        # of the mirrored scene, rather than a mirrored record of it.
        source = original if psf is None else _blurred_block(canvas, band_rows, band_cols, psf)
        fade = (fade_y[band_rows, None] * fade_x[None, band_cols])[(...,) + extra]
        ramp = (ramp_y[band_rows, None] * ramp_x[None, band_cols])[(...,) + extra]
        # In the margins ramp = 0, in the image fade = 1: one expression serves both.
        updates.append((band_rows, band_cols, level + fade * (source + ramp * (original - source) - level)))
    for band_rows, band_cols, values in updates:
        canvas[band_rows, band_cols] = values
    return canvas, crop


def edgetaper(pixels, psf):
    """Blur an image's edges with its PSF so that it is continuous across its borders.

    The algorithm of MATLAB's ``edgetaper``: for each axis the projection of the PSF
    onto that axis is autocorrelated circularly over the image length minus one,
    normalised to peak 1, giving ``beta``; the weight is
    ``alpha = (1 - beta_rows) (1 - beta_cols)``, which is 0 at the edges and 1 inside.
    The result is ``alpha * I + (1 - alpha) * blurred``, ``blurred`` being the
    circular convolution of the image with the PSF, clipped to the image's range.

    Parameters
    ----------
    pixels : ndarray
        Image, (H, W) or (H, W, C).
    psf : ndarray
        2-D kernel summing to 1, at most half the image's size along each axis
        where it is longer than 1.

    Returns
    -------
    ndarray of float32
        Same shape as ``pixels``.

    Raises
    ------
    InputError
        An invalid image (see :func:`.checks.as_image`) or PSF (see
        :func:`.psf.validate_psf`), or a PSF not smaller than half the image.
    """
    image = as_image(pixels)
    return _edgetaper(image, validate_psf(psf, image.shape))


def _edgetaper(image, psf):
    import scipy.fft

    from .psf import psf2otf
    from .threads import fft_workers

    psf = np.asarray(psf, dtype=np.float64)
    height, width = image.shape[:2]
    for size, length in zip(psf.shape, (height, width)):
        if size > 1 and length <= 2 * size:
            raise InputError(
                f"edgetaper needs an image more than twice the PSF's size "
                f"(PSF {psf.shape[0]}x{psf.shape[1]}, image {height}x{width}); "
                "use --boundary reflect"
            )
    alphas = []
    for axis, length in enumerate((height, width)):
        projection = psf.sum(axis=1 - axis)
        if projection.size == 1:
            alphas.append(np.ones(length))
            continue
        power = np.abs(np.fft.fft(projection, length - 1)) ** 2
        beta = np.real(np.fft.ifft(power))
        beta = np.append(beta, beta[0]) / beta.max()
        alphas.append(1.0 - beta)
    alpha = np.outer(alphas[0], alphas[1]).astype(np.float32)
    axes = (0, 1)
    workers = fft_workers()
    otf = psf2otf(psf, (height, width))
    if image.ndim == 3:
        otf = otf[:, :, None]
        alpha = alpha[:, :, None]
    spectrum = scipy.fft.rfft2(image, axes=axes, workers=workers)
    spectrum *= otf
    blurred = scipy.fft.irfft2(spectrum, s=(height, width), axes=axes, workers=workers)
    tapered = blurred + alpha * (image - blurred)
    return np.clip(tapered, image.min(), image.max()).astype(np.float32, copy=False)


def extend(pixels, psf_shape, mode, *, psf=None):
    """Make the canvas a DFT-based deconvolution runs on.

    Parameters
    ----------
    pixels : ndarray
        Image, (H, W) or (H, W, C).
    psf_shape : (int, int) or None
        (h, w) of the PSF, each from 1 to the image's side; sets the margins of
        ``reflect`` (twice the size per side), and is not used otherwise. With
        ``psf``, it may be None; if given, it must be the PSF's shape (as given, or
        padded to odd sides, see :func:`.psf.validate_psf`), whose padded form sets
        the margins.
    mode : {"reflect", "periodic", "edgetaper"}
        See the module's description.
    psf : ndarray, optional
        The PSF itself. Needed by ``edgetaper``; with ``reflect``, it re-blurs the
        margins and blends the image's edge band (without it, the margins are plain
        mirrored copies, faded).

    Returns
    -------
    canvas : ndarray of float32
        (H', W') or (H', W', C): the array to transform. ``periodic`` returns the
        image itself (as float32).
    crop : tuple of slice
        ``canvas[crop]`` is where the image sits.

    Raises
    ------
    ParameterError
        Unknown mode, ``edgetaper`` without ``psf``, ``psf_shape`` not a pair of
        integers >= 1 (nor None with ``psf``) or not the shape of ``psf``.
    InputError
        An invalid image (see :func:`.checks.as_image`) or PSF (see
        :func:`.psf.validate_psf`), a ``psf_shape`` larger than the image, or a PSF
        too large for ``edgetaper``.
    """
    image = as_image(pixels)
    if psf is None:
        psf_shape = _check_psf_shape(psf_shape, image.shape)
    else:
        kernel = validate_psf(psf, image.shape)
        if psf_shape is not None and check_size(psf_shape, "psf_shape") not in (np.shape(psf), kernel.shape):
            raise ParameterError(
                f"psf_shape {tuple(psf_shape)} is not the PSF's shape {np.shape(psf)}; give the PSF's shape or None"
            )
        psf, psf_shape = kernel, kernel.shape
    return extend_checked(image, psf_shape, mode, psf)


def _check_psf_shape(psf_shape, image_shape):
    """``psf_shape`` as (h, w), if a pair of integers >= 1 no larger than the image."""
    if psf_shape is None:
        raise ParameterError("psf_shape must be given when the PSF itself is not")
    kh, kw = check_size(psf_shape, "psf_shape")
    height, width = image_shape[:2]
    if kh > height or kw > width:
        raise InputError(
            f"psf_shape {(kh, kw)} is larger than the image, of shape {(height, width)}; a PSF must fit in the image"
        )
    return kh, kw


def extend_checked(image, psf_shape, mode, psf):
    """:func:`extend` of an image already checked, a float32 array, and a valid PSF or None."""
    height, width = image.shape[:2]
    whole = (np.s_[0:height], np.s_[0:width])
    if mode == "periodic":
        return image, whole
    if mode == "reflect":
        return _reflect_canvas(image, tuple(psf_shape), psf)
    if mode == "edgetaper":
        if psf is None:
            raise ParameterError("boundary 'edgetaper' needs the PSF itself")
        return _edgetaper(image, psf), whole
    raise ParameterError(f"unknown boundary mode {mode!r}; use one of {', '.join(MODES)}")

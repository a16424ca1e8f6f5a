"""Boundary handling for DFT-based deconvolution: the canvas the transform runs on.

A DFT treats the image as periodic, so the jump between opposite edges acts as a
sharp feature that deconvolution turns into ringing across the whole picture. Three
remedies, by name:

``periodic``
    Nothing is done; the transform runs on the image as it is (MATLAB ``deconvwnr``).
``reflect``
    The image is mirrored (``cba|abc``) into a margin of at least the PSF's size on
    every side, and the margin is faded with a raised cosine towards the image's mean,
    reached half-way between opposite edges. The canvas is then smooth across its
    periodic wrap, and the mirrored data next to each edge is close to what the camera
    saw there. The canvas size is a fast DFT length; the result is cropped back.
``edgetaper``
    MATLAB's ``edgetaper``: the image is blended with a circularly blurred copy of
    itself, with weights from the autocorrelation of the PSF's projections, so its
    edges become blurred and continuous across the wrap. Same size as the image.
"""

import numpy as np

from .errors import InputError, ParameterError

__all__ = ["extend", "edgetaper", "MODES"]

MODES = ("reflect", "periodic", "edgetaper")
"""Boundary modes, the default first."""


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


def _reflect_canvas(image, psf_shape):
    height, width = image.shape[:2]
    kh, kw = psf_shape
    rows = _fast_length(height + 2 * kh)
    cols = _fast_length(width + 2 * kw)
    top, left = (rows - height) // 2, (cols - width) // 2
    bottom, right = rows - height - top, cols - width - left
    pads = [(top, bottom), (left, right)] + [(0, 0)] * (image.ndim - 2)
    canvas = np.pad(image, pads, mode="symmetric")
    level = image.mean(axis=(0, 1), dtype=np.float64).astype(np.float32)
    wy = _gap_window(rows, top, bottom)
    wx = _gap_window(cols, left, right)
    extra = (None,) * (image.ndim - 2)
    # Only the margins change: full-width bands above and below, then the side bands.
    for band in (np.s_[:top], np.s_[top + height :]):
        weight = (wy[band, None] * wx[None, :])[(...,) + extra]
        canvas[band] = level + weight * (canvas[band] - level)
    middle = np.s_[top : top + height]
    for band in (np.s_[:left], np.s_[left + width :]):
        weight = wx[band][(None, slice(None)) + extra]
        canvas[middle, band] = level + weight * (canvas[middle, band] - level)
    return canvas, (np.s_[top : top + height], np.s_[left : left + width])


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
        The PSF is not smaller than half the image.
    """
    import scipy.fft

    from .psf import psf2otf
    from .threads import fft_workers

    image = np.asarray(pixels, dtype=np.float32)
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
    psf_shape : tuple of int
        (h, w) of the PSF; sets the margins of ``reflect``.
    mode : {"reflect", "periodic", "edgetaper"}
        See the module's description.
    psf : ndarray, optional
        The PSF itself; needed by ``edgetaper`` only.

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
        Unknown mode, or ``edgetaper`` without ``psf``.
    InputError
        The PSF is too large for ``edgetaper``.
    """
    image = np.asarray(pixels, dtype=np.float32)
    height, width = image.shape[:2]
    whole = (np.s_[0:height], np.s_[0:width])
    if mode == "periodic":
        return image, whole
    if mode == "reflect":
        return _reflect_canvas(image, tuple(psf_shape))
    if mode == "edgetaper":
        if psf is None:
            raise ParameterError("boundary 'edgetaper' needs the PSF itself")
        return edgetaper(image, psf), whole
    raise ParameterError(f"unknown boundary mode {mode!r}; use one of {', '.join(MODES)}")

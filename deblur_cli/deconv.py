"""Wiener deconvolution on the DFT grid, with a choice of regulariser and boundary.

The estimate of the sharp image is, on the DFT of the canvas (see :mod:`.boundary`),

    X = conj(H) G / (|H|^2 + NSR |R|^2)

with G the spectrum of the blurred canvas, H the OTF of the PSF (:func:`.psf.psf2otf`)
and R the regulariser: 1 (``identity``, the classical Wiener filter of MATLAB's
``deconvwnr`` with a scalar NSR) or the OTF of the 5-point Laplacian (``laplacian``,
a constrained least-squares filter that penalises roughness rather than energy).
Because the filter uses conj(H), an asymmetric PSF neither shifts nor mirrors the
result.
"""

import functools

import numpy as np

from .checks import as_image, check_real, range_exponent, scaled_back, scaled_down
from .errors import ParameterError
from .choices import REGULARISERS
from .psf import psf2otf, validate_psf

__all__ = ["wiener", "wiener_filter", "laplacian_otf", "laplacian_power", "check_nsr", "MAX_NSR", "REGULARISERS"]


MAX_NSR = 1e30
"""Largest NSR accepted: far beyond any use, and safe from float32 overflow."""


def check_nsr(nsr, name="NSR"):
    """Check a noise-to-signal ratio.

    Parameters
    ----------
    nsr : float or "auto"
        The value to check.
    name : str, optional
        What the error message calls it (the CLI's option name, say).

    Returns
    -------
    float or "auto"

    Raises
    ------
    ParameterError
        Not ``"auto"`` nor a number in (0, :data:`MAX_NSR`] (a bool is not a number).
    """
    if isinstance(nsr, str):
        if nsr == "auto":
            return nsr
        raise ParameterError(f"{name} must be a number > 0 or 'auto', got {nsr!r}")
    value = check_real(nsr, name, "a number > 0 or 'auto'")
    if not (np.isfinite(value) and value > 0):
        raise ParameterError(f"{name} must be a finite number > 0 (e.g. 0.01), got {nsr}")
    if value > MAX_NSR:
        raise ParameterError(f"{name} must be at most {MAX_NSR:g} (any NSR above 1 already smooths nearly everything away), got {nsr}")
    return value


def laplacian_otf(shape, step=1, dtype=np.float64):
    """OTF of the 5-point Laplacian ``[[0, 1, 0], [1, -4, 1], [0, 1, 0]]`` on the rfft2 grid.

    It is real (:func:`.psf.psf2otf`), ``-(4 sin^2(pi fy) + 4 sin^2(pi fx))`` at the
    frequencies ``fy, fx`` in cycles per pixel; in this form, unlike
    ``2 cos + 2 cos - 4``, it keeps its relative precision near DC.

    Parameters
    ----------
    shape : tuple of int
        (H, W) of the canvas.
    step : int, optional
        Keep every ``step``-th frequency along each axis.
    dtype : dtype, optional
        Of the result.

    Returns
    -------
    ndarray
        Shape (H, W // 2 + 1), or ``[::step, ::step]`` of it.
    """
    import scipy.fft

    height, width = shape
    rows = -4.0 * np.sin(np.pi * scipy.fft.fftfreq(height)[::step]) ** 2
    columns = -4.0 * np.sin(np.pi * scipy.fft.rfftfreq(width)[::step]) ** 2
    return np.add.outer(rows.astype(dtype), columns.astype(dtype))


def laplacian_power(shape, step=1, dtype=np.float64):
    """|OTF|^2 of the 5-point Laplacian (see :func:`laplacian_otf`), same grid and arguments."""
    otf = laplacian_otf(shape, step, dtype)
    return np.square(otf, out=otf)


def _check_reg(reg):
    if reg not in REGULARISERS:
        raise ParameterError(f"unknown regulariser {reg!r}; use one of {', '.join(REGULARISERS)}")


def _reg_power(reg, shape):
    """|R|^2 on the rfft2 grid of ``shape``: 1 for identity, |OTF of the Laplacian|^2."""
    _check_reg(reg)
    if reg == "laplacian":
        return laplacian_power(shape, dtype=np.float32)
    return np.ones((1, 1), dtype=np.float32)


def wiener_filter(psf, shape, nsr, reg="identity"):
    """The Wiener filter conj(H) / (|H|^2 + NSR |R|^2) on the rfft2 grid of ``shape``.

    Parameters
    ----------
    psf : ndarray
        Normalised 2-D kernel, no larger than ``shape``.
    shape : tuple of int
        (H, W) of the canvas.
    nsr : float
        Noise-to-signal power ratio, > 0.
    reg : {"identity", "laplacian"}, optional
        Regulariser R.

    Returns
    -------
    ndarray of complex64
        Shape (H, W // 2 + 1), read-only (it is cached). Frequencies where the
        denominator vanishes get 0.

    Raises
    ------
    ParameterError
        NSR not a number in (0, :data:`MAX_NSR`] (``"auto"`` is chosen per image, by
        :func:`wiener`), or an unknown regulariser.
    """
    if isinstance(nsr, str):
        raise ParameterError(f"the filter needs a number for its NSR, got {nsr!r}; wiener chooses 'auto' per image")
    _check_reg(reg)
    return _filter_and_gain(psf, shape, check_nsr(nsr), reg)[0]


def _filter_and_gain(psf, shape, nsr, reg):
    """:func:`wiener_filter` and the largest magnitude of its values, cached."""
    psf = np.asarray(psf, dtype=np.float32)
    return _cached_filter(psf.tobytes(), psf.shape, tuple(shape), nsr, reg)


@functools.lru_cache(maxsize=2)
def _cached_filter(psf_bytes, psf_shape, shape, nsr, reg):
    # Keyed by value, so a batch with one PSF and one image size computes the OTF once.
    psf = np.frombuffer(psf_bytes, dtype=np.float32).reshape(psf_shape)
    otf = psf2otf(psf, shape)
    result = _filter_from(otf, _power(otf), nsr, _reg_power(reg, shape))
    result.flags.writeable = False
    return result, _gain(result)


def _gain(filt):
    """Largest magnitude of a filter's values.

    At most 2**63: where |H|^2 >= tiny (2**-126) it is at most 1 / |H|, elsewhere |H| / tiny.
    """
    return float(np.sqrt(_power(filt).max()))


def _power(values, dtype=None):
    """|values|^2, in ``dtype`` (by default that of the real parts)."""
    return np.square(values.real, dtype=dtype) + np.square(values.imag, dtype=dtype)


def _filter_from(otf, otf_power, nsr, reg_power):
    denominator = otf_power + np.float32(nsr) * reg_power
    np.maximum(denominator, np.finfo(np.float32).tiny, out=denominator)
    result = np.conj(otf)
    result /= denominator
    return result


def _auto_filter(spectrum, psf, shape, reg):
    """Filter with the NSR chosen by generalised cross-validation on this canvas."""
    from .estimate import gcv_nsr

    otf = psf2otf(psf, shape)
    otf_power = _power(otf)
    reg_power = _reg_power(reg, shape)
    if not np.any(reg_power):  # a 1x1 canvas has no roughness: every NSR gives the same filter
        return _filter_from(otf, otf_power, 1.0, reg_power), 1.0
    # Channels share one NSR: sum their powers one channel at a time, to save memory; in
    # float64, as |G|^2 of float images with large values is beyond float32's range.
    planes = spectrum[..., None] if spectrum.ndim == 2 else spectrum
    spectrum_power = _power(planes[..., 0], np.float64)
    for channel in range(1, planes.shape[2]):
        spectrum_power += _power(planes[..., channel], np.float64)
    nsr = float(gcv_nsr(spectrum_power, otf_power, reg_power, full_width=shape[1]))
    return _filter_from(otf, otf_power, check_nsr(nsr), reg_power), nsr


def wiener(pixels, psf, nsr, *, reg="identity", boundary="reflect", return_nsr=False):
    """Deblur an image by Wiener deconvolution with a known PSF.

    Parameters
    ----------
    pixels : ndarray
        Blurred image, (H, W) or (H, W, C); all channels share one OTF and one
        batched transform.
    psf : ndarray
        2-D kernel, centred at ``(h // 2, w // 2)``; normalised to sum 1 here (see
        :func:`.psf.validate_psf`).
    nsr : float or "auto"
        Noise-to-signal power ratio, > 0; larger values smooth more. ``"auto"``
        chooses it by generalised cross-validation on the canvas
        (:func:`.estimate.gcv_nsr`).
    reg : {"identity", "laplacian"}, optional
        Regulariser R in ``|H|^2 + NSR |R|^2``.
    boundary : {"reflect", "periodic", "edgetaper"}, optional
        How the image's borders are handled (see :mod:`.boundary`). ``periodic``
        is exactly the circular formula, as MATLAB's ``deconvwnr``.
    return_nsr : bool, optional
        Also return the NSR used (useful with ``"auto"``).

    Returns
    -------
    ndarray of float32
        Deblurred image of the same shape, not clipped (a view into the canvas for
        ``reflect``). With ``return_nsr``, a tuple ``(image, nsr)``.

    Raises
    ------
    ParameterError
        NSR not ``"auto"`` nor a number in (0, :data:`MAX_NSR`] (NaN, infinities, bools
        and other strings are refused, see :func:`check_nsr`); unknown regulariser or
        boundary.
    InputError
        Invalid image (see :func:`.checks.as_image`: not (H, W) / (H, W, C), NaN,
        infinite or beyond float32's range) or PSF (NaN, zero sum, larger than the
        image), or a result beyond float32's range.

    Notes
    -----
    The transforms run in float32. Where the image's values are so large that they
    could overflow it (the transform's DC term is the sum of the canvas), the image is
    scaled down by a power of two first and the result back, which is exact: values
    near float32's largest give the result they would give in float64, to float32's
    precision.

    References
    ----------
    .. [1] R. C. Gonzalez and R. E. Woods, *Digital Image Processing*, 4th ed.,
       section 5.8, "Minimum mean square error (Wiener) filtering".
    """
    import scipy.fft

    from .boundary import extend_checked
    from .threads import fft_workers

    nsr = check_nsr(nsr)
    _check_reg(reg)
    image, peak = as_image(pixels, return_peak=True)
    kernel = validate_psf(psf, image.shape[:2])
    # Bounds, in the worst case, of the canvas's values (reflect re-blurs its margins with
    # the PSF), of its size, and so of the sums the transforms make, each over the canvas.
    peak *= float(np.abs(kernel).sum(dtype=np.float64))  # >= 1, the weights summing to 1
    size = 4.0 * (image.shape[0] + 4 * kernel.shape[0]) * (image.shape[1] + 4 * kernel.shape[1])
    exponent = range_exponent(peak * size * size)
    if exponent:
        image, peak = scaled_down(image, exponent), peak * 2.0**-exponent
    canvas, crop = extend_checked(image, kernel.shape, boundary, kernel)
    shape = canvas.shape[:2]
    axes = (0, 1)
    workers = fft_workers()
    spectrum = scipy.fft.rfft2(canvas, axes=axes, workers=workers, overwrite_x=canvas is not image)
    del canvas
    if nsr == "auto":
        filt, nsr = _auto_filter(spectrum, kernel, shape, reg)
        gain = _gain(filt)
    else:
        filt, gain = _filter_and_gain(kernel, shape, nsr, reg)
    # A filter of large gain (a tiny NSR) may still take the inverse transform beyond the range.
    more = range_exponent(peak * size * size * gain)
    if more:
        np.ldexp(spectrum.view(np.float32), -more, out=spectrum.view(np.float32))
    spectrum *= filt if spectrum.ndim == 2 else filt[:, :, None]
    # irfft2 in two steps, in place: faster than scipy.fft.irfft2, which copies its input.
    spectrum = scipy.fft.ifft(spectrum, axis=0, workers=workers, overwrite_x=True)
    restored = scipy.fft.irfft(spectrum, n=shape[1], axis=1, workers=workers, overwrite_x=True)
    del spectrum
    result = scaled_back(restored[crop], exponent + more, "the deblurred image")
    return (result, nsr) if return_nsr else result

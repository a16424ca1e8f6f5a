"""Automatic parameters: noise level, regularisation weight (NSR) and blind blur estimates.

- :func:`noise_sigma`: standard deviation of additive white noise, from Immerkaer's
  Laplacian-difference mask with iterative sigma clipping.
- :func:`gcv_nsr`: the Wiener/Tikhonov regularisation weight chosen by generalised
  cross-validation in the Fourier domain.
- :func:`estimate_blur`: the kind (motion, defocus, Gaussian) and parameters of an
  image's blur, with a confidence, from its power spectrum alone
  (:mod:`.estimate_blind`); :func:`estimate_psf` turns it into a kernel.
"""

import math

import numpy as np

from .checks import as_image, check_int, check_values
from .deconv import laplacian_power
from .choices import BLUR_KINDS
from .errors import ParameterError

__all__ = ["noise_sigma", "gcv_nsr", "estimate_blur", "estimate_psf", "BLUR_KINDS"]

# Immerkaer's mask [[1,-2,1],[-2,4,-2],[1,-2,1]] is the outer product of [1,-2,1]
# with itself; its response to white noise of std s has std 6 s.
_MASK_NORM = 6.0
_CLIP = 3.0
# E[x^2 | |x| < k] / s^2 for x ~ N(0, s^2): undoes the bias of clipping at k sigma.
_CLIP_VARIANCE = 0.9733369246625415
_CLIP_ROUNDS = 8
_HALF_NORMAL_MEDIAN = 0.6744897501960817  # median of |x| for x ~ N(0, 1)


def _second_difference(plane):
    """Immerkaer's mask on the valid region of a 2-D plane (float64 result)."""
    rows = plane[:, :-2] - 2.0 * plane[:, 1:-1] + plane[:, 2:]
    return rows[:-2] - 2.0 * rows[1:-1] + rows[2:]


def _plane_sigma(plane):
    response = _second_difference(plane.astype(np.float64)).ravel() / _MASK_NORM
    squares = response * response
    magnitude = np.abs(response)
    # Start from the median (robust to edges covering up to half the image), or, where
    # quantisation makes it 0, from Immerkaer's mean.
    sigma = np.median(magnitude) / _HALF_NORMAL_MEDIAN or np.sqrt(np.pi / 2.0) * magnitude.mean()
    for _ in range(_CLIP_ROUNDS):
        if sigma == 0.0:
            break
        inside = squares < (_CLIP * sigma) ** 2
        if not inside.any():
            break
        sigma = np.sqrt(np.mean(squares[inside]) / _CLIP_VARIANCE)
    return float(sigma)


def noise_sigma(pixels, *, per_channel=False):
    """Estimate the standard deviation of additive white Gaussian noise in an image.

    Immerkaer's estimator filters the image with the mask
    ``[[1, -2, 1], [-2, 4, -2], [1, -2, 1]]`` (the difference of two Laplacians,
    which cancels smooth image content) on the valid region, and takes the mean
    absolute response. Edges and texture leak into that mean, so here the
    estimate starts from the median absolute response and is refined by sigma
    clipping: the RMS of the responses within 3 sigma, corrected for the
    truncation, iterated. The clipped RMS, unlike a median, is continuous on
    quantised (8-bit) data, whose rounding noise, 1/(255 sqrt(12)) ~ 0.0011, is
    counted as noise.

    Parameters
    ----------
    pixels : array_like
        Image of shape (H, W) or (H, W, C), H and W >= 3.
    per_channel : bool, optional
        Return one value per channel instead of their mean.

    Returns
    -------
    float or ndarray
        Noise standard deviation in the units of ``pixels`` (the mean over
        channels unless ``per_channel``; an array of shape (C,) if it is set and
        the image has channels).

    Raises
    ------
    InputError
        The image is smaller than 3x3, not 2-D/3-D, or holds NaN or infinite
        values (see :func:`.checks.as_image`).

    References
    ----------
    .. [1] J. Immerkaer, "Fast noise variance estimation", Computer Vision and
       Image Understanding 64(2), 300-302, 1996.
    """
    array = as_image(pixels, dtype=None, min_side=3)
    if array.ndim == 2:
        return _plane_sigma(array)
    sigmas = np.array([_plane_sigma(array[..., c]) for c in range(array.shape[2])])
    return sigmas if per_channel else float(sigmas.mean())


_LOG10_RANGE = (-10.0, 2.0)  # of the returned weight
_BINS_PER_DECADE = 200
_COARSE_STEP = 0.05  # decades
_FINE_STEP = 0.002
_MAX_FREQUENCIES = 2**20
_RINGS = 64  # radial bands and orientation sectors of the image-spectrum estimate
_SECTORS = 8


def _hermitian_weights(columns, full_width):
    """Multiplicity of each rfft2 column in the full spectrum (1 for DC and Nyquist)."""
    weights = np.full(columns, 2.0)
    weights[0] = 1.0
    if full_width % 2 == 0:
        weights[-1] = 1.0
    return weights


def _checked_power(values, name):
    """``values`` in float64, if they are real, finite and >= 0; else a ParameterError quoting them."""
    check_values(values, f"{name} power", error=ParameterError)
    values = values.astype(np.float64)
    if values.min() < 0:
        raise ParameterError(f"{name} power must be >= 0, got values down to {values.min():g}")
    return values


def _below_one(values):
    """``values`` times the power of two (exact) that brings the largest into [0.5, 1); 0 stays 0."""
    largest = float(values.max())
    return np.ldexp(values, -math.frexp(largest)[1]) if largest > 0 else values


def _channel_sum(spectrum_power, grid_shape, step):
    """A per-channel power (channel axis last or first) summed over channels, every step-th frequency.

    The powers are checked, and scaled by a power of two first so that the sum cannot
    overflow: the choice of ``lam`` does not depend on the scale of the spectrum.
    """
    power = np.asarray(spectrum_power)
    if power.shape == grid_shape:
        return _below_one(_checked_power(power[::step, ::step], "spectrum"))
    if power.ndim == len(grid_shape) + 1 and power.size:
        if power.shape[:-1] == grid_shape:
            return _below_one(_checked_power(power[::step, ::step], "spectrum")).sum(axis=-1)
        if power.shape[1:] == grid_shape:
            return _below_one(_checked_power(power[:, ::step, ::step], "spectrum")).sum(axis=0)
    raise ParameterError(
        f"spectrum power of shape {power.shape} does not fit the OTF grid {grid_shape}; "
        "give arrays on the same rfft2 grid (channels first or last)"
    )


def _frequencies(shape, full_width, step=1):
    """Row and column frequencies (cycles/pixel) of an rfft2 grid, as broadcastable arrays."""
    import scipy.fft

    rows = scipy.fft.fftfreq(shape[0])[::step, None]
    return rows, scipy.fft.rfftfreq(full_width)[None, ::step]


class _LogBins:
    """Frequencies grouped by the decimal log of a per-frequency ratio, for sums over them."""

    def __init__(self, log_ratio, weights):
        low, high = _LOG10_RANGE
        margin = 8.0  # beyond it, 1 / (1 + ratio / lam) is 0 or 1 for every lam tried
        start = low - margin
        self._length = int(round((high - low + 2 * margin) * _BINS_PER_DECADE))
        log_ratio = np.clip(log_ratio, start, high + margin)
        self._index = np.minimum(
            ((log_ratio - start) * _BINS_PER_DECADE).astype(np.intp), self._length - 1
        )
        self._weights = weights
        count = np.bincount(self._index, weights=weights, minlength=self._length)
        self._used = np.flatnonzero(count > 0)
        self.count = count[self._used]
        self.ratio = 10.0 ** (self.sum(log_ratio) / self.count)

    def sum(self, values):
        """Weighted sum of per-frequency values in each non-empty bin."""
        totals = np.bincount(self._index, weights=self._weights * values, minlength=self._length)
        return totals[self._used]


def _minimise(objective):
    """Argmin of a vectorised objective of log10(lam): coarse grid, then a fine one."""
    low, high = _LOG10_RANGE
    grid = np.arange(low, high + _COARSE_STEP / 2, _COARSE_STEP)
    best = grid[int(np.argmin(objective(grid)))]
    fine = np.arange(max(low, best - _COARSE_STEP), min(high, best + _COARSE_STEP) + 1e-12, _FINE_STEP)
    return float(10.0 ** fine[int(np.argmin(objective(fine)))])


def _gcv(signal, otf, reg, weights):
    """GCV weight and the residual noise power per frequency it implies."""
    regularised = reg > 0
    with np.errstate(divide="ignore"):  # log10(0) = -inf: an OTF zero; a difference of logs cannot overflow
        log_q = np.log10(otf[regularised]) - np.log10(reg[regularised])
    bins = _LogBins(log_q, weights[regularised])
    power = bins.sum(signal[regularised])
    total = weights.sum()  # unregularised frequencies have 1 - A = 0 but count in the mean

    def residual(log_lams):
        return 1.0 / (1.0 + bins.ratio[None, :] / 10.0 ** log_lams[:, None])

    def score(log_lams):
        r = residual(log_lams)
        numerator = (r**2 * power).sum(axis=1) / total
        trace = (r * bins.count).sum(axis=1) / total
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(trace > 0, numerator / trace**2, np.inf)

    lam = _minimise(score)
    r = residual(np.array([np.log10(lam)]))[0]
    trace = (r * bins.count).sum()
    noise = (r**2 * power).sum() / trace if trace > 0 else 0.0
    return lam, float(noise)


def _risk_identity(signal, otf, weights, noise, grid_shape, full_width, step):
    """Scalar Wiener NSR minimising the predicted mean squared error.

    The expected error at a frequency is ``(lam^2 S + |H|^2 N) / (|H|^2 + lam)^2``
    for image power S and noise power N. S is estimated per cell of a polar grid
    (radial bands x orientation sectors) as ``(sum |G|^2 - n N) / sum |H|^2`` (a
    ratio of sums stays finite where H has zeros), made non-increasing along each
    sector as photographs' spectra are.
    """
    fy, fx = _frequencies(grid_shape, full_width, step)
    radius = np.sqrt(fy**2 + fx**2)
    band = np.minimum((radius * (_RINGS / np.sqrt(0.5))).astype(np.intp), _RINGS - 1)
    orientation = np.mod(np.arctan2(fy, fx), np.pi)
    sector = np.minimum((orientation * (_SECTORS / np.pi)).astype(np.intp), _SECTORS - 1)
    cell = np.broadcast_to(band * _SECTORS + sector, otf.shape).ravel()
    cells = _RINGS * _SECTORS
    w = weights.ravel()
    excess = np.bincount(cell, weights=w * (signal.ravel() - noise), minlength=cells)
    largest = float(otf.max())
    exponent = math.frexp(largest)[1] if largest > 1 else 0  # sums of OTF powers near float64's top overflow
    transfer = np.bincount(cell, weights=w * np.ldexp(otf.ravel(), -exponent), minlength=cells)
    image_power = np.ldexp(np.maximum(excess, 0.0) / np.maximum(transfer, np.finfo(np.float64).tiny), -exponent)
    image_power = np.minimum.accumulate(image_power.reshape(_RINGS, _SECTORS), axis=0).ravel()
    with np.errstate(divide="ignore"):
        bins = _LogBins(np.log10(otf.ravel()), w)
    image_sum = bins.sum(image_power[cell])

    def risk(log_lams):
        lams = 10.0 ** log_lams[:, None]
        h = bins.ratio[None, :]
        return ((lams**2 * image_sum + noise * h * bins.count) / (h + lams) ** 2).sum(axis=1)

    return _minimise(risk)


def gcv_nsr(spectrum_power, otf_power, reg_power=1.0, *, full_width=None):
    """Choose the regularisation weight of a Wiener filter by generalised cross-validation.

    For the filter ``X = conj(H) G / (|H|^2 + lam |R|^2)`` the influence operator
    is diagonal in the Fourier domain, ``A = |H|^2 / (|H|^2 + lam |R|^2)``, and
    generalised cross-validation [1]_ picks the ``lam`` minimising

        V(lam) = mean(|(1 - A) G|^2) / mean(1 - A)^2.

    ``1 - A = 1 / (1 + q / lam)`` depends on the frequency only through
    ``q = |H|^2 / |R|^2``, so the frequencies are binned by ``log10 q`` (200 bins
    per decade) and V is evaluated for many ``lam`` at once on the bins: a grid of
    0.05 decade over [1e-10, 1e2], then 0.002 decade around its minimum. The cost
    is a few passes over the spectrum.

    GCV assumes the image is a draw from the prior the regulariser encodes, power
    ``1 / |R|^2``. For the Laplacian that fits photographs and GCV lands close to
    the best weight. For a constant ``|R|^2`` (identity, the classical Wiener
    filter) it assumes white images and chooses a weight 3-5 times too small, which
    costs 1-5 dB. So in that case GCV is run with the Laplacian, only to measure the
    noise power (its residual ``|(1-A)G|^2 / mean(1-A)``), and the returned NSR is
    the one minimising the predicted error ``sum (lam^2 S + |H|^2 N) / (|H|^2 +
    lam)^2``, with the image power S estimated on a polar grid from ``|G|^2``.

    Parameters
    ----------
    spectrum_power : array_like
        ``|G|^2`` of the observed canvas in ``rfft2`` layout, shape of
        ``otf_power``, or with an extra channel axis last or first (channels share
        one weight: their powers are summed). Its scale does not change the choice.
    otf_power : array_like
        ``|H|^2`` on the same grid, 2-D and not empty.
    reg_power : array_like or float, optional
        ``|R|^2`` of the regulariser on the same grid, or broadcastable to it: a
        constant ``c`` for the identity, ``|Laplacian|^2`` for constrained least
        squares. Frequencies where it is 0 are not regularised.
    full_width : int, optional
        Width of the canvas (the ``rfft2`` grid has ``full_width // 2 + 1``
        columns); by default ``2 * (columns - 1)`` (1 for a single column).

    Returns
    -------
    float
        The chosen ``lam``. For a ``reg_power`` that varies, in [1e-10, 1e2], the
        range searched. For a constant ``c`` the NSR ``lam c`` (what the filter adds
        to ``|H|^2``) is the one chosen in [1e-10, 1e2], and ``lam = NSR / c`` is
        returned: in [1e-10 / c, 1e2 / c] (the NSR itself for ``c = 1``).

    Raises
    ------
    ParameterError
        Arrays that are empty or do not fit one grid, hold no real numbers, or hold
        negative or non-finite powers (the message quotes the dtype, the count of bad
        values or the lowest value); a constant ``reg_power`` that is 0, or so small
        that ``NSR / c`` overflows.

    References
    ----------
    .. [1] G. H. Golub, M. Heath and G. Wahba, "Generalized cross-validation as
       a method for choosing a good ridge parameter", Technometrics 21(2),
       215-223, 1979.
    """
    otf_full = np.asarray(otf_power)
    if otf_full.ndim != 2 or otf_full.size == 0:
        raise ParameterError(f"OTF power must be a non-empty 2-D rfft2 grid, got shape {otf_full.shape}")
    grid = otf_full.shape
    full_width = max(2 * (grid[1] - 1), 1) if full_width is None else check_int(full_width, "full_width", 1)
    if full_width // 2 + 1 != grid[1]:
        raise ParameterError(
            f"a canvas {full_width} wide has {full_width // 2 + 1} rfft2 columns, not {grid[1]}"
        )
    try:
        reg_full = np.broadcast_to(np.asarray(reg_power), grid)
    except ValueError:
        raise ParameterError(
            f"regulariser power of shape {np.shape(reg_power)} does not fit the OTF grid {grid}"
        ) from None
    # Every quantity is a mean over frequencies: a regular subsample of about
    # _MAX_FREQUENCIES of them gives the same choice at a fraction of the cost.
    step = max(1, int(np.ceil(np.sqrt(otf_full.size / _MAX_FREQUENCIES))))
    signal = _channel_sum(spectrum_power, grid, step)
    otf = _checked_power(otf_full[::step, ::step], "OTF")
    reg = _checked_power(reg_full[::step, ::step], "regulariser")
    weights = np.broadcast_to(_hermitian_weights(grid[1], full_width)[::step], otf.shape)
    if np.ptp(reg) > 0:
        return _gcv(signal, otf, reg, weights)[0]
    if reg.flat[0] == 0:
        raise ParameterError("regulariser power is 0 everywhere; nothing to choose")
    _, noise = _gcv(signal, otf, laplacian_power((grid[0], full_width), step), weights)
    nsr, constant = _risk_identity(signal, otf, weights, noise, grid, full_width, step), float(reg.flat[0])
    if nsr / constant == math.inf:  # Python floats: no warning, inf
        raise ParameterError(f"regulariser power {constant:g} is too small: the weight {nsr:g} / {constant:g} overflows")
    return nsr / constant


_MIN_SIDE = 32
_ROUNDING = {"length": 2, "angle": 2, "radius": 2, "sigma": 2, "confidence": 3}


def _rounded(value, key=None):
    """Plain Python numbers, rounded for reading: the result goes to JSON reports."""
    if isinstance(value, dict):
        return {k: _rounded(v, k) for k, v in value.items()}
    if isinstance(value, (float, np.floating)):
        if key == "noise_sigma":
            return float(f"{float(value):.3g}")
        return round(float(value), _ROUNDING.get(key, 3))
    if isinstance(value, np.integer):
        return int(value)
    return value


def estimate_blur(pixels, kind=None):
    """Estimate an image's blur (kind and parameters) and noise from the image alone.

    The image's power spectrum is compared with the spectra the blur models
    produce (see :mod:`deblur_cli.estimate_blind`): the parallel stripes of a
    motion blur give its direction and length, the rings of a defocus blur its
    radius, the smooth fall-off of a Gaussian blur its sigma. Colour channels are
    averaged. The analysis runs on the central 512x512 square, or on the mean
    spectrum of two such squares along each side of 1024 pixels or more (up to
    2x2), so a large image costs no more than a small one and the parameters
    keep their meaning in the full image's pixels.

    Parameters
    ----------
    pixels : array_like
        Image, (H, W) or (H, W, C), at least 32x32.
    kind : {None, "motion", "defocus", "gaussian"}, optional
        Restrict the answer to one kind of blur; its best parameters are then
        returned whatever the confidence.

    Returns
    -------
    dict
        JSON-safe: ``kind`` ("motion", "defocus", "gaussian", or "none" when no
        model fits: a sharp image, noise, a flat image, or a blur of another
        kind), the parameters of that kind (``length`` and ``angle`` in pixels
        and degrees, counter-clockwise from +x, in [0, 180); ``radius``;
        ``sigma``), ``confidence`` in [0, 1] (the evidence for the reported kind;
        for "none", that of the best candidate, which is below 0.5),
        ``noise_sigma`` (mean over channels, in the image's units), ``crop`` (side
        of the analysed squares), ``scores`` (evidence per kind), ``candidates``
        (the best parameters of every kind) and, for "none", a ``reason``.

    Raises
    ------
    ParameterError
        Unknown ``kind``.
    InputError
        The image is smaller than 32x32, not (H, W) / (H, W, C), or holds NaN or
        infinite values.

    References
    ----------
    .. [1] J. P. Oliveira, M. A. T. Figueiredo and J. M. Bioucas-Dias,
       "Parametric blur estimation for blind restoration of natural images:
       linear motion and out-of-focus", IEEE Transactions on Image Processing
       23(1), 466-477, 2014.
    """
    from . import estimate_blind

    if kind is not None and kind not in BLUR_KINDS:
        raise ParameterError(f"unknown blur kind {kind!r}; use one of {', '.join(BLUR_KINDS)}")
    array = as_image(pixels, min_side=_MIN_SIDE)
    result = estimate_blind.estimate(array, kind)
    channels = 1 if array.ndim == 2 else array.shape[2]
    if channels > 1:  # the spectrum's noise is that of the grey mean; report the image's own
        result["noise_sigma"] = noise_sigma(_central(array, result["crop"]))
    return _rounded(result)


def _central(array, size):
    top = (array.shape[0] - size) // 2
    left = (array.shape[1] - size) // 2
    return array[top : top + size, left : left + size]


def estimate_psf(pixels, kind=None):
    """Estimate an image's blur and return it as a kernel.

    Parameters
    ----------
    pixels : array_like
        Image, (H, W) or (H, W, C).
    kind : {None, "motion", "defocus", "gaussian"}, optional
        See :func:`estimate_blur`.

    Returns
    -------
    psf : ndarray of float32
        The kernel of the estimated blur (:func:`.psf.motion`, :func:`.psf.defocus`
        or :func:`.psf.gaussian`). When no blur is identified (kind "none"), the
        1x1 identity kernel rather than an invented blur; ``deblur deconv`` then
        leaves the image as it is (Wiener with it would scale the image by
        1 / (1 + NSR)).
    info : dict
        The result of :func:`estimate_blur`.

    Raises
    ------
    ParameterError
        Unknown ``kind``.
    InputError
        An image :func:`estimate_blur` refuses.
    """
    from . import psf

    info = estimate_blur(pixels, kind)
    if info["kind"] == "motion":
        kernel = psf.motion(info["length"], info["angle"])
    elif info["kind"] == "defocus":
        kernel = psf.defocus(info["radius"])
    elif info["kind"] == "gaussian":
        kernel = psf.gaussian(info["sigma"])
    else:
        kernel = np.ones((1, 1), dtype=np.float32)
    return kernel, info

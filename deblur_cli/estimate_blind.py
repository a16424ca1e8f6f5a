"""Blind blur estimation from the power spectrum of one image (used by :mod:`.estimate`).

A blurred image's power spectrum is the scene's spectrum times ``|H|^2`` plus the
noise floor. The scene's spectrum is smooth (close to a power law of the radial
frequency), while ``|H|^2`` carries sharp structure: the parallel dark stripes of a
motion blur (``|sinc|^2`` across the motion direction), the dark rings of a defocus
blur (``|jinc|^2``), or the smooth Gaussian fall-off. Following the parametric
approach of [2]_, the steps are:

1. the grey image's central square (or up to 2x2 of them for large images) is
   reduced to its periodic component [1]_ (which removes the cross that
   the image borders put into the spectrum, without a window that would blur the
   zeros), and its periodogram's logarithm is taken;
2. motion: the log spectrum minus its radial mean is projected along every
   direction (a Radon transform); the stripes line up, and the projection varies
   most, when projecting along them; 1 degree steps, then 0.05 degree around the
   best. The length is the one whose model projection ``log(|H1(t)|^2 + eps(t))``,
   ``H1`` the transfer function of the exact kernel of :func:`.psf.motion` along
   its direction and ``eps`` a noise-to-signal floor fitted per image, correlates
   best with the measured one (both high-passed). Short blurs, whose few broad
   stripes the scene's own straight edges can pull, have their angle refined
   against the 2-D model;
3. defocus and Gaussian: the radial mean of the log spectrum is fitted by
   ``log(A rho^b |H(rho)|^2 + N)``, ``H`` the angular mean of the transfer function
   of the exact kernel of :func:`.psf.defocus` or :func:`.psf.gaussian`, ``N`` the
   noise power from :func:`.estimate.noise_sigma`, ``A`` and ``b`` fitted
   (Levenberg-Marquardt); the blur parameter minimising the squared error wins,
   first on a coarse grid, then on a fine one;
4. the model is chosen from the motion evidence (correlation and anisotropy of
   the projections) and from how much each isotropic model lowers the error of
   the no-blur fit (``H = 1``).

References
----------
.. [1] L. Moisan, "Periodic plus smooth image decomposition", Journal of
   Mathematical Imaging and Vision 39(2), 161-179, 2011.
.. [2] J. P. Oliveira, M. A. T. Figueiredo and J. M. Bioucas-Dias, "Parametric
   blur estimation for blind restoration of natural images: linear motion and
   out-of-focus", IEEE Transactions on Image Processing 23(1), 466-477, 2014.
"""

import functools
from dataclasses import dataclass

import numpy as np

from . import psf as _psf

__all__ = [
    "Spectrum",
    "spectrum",
    "radial_mean",
    "radial_transfer",
    "fit_isotropic",
    "anisotropic_part",
    "projection",
    "fit_motion",
    "fit_defocus",
    "fit_gaussian",
    "fit_sharp",
    "scores",
    "estimate",
    "ACCEPT",
    "CROP",
    "MOTION_FLOORS",
    "SHORT_MOTION",
]

CROP = 512
"""Side of the analysed squares; larger images are analysed on up to four of them."""
_EULER_GAMMA = 0.5772156649015329  # mean of log(E) - log(mean) for exponential E
_MIN_RADIUS = 2  # frequency bins next to DC hold the scene's largest structures only
MOTION_FLOORS = tuple(
    (level, slope) for level in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1) for slope in (0.0, 2.0, 4.0)
)
"""Floors of the model ``log(|H1(t)|^2 + eps(t))`` of the motion projection, as
``eps(t) = level * (t / 0.1)^slope``: about the noise-to-signal ratio at frequency
``t``, which sets the depth of the stripes there and grows with ``t`` as the scene's
power falls. The length search runs with ``(1e-2, 0)``, then the floor that fits the
found length best is kept and the length refined."""


@dataclass(frozen=True)
class Spectrum:
    """The log power spectrum of an image's analysed squares.

    Attributes
    ----------
    log_power : ndarray of float32
        (c, c), natural log of the mean periodogram, DC at (c // 2, c // 2).
    size : int
        c, the side of the squares.
    noise_sigma : float
        Noise standard deviation of the grey squares.
    contrast : float
        Standard deviation of the grey squares (0 for a flat image).
    """

    log_power: np.ndarray
    size: int
    noise_sigma: float
    contrast: float

    @property
    def log_noise(self):
        """Mean log periodogram of the noise alone: ``log(c^2 sigma^2) - gamma``."""
        power = max(self.noise_sigma, 1e-6) ** 2 * self.size**2
        return float(np.log(power) - _EULER_GAMMA)


def _periodic_component(tile):
    """Moisan's periodic component: the tile minus the smooth image that carries its border jumps."""
    from .deconv import laplacian_otf

    tile = tile.astype(np.float64)
    boundary = np.zeros_like(tile)
    jump = tile[-1, :] - tile[0, :]
    boundary[0, :] += jump
    boundary[-1, :] -= jump
    jump = tile[:, -1] - tile[:, 0]
    boundary[:, 0] += jump
    boundary[:, -1] -= jump
    denominator = laplacian_otf(tile.shape)
    denominator[0, 0] = 1.0
    smooth = np.fft.rfft2(boundary) / denominator
    smooth[0, 0] = 0.0
    return tile - np.fft.irfft2(smooth, s=tile.shape)


def _squares(grey, size):
    """The central square of ``size``, or the 2x2 block of them for images twice as large."""
    height, width = grey.shape
    count_y = 2 if height >= 2 * size else 1
    count_x = 2 if width >= 2 * size else 1
    top = (height - count_y * size) // 2
    left = (width - count_x * size) // 2
    return [
        grey[top + i * size : top + (i + 1) * size, left + j * size : left + (j + 1) * size]
        for i in range(count_y)
        for j in range(count_x)
    ]


def spectrum(pixels):
    """Log power spectrum and noise level of an image's analysed squares.

    Parameters
    ----------
    pixels : ndarray
        (H, W) or (H, W, C) image; colour channels are averaged.

    Returns
    -------
    Spectrum
    """
    from .estimate import noise_sigma

    grey = np.asarray(pixels, dtype=np.float32)
    if grey.ndim == 3:  # summed in float64: the sum of channels near float32's max is beyond it
        grey = grey.mean(axis=2, dtype=np.float64).astype(np.float32)
    size = min(CROP, grey.shape[0], grey.shape[1])
    size -= size % 2
    squares = _squares(grey, size)
    power = np.zeros((size, size), dtype=np.float64)
    for square in squares:
        periodic = _periodic_component(square)
        periodic -= periodic.mean()
        power += np.abs(np.fft.fft2(periodic)) ** 2
    power /= len(squares)
    sigma = float(np.mean([noise_sigma(square) for square in squares]))
    contrast = float(np.mean([square.std(dtype=np.float64) for square in squares]))
    tiny = np.finfo(np.float32).tiny
    log_power = np.log(np.maximum(np.fft.fftshift(power), tiny)).astype(np.float32)
    return Spectrum(log_power, size, sigma, contrast)


# ------------------------------------------------------------------ radial geometry


@functools.lru_cache(maxsize=4)
def _radial_index(size):
    """Integer radius of every frequency of a centred (size, size) grid."""
    offsets = np.arange(size) - size // 2
    return np.rint(np.hypot(offsets[:, None], offsets[None, :])).astype(np.intp)


def _ring_means(values, radius):
    """Mean of ``values`` over each integer ``radius`` (same shape), float64, 0 for empty rings."""
    sums = np.bincount(radius.ravel(), weights=values.ravel())
    return sums / np.maximum(np.bincount(radius.ravel()), 1)


def radial_mean(log_power):
    """Mean of a centred square array over rings of integer radius.

    Parameters
    ----------
    log_power : ndarray
        (c, c) array with the zero frequency at (c // 2, c // 2).

    Returns
    -------
    ndarray of float64
        (c // 2,) mean over the frequencies whose rounded distance from the centre
        is 0, 1, ..., c // 2 - 1.
    """
    size = log_power.shape[0]
    return _ring_means(log_power, _radial_index(size))[: size // 2]


# ------------------------------------------------------------------ isotropic models


def _radial_frequencies(size):
    """Frequencies (cycles/pixel) of the rings of :func:`radial_mean` from ``_MIN_RADIUS`` on."""
    return np.arange(_MIN_RADIUS, size // 2) / size


@functools.lru_cache(maxsize=2)
def _bessel_table(size, squared_limit):
    """``J0(2 pi rho sqrt(n))`` for the radial frequencies of a (size, size) grid and n < limit."""
    from scipy.special import j0

    rho = _radial_frequencies(size)
    return j0(2 * np.pi * np.outer(rho, np.sqrt(np.arange(squared_limit))))


def radial_transfer(kernel, size):
    """Angular mean of a kernel's transfer function at the radial frequencies of a grid.

    The mean of ``exp(-2 pi i k.x)`` over the directions of ``k`` is
    ``J0(2 pi |k| |x|)``, so the kernel's weights are summed per squared distance
    from its centre (an integer) and multiplied by a cached table of J0.

    Parameters
    ----------
    kernel : ndarray
        Centred 2-D kernel.
    size : int
        Side of the spectrum grid; the frequencies are ``r / size`` for the integer
        radii ``r`` of :func:`radial_mean` from 2 on.

    Returns
    -------
    ndarray of float64
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    rows, cols = kernel.shape
    y, x = np.mgrid[:rows, :cols]
    squared = ((y - rows // 2) ** 2 + (x - cols // 2) ** 2).ravel()
    limit = 1 << int(squared.max()).bit_length()  # few table sizes, so the cache is reused
    weights = np.bincount(squared, weights=kernel.ravel(), minlength=limit)
    return _bessel_table(size, limit) @ weights


def fit_isotropic(profile, rho, log_noise, transfer_power, iterations=15):
    """Fit ``log(A rho^b T + N)`` to a radial log-power profile, for many transfers T at once.

    Parameters
    ----------
    profile : ndarray
        (n,) mean log power at radial frequencies ``rho``.
    rho : ndarray
        (n,) radial frequencies, cycles/pixel, > 0.
    log_noise : float
        Mean log power of the noise alone.
    transfer_power : ndarray
        (m, n) candidate ``|H|^2``.
    iterations : int, optional
        Levenberg-Marquardt steps (on log A and b, per candidate).

    Returns
    -------
    ndarray
        (m,) sum of squared residuals of each candidate's best fit.
    """
    basis = np.stack([np.ones_like(rho), np.log(rho / 0.1)], axis=1)  # (n, 2)
    count = transfer_power.shape[0]
    noise = np.exp(log_noise)
    # start: least squares on the log, with a floor standing in for the noise
    start = profile[None, :] - np.log(transfer_power + 1e-2)
    params = np.linalg.lstsq(basis, start.T, rcond=None)[0].T  # (m, 2)

    def evaluate(p):
        signal = np.exp(np.clip(p @ basis.T, -700, 700)) * transfer_power
        total = signal + noise
        return np.log(total), signal / total

    model, share = evaluate(params)
    error = ((profile - model) ** 2).sum(axis=1)
    damping = np.full(count, 1e-3)
    eye = np.eye(2)
    for _ in range(iterations):
        jacobian = share[:, :, None] * basis[None]  # d model / d params
        normal = np.einsum("mnk,mnl->mkl", jacobian, jacobian)
        gradient = np.einsum("mnk,mn->mk", jacobian, profile - model)
        scale = np.trace(normal, axis1=1, axis2=2)[:, None, None] / 2 + 1e-12
        step = np.linalg.solve(normal + damping[:, None, None] * scale * eye, gradient[..., None])[..., 0]
        trial = params + step
        trial_model, trial_share = evaluate(trial)
        trial_error = ((profile - trial_model) ** 2).sum(axis=1)
        better = trial_error < error
        params[better] = trial[better]
        model[better] = trial_model[better]
        share[better] = trial_share[better]
        error[better] = trial_error[better]
        damping = np.where(better, damping * 0.3, damping * 10.0)
    return error


# ------------------------------------------------------------------ motion


@functools.lru_cache(maxsize=4)
def _annulus(size):
    """Frequencies used for the motion analysis: radius in [2, size/2 - 1) of a centred grid."""
    offsets = np.arange(size) - size // 2
    radius = np.hypot(offsets[:, None], offsets[None, :])
    return (radius >= _MIN_RADIUS) & (radius < size // 2 - 1)


@functools.lru_cache(maxsize=4)
def _column_counts(size):
    """Frequencies of the annulus per projection bin; the same for every angle."""
    return _annulus(size).sum(axis=0).astype(np.float64)


def anisotropic_part(spec):
    """The log spectrum minus its radial mean, 0 outside the annulus used.

    Parameters
    ----------
    spec : Spectrum

    Returns
    -------
    ndarray of float32
        (c, c), centred like ``spec.log_power``; 0 below radius 2 and from
        radius c/2 - 1 on.
    """
    size = spec.size
    radius = _radial_index(size)
    means = _ring_means(spec.log_power, radius)
    detrended = spec.log_power - means[radius].astype(np.float32)
    return np.where(_annulus(size), detrended, np.float32(0)).astype(np.float32)


def projection(detrended, angle):
    """Mean of the detrended log spectrum along lines perpendicular to ``angle``.

    Parameters
    ----------
    detrended : ndarray of float32
        (c, c) output of :func:`anisotropic_part`.
    angle : float
        Direction of the projection axis, degrees counter-clockwise from +x.

    Returns
    -------
    ndarray of float64
        (c,) profile over the coordinate ``t`` along ``angle``: bin ``c/2`` is
        ``t = 0`` and bin ``i`` the frequency ``(i - c/2) / c`` cycles/pixel.
    """
    import cv2

    size = detrended.shape[0]
    # The spectrum's rows grow with the vertical frequency pointing down, so the
    # motion direction (counter-clockwise on screen) is turned onto +x by rotating
    # the array by -angle, which cv2 writes as a positive angle in its convention.
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), -angle, 1.0)
    turned = cv2.warpAffine(detrended, matrix, (size, size), flags=cv2.INTER_LINEAR)
    return turned.sum(axis=0) / np.maximum(_column_counts(size), 1.0)


def _projection_spread(detrended, angles):
    counts = _column_counts(detrended.shape[0])
    used = counts > 0.3 * detrended.shape[0]
    return np.array([np.var(projection(detrended, a)[used]) for a in angles])


def _half(profile):
    """Fold a projection onto t >= 0 (it is even, the power spectrum being point-symmetric)."""
    centre = profile.size // 2
    return 0.5 * (profile[centre:] + profile[centre:0:-1][: profile.size - centre])


def _exact_motion_transfer(length, angle, t):
    """Transfer of the exact motion kernel along its direction at frequencies ``t``."""
    kernel = _psf.motion(length, angle).astype(np.float64)
    rows, cols = kernel.shape
    y, x = np.nonzero(kernel)
    phi = np.radians(angle)
    along = (x - cols // 2) * np.cos(phi) - (y - rows // 2) * np.sin(phi)
    return np.cos(2 * np.pi * np.outer(t, along)) @ kernel[y, x]  # point-symmetric kernel


def _box_transfer(length, angle, t):
    """Closed-form stand-in for the coarse search: a box of ``length`` samples (Dirichlet kernel)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.sin(np.pi * length * t) / (length * np.sin(np.pi * t))
    return np.where(t == 0, 1.0, ratio)


def _floor(frequency, floor):
    level, slope = floor
    return level * (frequency / 0.1) ** slope


def _length_scores(half, size, angle, lengths, transfer, floor):
    """Correlation of the high-passed folded projection with each length's model."""
    from scipy.ndimage import gaussian_filter1d

    t = np.arange(half.size) / size
    counts = _column_counts(size)[size // 2 :]
    used = (counts > 0.3 * size) & (np.arange(half.size) >= _MIN_RADIUS)
    scores = np.zeros(len(lengths))
    for i, length in enumerate(lengths):
        model = np.log(transfer(length, angle, t) ** 2 + _floor(t, floor))
        sigma = max(0.7 * size / length, 2.0)  # keeps about one stripe period, removes trends
        a = (half - gaussian_filter1d(half, sigma, mode="mirror"))[used]
        b = (model - gaussian_filter1d(model, sigma, mode="mirror"))[used]
        if a.std() > 0 and b.std() > 0:
            scores[i] = np.corrcoef(a, b)[0, 1]
    return np.nan_to_num(scores)


def _refine(score, values):
    """The best of ``values`` by ``score`` (an array function of them), and its score."""
    scores = score(values)
    index = int(np.argmax(scores))
    return float(values[index]), float(scores[index])


def _fit_length(detrended, size, angle):
    """Length of the motion model that fits the projection at ``angle``, and its correlation."""
    half = _half(projection(detrended, angle))

    def scores(transfer, floor=(1e-2, 0.0)):
        return lambda lengths: _length_scores(half, size, angle, lengths, transfer, floor)

    longest = max(8.0, size / 4)
    grid = 4.0 * np.exp(np.arange(0.0, np.log(longest / 4.0), 0.02))  # 2 % steps
    length = _refine(scores(_box_transfer), grid)[0]
    length = _refine(scores(_exact_motion_transfer), np.linspace(0.97 * length, 1.03 * length, 13))[0]
    fits = [scores(_exact_motion_transfer, floor)(np.array([length]))[0] for floor in MOTION_FLOORS]
    floor = MOTION_FLOORS[int(np.argmax(fits))]
    step = 0.005 * length
    length, correlation = _refine(
        scores(_exact_motion_transfer, floor), np.linspace(length - step, length + step, 11)
    )
    return length, correlation


_MODEL_FLOOR = 1e-2


def _model_correlations(detrended, length, angles):
    """Correlation of the detrended log spectrum with the 2-D motion model, per angle.

    Both are binned 2x2 (the stripes of the short blurs this serves are many bins
    wide) and compared on the half-plane, the spectrum being point-symmetric. The
    model's floor is fixed: only the stripes' direction matters here.
    """
    import cv2

    from .psf import psf2otf

    size = detrended.shape[0] // 2
    columns = size - size // 2  # frequencies 0 .. columns - 1 along x
    data = cv2.resize(detrended, (size, size), interpolation=cv2.INTER_AREA)[:, size // 2 :]
    radius = _radial_index(size)[:, size // 2 :]
    used = _annulus(size)[:, size // 2 :]
    observed = data[used] - data[used].mean()
    correlations = []
    for angle in angles:
        otf = psf2otf(_psf.motion(length, angle), (size, size))[:, :columns]
        model = np.fft.fftshift(np.log(np.abs(otf) ** 2 + _MODEL_FLOOR), axes=0)
        # the radial mean over the half-plane is that of the plane, by symmetry
        expected = (model - _ring_means(model, radius)[radius])[used]
        expected -= expected.mean()
        norm = np.sqrt((observed**2).sum() * (expected**2).sum())
        correlations.append(float((observed * expected).sum() / norm) if norm > 0 else 0.0)
    return np.array(correlations)


SHORT_MOTION = 20.0
"""Below this length (pixels) the angle is refined by the 2-D model: the stripes are few
and broad, and the projections' spread alone is pulled by the scene's own anisotropy."""


def fit_motion(spec):
    """Motion angle and length from the log spectrum.

    Parameters
    ----------
    spec : Spectrum

    Returns
    -------
    dict
        ``angle`` (degrees in [0, 180)), ``length`` (pixels), ``correlation`` of the
        model projection with the measured one, ``anisotropy`` (the largest
        projection variance over the median one, 1 for an isotropic spectrum).
    """
    detrended = anisotropic_part(spec)
    coarse = np.arange(0.0, 180.0, 1.0)
    spread = _projection_spread(detrended, coarse)
    anisotropy = float(spread.max() / max(np.median(spread), 1e-12))
    best = coarse[int(np.argmax(spread))]
    fine = np.arange(best - 1.0, best + 1.0 + 1e-9, 0.05)
    angle = _refine(lambda a: _projection_spread(detrended, a), fine)[0] % 180.0
    length, correlation = _fit_length(detrended, spec.size, angle)
    if length < SHORT_MOTION and spec.size >= 128:

        def by_model(angles):
            return _model_correlations(detrended, length, angles)

        angle = _refine(by_model, angle + np.arange(-2.0, 2.0 + 1e-9, 0.5))[0]
        angle = _refine(by_model, angle + np.arange(-0.4, 0.4 + 1e-9, 0.1))[0] % 180.0
        length, correlation = _fit_length(detrended, spec.size, angle)
    return {"angle": float(angle), "length": length, "correlation": correlation, "anisotropy": anisotropy}


# ------------------------------------------------------------------ isotropic searches


def _radial_data(spec):
    return radial_mean(spec.log_power)[_MIN_RADIUS:], _radial_frequencies(spec.size)


@functools.lru_cache(maxsize=2)
def _pixel_aperture(size):
    """Angular mean of sinc(u) sinc(v), the transfer of integrating over a pixel square."""
    rho = _radial_frequencies(size)
    phi = np.linspace(0, np.pi / 2, 33)
    return (np.sinc(np.outer(rho, np.cos(phi))) * np.sinc(np.outer(rho, np.sin(phi)))).mean(axis=1)


def _pillbox_transfer(radius, size):
    """Approximate pillbox transfer: the disk's jinc times the pixel aperture (no aliasing)."""
    from scipy.special import j1

    rho = _radial_frequencies(size)
    arg = 2 * np.pi * radius * rho
    return 2 * j1(arg) / arg * _pixel_aperture(size)


def _gaussian_transfer(sigma, size):
    rho = _radial_frequencies(size)
    return np.exp(-2 * (np.pi * sigma * rho) ** 2)


def _isotropic_search(spec, approximate, make_kernel, grid, fine_step):
    """Best parameter of an isotropic kernel family and its squared error.

    The coarse grid uses the closed-form transfer ``approximate``; the fine grid
    around its best uses the exact kernels (as :mod:`.psf` draws them).
    """
    profile, rho = _radial_data(spec)

    def errors(transfers):
        return fit_isotropic(profile, rho, spec.log_noise, np.square(transfers))

    coarse = errors([approximate(v, spec.size) for v in grid])
    best = grid[int(np.argmin(coarse))]
    step = grid[1] - grid[0]
    fine = np.arange(max(grid[0], best - step), min(grid[-1], best + step) + 1e-9, fine_step)
    fine_errors = errors([radial_transfer(make_kernel(v), spec.size) for v in fine])
    index = int(np.argmin(fine_errors))
    return float(fine[index]), float(fine_errors[index])


def fit_defocus(spec):
    """Radius of the best pillbox model and its squared error.

    Parameters
    ----------
    spec : Spectrum

    Returns
    -------
    radius : float
        Pixels, searched from 1 to ``max(3, min(30, c / 16))``.
    error : float
        Sum of squared residuals of its fit (:func:`fit_isotropic`).
    """
    largest = max(3.0, min(30.0, spec.size / 16))
    return _isotropic_search(
        spec, _pillbox_transfer, _psf.defocus, np.arange(1.0, largest + 1e-9, 0.25), 0.02
    )


def fit_gaussian(spec):
    """Sigma of the best Gaussian model and its squared error.

    Parameters
    ----------
    spec : Spectrum

    Returns
    -------
    sigma : float
        Pixels, searched from 0.4 to ``max(2, min(8, c / 32))``.
    error : float
        Sum of squared residuals of its fit (:func:`fit_isotropic`).
    """
    largest = max(2.0, min(8.0, spec.size / 32))
    return _isotropic_search(
        spec, _gaussian_transfer, _psf.gaussian, np.arange(0.4, largest + 1e-9, 0.1), 0.01
    )


def fit_sharp(spec):
    """Squared error of the no-blur model (H = 1): the reference for the others.

    Parameters
    ----------
    spec : Spectrum

    Returns
    -------
    float
        Sum of squared residuals of its fit (:func:`fit_isotropic`).
    """
    profile, rho = _radial_data(spec)
    return float(fit_isotropic(profile, rho, spec.log_noise, np.ones((1, rho.size)))[0])


# ------------------------------------------------------------------ model choice

ACCEPT = 0.5
"""A blur is reported when its score reaches this; below it the answer is "none"."""


def _ramp(value, start, width):
    """0 below ``start``, 1 above ``start + width``, linear between."""
    return float(np.clip((value - start) / width, 0.0, 1.0))


def scores(motion, sharp_error, defocus_error, gaussian_error, radius, sigma):
    """Evidence in [0, 1] for each kind of blur.

    - motion: the model projection's correlation (0.75 -> 0, 0.9 -> 1) times the
      anisotropy of the projections (2.5 -> 0, 5 -> 1);
    - defocus: the pillbox fit's error relative to the no-blur fit (0.75 -> 0,
      0.45 -> 1; large disks leave little signal, and fit less closely), times a share between 0.5 and 1 that grows with its margin over
      the Gaussian fit (0.81 when both fit equally), times a ramp on the radius
      (1.2 -> 0, 1.5 -> 1: the search starts at 1, where the best fit of a sharp
      image lands);
    - gaussian: the Gaussian fit's relative error (0.3 -> 0, 0.15 -> 1), times
      the complementary share, times a ramp on sigma (0.7 -> 0, 1 -> 1: below
      0.7 px a Gaussian is within the spread of sharp photographs' spectra).

    The thresholds were set on synthetic blurs of photographs from
    scikit-image's data module other than the sample images.

    Parameters
    ----------
    motion : dict
        Result of :func:`fit_motion`; its ``correlation`` and ``anisotropy`` are used.
    sharp_error : float
        Error of :func:`fit_sharp`.
    defocus_error, gaussian_error : float
        Errors of :func:`fit_defocus` and :func:`fit_gaussian`.
    radius, sigma : float
        Parameters of :func:`fit_defocus` and :func:`fit_gaussian`, pixels.

    Returns
    -------
    dict
        ``motion``, ``defocus`` and ``gaussian``, each a float in [0, 1].
    """
    sharp = max(sharp_error, 1e-12)
    defocus = max(defocus_error, 1e-12)
    gaussian = max(gaussian_error, 1e-12)
    # 1 when only the pillbox fits, 0 when only the Gaussian does; 0.625 on a tie, which
    # goes to the pillbox (the common photographic blur; the two kernels are then alike)
    share = _ramp(np.log2(gaussian / defocus), -1.25, 2.0)
    return {
        "motion": _ramp(motion["correlation"], 0.75, 0.15) * _ramp(motion["anisotropy"], 2.5, 2.5),
        "defocus": _ramp(-defocus / sharp, -0.75, 0.3) * (0.5 + 0.5 * share) * _ramp(radius, 1.2, 0.3),
        "gaussian": _ramp(-gaussian / sharp, -0.3, 0.15) * (1.0 - 0.5 * share) * _ramp(sigma, 0.7, 0.3),
    }


def estimate(pixels, kind=None):
    """Blind estimate of an image's blur; see :func:`.estimate.estimate_blur`.

    Parameters
    ----------
    pixels : ndarray
        (H, W) or (H, W, C) image of finite values; colour channels are averaged.
    kind : {None, "motion", "defocus", "gaussian"}, optional
        Report this kind whatever its score; None chooses the best one, or "none"
        when no score reaches :data:`ACCEPT`.

    Returns
    -------
    dict
        The fields of :func:`.estimate.estimate_blur`, unrounded. For a flat image
        only ``kind`` ("none"), ``confidence`` (0), ``noise_sigma``, ``crop`` and
        ``reason``.
    """
    spec = spectrum(pixels)
    if not spec.contrast > 0:
        return {
            "kind": "none",
            "confidence": 0.0,
            "noise_sigma": spec.noise_sigma,
            "crop": spec.size,
            "reason": "the image is flat: there is no structure to measure a blur on",
        }
    motion = fit_motion(spec)
    radius, defocus_error = fit_defocus(spec)
    sigma, gaussian_error = fit_gaussian(spec)
    evidence = scores(motion, fit_sharp(spec), defocus_error, gaussian_error, radius, sigma)
    candidates = {
        "motion": {"length": motion["length"], "angle": motion["angle"]},
        "defocus": {"radius": radius},
        "gaussian": {"sigma": sigma},
    }
    # on a tie an isotropic blur wins: a sharp scene's own straight edges can look like
    # motion stripes, while a motion blur never fits the isotropic models well
    best = max(("defocus", "gaussian", "motion") if kind is None else (kind,), key=evidence.get)
    accepted = kind is not None or evidence[best] >= ACCEPT
    result = {"kind": best if accepted else "none"}
    if accepted:
        result.update(candidates[best])
    result.update(confidence=evidence[best], noise_sigma=spec.noise_sigma, crop=spec.size)
    if not accepted:
        result["reason"] = "no blur model fits well enough: the image looks sharp, or its blur is of another kind"
    result.update(scores=evidence, candidates=candidates)
    return result

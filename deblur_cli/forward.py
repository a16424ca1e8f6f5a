"""The forward model: blur an image with a PSF as a camera does, then add noise.

A camera integrates a scene that goes on beyond the frame, so nothing wraps around:
the image is extended by mirror reflection (``abc|cba`` at each edge), convolved with
the PSF, and the centre, of the original size, is kept.
"""

import numpy as np

from .checks import as_image, check_int, check_real
from .errors import ParameterError
from .opencv import in_channel_groups
from .psf import validate_psf

__all__ = ["blur", "check_noise_sigma"]


def check_noise_sigma(sigma, name="noise sigma"):
    """Check a noise level: a number from 0 to 1e6 (a fraction of full range).

    Parameters
    ----------
    sigma : float
        The value to check.
    name : str, optional
        What the error message calls it (the CLI's option name, say).

    Returns
    -------
    float

    Raises
    ------
    ParameterError
        Not a number from 0 to 1e6.
    """
    rule = "a number from 0 to 1e6 (a fraction of full range)"
    value = check_real(sigma, name, rule)
    if not 0 <= value <= 1e6:  # NaN fails too
        raise ParameterError(f"{name} must be {rule}, got {sigma}")
    return value


def _check_seed(seed):
    """A seed for :func:`numpy.random.default_rng`: None, or an integer >= 0."""
    return None if seed is None else check_int(seed, "seed", 0)


def _correlate(array, kernel, anchor):
    import cv2

    result = cv2.filter2D(np.ascontiguousarray(array), -1, kernel, anchor=anchor, borderType=cv2.BORDER_REFLECT)
    return result.reshape(array.shape)  # OpenCV drops a channel axis of length 1


def convolve_reflected(image, kernel):
    """:func:`blur` without noise, of a checked float32 image and a valid kernel (:func:`.psf.validate_psf`)."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1])
    anchor = (flipped.shape[1] // 2, flipped.shape[0] // 2)
    return in_channel_groups(_correlate, image, flipped, anchor)


def blur(pixels, psf, *, noise_sigma=0.0, seed=None):
    """Convolve an image with a PSF on a reflected canvas and add Gaussian noise.

    Parameters
    ----------
    pixels : ndarray
        Image, (H, W) or (H, W, C), float32 (other types are converted).
    psf : ndarray
        2-D kernel, centred at ``(h // 2, w // 2)``; normalised to sum 1 here.
    noise_sigma : float, optional
        Standard deviation of the additive white Gaussian noise, in the image's
        units (1.0 = full range for integer sources).
    seed : int, optional
        Seed of the noise generator (:func:`numpy.random.default_rng`); the same
        seed gives the same noise.

    Returns
    -------
    ndarray of float32
        Blurred image of the same shape, not clipped.

    Raises
    ------
    ParameterError
        ``noise_sigma`` not a number in [0, 1e6], or ``seed`` not None nor an
        integer >= 0.
    InputError
        Invalid image (see :func:`.checks.as_image`) or PSF, or a PSF larger than
        the image.

    Notes
    -----
    The convolution is ``scipy.ndimage.convolve(pixels, psf, mode="reflect")`` per
    channel, computed with OpenCV's ``filter2D`` (which correlates, hence the flipped
    kernel, and switches to a DFT for large kernels).
    """
    noise_sigma = check_noise_sigma(noise_sigma)
    seed = _check_seed(seed)
    image = as_image(pixels)
    blurred = convolve_reflected(image, validate_psf(psf, image.shape[:2]))
    if noise_sigma > 0:
        rng = np.random.default_rng(seed)
        blurred += rng.standard_normal(blurred.shape, dtype=np.float32) * np.float32(noise_sigma)
    return blurred

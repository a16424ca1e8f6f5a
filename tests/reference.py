"""Independent references the tests compare with: direct ports of MATLAB's definitions in
float64 numpy, written apart from the package's code, and test photographs."""

import numpy as np


def photo(shape, top=60, left=120):
    """A crop of scikit-image's camera (grey) or astronaut (RGB) photograph, float32 in [0, 1]."""
    from skimage import data

    source = data.camera() if len(shape) == 2 else data.astronaut()
    return (source[top : top + shape[0], left : left + shape[1]] / 255).astype(np.float32)


def matlab_psf2otf(kernel, shape):
    """MATLAB's ``psf2otf``: the kernel zero-padded at the end to ``shape``, rolled by
    ``-(k // 2)`` on each axis so its centre lands on (0, 0), then the full complex ``fft2``."""
    padded = np.zeros(shape)
    padded[: kernel.shape[0], : kernel.shape[1]] = kernel
    padded = np.roll(padded, (-(kernel.shape[0] // 2), -(kernel.shape[1] // 2)), axis=(0, 1))
    return np.fft.fft2(padded)


def circular_blur(image, kernel):
    """The image convolved circularly with the kernel (each channel), and the OTF used."""
    otf = matlab_psf2otf(kernel, image.shape[:2])
    if image.ndim == 3:
        otf = otf[..., None]
    return np.real(np.fft.ifft2(np.fft.fft2(image, axes=(0, 1)) * otf, axes=(0, 1))), otf


def matlab_edgetaper(image, psf):
    """MATLAB's ``edgetaper(I, PSF)`` for a 2-D PSF, line by line.

    For each non-singleton axis n of the PSF, its projection onto n, transformed at
    ``sizeI(n) - 1`` points: ``z = real(ifft(abs(fft(proj, N - 1)).^2))``, made periodic as
    ``z([1:end 1]) / max(z)`` (beta); ``alpha = (1 - beta_1)(1 - beta_2)'``. Then
    ``J = alpha.*I + (1-alpha).*real(ifftn(fftn(I).*psf2otf(PSF, sizeI)))``, bounded by the
    image's range. For an RGB image MATLAB's ``fftn`` also runs along the channel axis, where
    the padded PSF is constant, so each channel is blurred alone, as here.
    """
    image = np.asarray(image, dtype=np.float64)
    psf = np.asarray(psf, dtype=np.float64) / np.sum(psf)
    alpha = np.ones(image.shape[:2])
    for axis in (0, 1):
        if psf.shape[axis] == 1:
            continue
        projection = psf.sum(axis=1 - axis)
        n = image.shape[axis]
        z = np.real(np.fft.ifft(np.abs(np.fft.fft(projection, n - 1)) ** 2))
        beta = np.concatenate([z, z[:1]]) / z.max()
        alpha *= (1 - beta)[:, None] if axis == 0 else (1 - beta)[None, :]
    blurred, _ = circular_blur(image, psf)
    if image.ndim == 3:
        alpha = alpha[..., None]
    tapered = alpha * image + (1 - alpha) * blurred
    return np.clip(tapered, image.min(), image.max())

"""Restoration quality of `wiener` against the OpenCV sample recipe and scikit-image, same run.

Usage: python bench/bench_quality.py [--images astronaut camera ...] [--quick]

Cases: every sample image x {motion 15 px at 30 deg, motion 21 px at 100 deg, defocus
radius 5, Gaussian sigma 2.5} x noise sigma {0.002, 0.01}. Each case is made by the forward
model of `deblur blur` (`deblur_cli.forward.blur`, fixed seed) and then cropped by the PSF's
size on every side, so that its borders hold light from outside the frame, as a camera's
do; the sharp reference is cropped the same way.

Methods, each with its best NSR (balance) from the same grid, per case:
- deblur: `deblur_cli.deconv.wiener`, `--boundary reflect` (the default), identity regulariser;
- deblur-auto: the same with `nsr="auto"` (generalised cross-validation, the CLI's
  default): no grid, no reference needed;
- deblur edgetaper / periodic: the other boundary modes, for reference;
- opencv: the recipe of OpenCV's samples/python/deconvolution.py, `blur_edge(img, d=31)`
  then the DFT Wiener filter `H / (|H|^2 + noise)` with `cv.mulSpectrums`, per channel. The
  sample rolls the result by `-kh//2`, which is one pixel off for odd kernels; the roll
  here is by the kernel's centre, in the peer's favour;
- skimage: `skimage.restoration.wiener(img, psf, balance)` per channel (its default
  Laplacian regulariser), which treats the image as periodic.
PSNR is over the whole (cropped) frame and all channels, outputs clipped to [0, 1].
Prints one row per case and the mean of each method.
"""

import argparse
import os
import time

import cv2
import numpy as np

from deblur_cli.forward import blur
from deblur_cli.deconv import wiener
from deblur_cli.images import read_image
from deblur_cli.psf import defocus, gaussian, motion

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "sample_images")
IMAGES = ["astronaut", "camera", "coffee", "hubble_16bit"]
PSFS = {
    "motion15@30": lambda: motion(15, 30),
    "motion21@100": lambda: motion(21, 100),
    "defocus5": lambda: defocus(5),
    "gauss2.5": lambda: gaussian(2.5),
}
NOISE = [0.002, 0.01]
NSR_GRID = np.geomspace(1e-5, 1.0, 21)  # 4 steps per decade


def psnr(reference, image):
    mse = np.mean((reference.astype(np.float64) - np.clip(image, 0, 1)) ** 2)
    return 10 * np.log10(1.0 / mse)


def blur_edge(img, d=31):
    """OpenCV sample's blur_edge: blend the borders with a wrapped Gaussian blur."""
    h, w = img.shape[:2]
    img_pad = cv2.copyMakeBorder(img, d, d, d, d, cv2.BORDER_WRAP)
    img_blur = cv2.GaussianBlur(img_pad, (2 * d + 1, 2 * d + 1), -1)[d:-d, d:-d]
    y, x = np.indices((h, w))
    dist = np.dstack([x, w - x - 1, y, h - y - 1]).min(-1)
    weight = np.minimum(np.float32(dist) / d, 1.0)
    return img * weight + img_blur * (1 - weight)


def opencv_recipe(plane, psf, noise):
    """OpenCV sample's Wiener deconvolution of one float32 plane."""
    img = blur_edge(plane)
    spectrum = cv2.dft(img, flags=cv2.DFT_COMPLEX_OUTPUT)
    psf_pad = np.zeros_like(img)
    kh, kw = psf.shape
    psf_pad[:kh, :kw] = psf
    otf = cv2.dft(psf_pad, flags=cv2.DFT_COMPLEX_OUTPUT, nonzeroRows=kh)
    otf2 = (otf**2).sum(-1)
    inverse = otf / (otf2 + np.float32(noise))[..., np.newaxis]
    result = cv2.idft(cv2.mulSpectrums(spectrum, inverse, 0), flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
    return np.roll(result, (-(kh // 2), -(kw // 2)), axis=(0, 1))


def per_channel(function, image, *args):
    if image.ndim == 2:
        return function(image, *args)
    return np.stack([function(np.ascontiguousarray(image[..., c]), *args) for c in range(image.shape[2])], axis=2)


def skimage_wiener(plane, psf, balance):
    from skimage.restoration import wiener as sk_wiener

    return sk_wiener(plane, psf, balance)


METHODS = {
    "deblur": lambda img, psf, nsr: wiener(img, psf, nsr),
    "deblur-auto": lambda img, psf, nsr: wiener(img, psf, "auto"),
    "deblur-edgetaper": lambda img, psf, nsr: wiener(img, psf, nsr, boundary="edgetaper"),
    "deblur-periodic": lambda img, psf, nsr: wiener(img, psf, nsr, boundary="periodic"),
    "opencv": lambda img, psf, nsr: per_channel(opencv_recipe, img, psf, nsr),
    "skimage": lambda img, psf, nsr: per_channel(skimage_wiener, img, psf, nsr),
}
PEERS = ("opencv", "skimage")
UNTUNED = ("deblur-auto",)  # methods that choose their own NSR


def make_case(name, psf, sigma, seed=2024):
    """Blurred and sharp images of one case, cropped by the PSF's size (camera-like borders)."""
    sharp = read_image(os.path.join(SAMPLES, name + ".png")).pixels
    blurred = blur(sharp, psf, noise_sigma=sigma, seed=seed)
    my, mx = psf.shape
    crop = np.s_[my:-my, mx:-mx]
    return np.ascontiguousarray(blurred[crop]), np.ascontiguousarray(sharp[crop])


def best(method, blurred, sharp, psf, grid):
    scores = [(psnr(sharp, method(blurred, psf, nsr)), nsr) for nsr in grid]
    return max(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", nargs="+", default=IMAGES, choices=IMAGES)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    methods = args.methods
    print(f"{'image':<14}{'psf':<14}{'noise':>6} {'blurred':>8}" + "".join(f"{m:>18}" for m in methods))
    totals = {m: [] for m in methods}
    start = time.perf_counter()
    for name in args.images:
        for psf_name, make_psf in PSFS.items():
            psf = make_psf()
            for sigma in NOISE:
                blurred, sharp = make_case(name, psf, sigma)
                row = f"{name:<14}{psf_name:<14}{sigma:>6} {psnr(sharp, blurred):>8.2f}"
                for m in methods:
                    if m in UNTUNED:
                        score = psnr(sharp, METHODS[m](blurred, psf, None))
                        row += f"{score:>18.2f}"
                    else:
                        score, nsr = best(METHODS[m], blurred, sharp, psf, NSR_GRID)
                        row += f"{score:>10.2f} ({nsr:.0e})"
                    totals[m].append(score)
                print(row, flush=True)
    means = {m: float(np.mean(v)) for m, v in totals.items()}
    print(f"{'mean PSNR (dB)':<42}" + "".join(f"{means[m]:>18.2f}" for m in methods))
    peers = [m for m in PEERS if m in means]
    if "deblur" in means and peers:
        top = max(peers, key=means.get)
        print(f"deblur (reflect) - best peer ({top}): {means['deblur'] - means[top]:+.2f} dB "
              f"(target >= +1.20 dB); {len(totals['deblur'])} cases, {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

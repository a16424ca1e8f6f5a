"""Speed of `wiener` on a 3840x2160 RGB image against the FFT floor and two peers, same run.

Usage: python bench/bench_speed.py [--repeat 5] [--width 3840 --height 2160]

Given PSF (motion 15 px at 30 deg) and NSR (0.01), medians of REPEAT runs of:
- deblur: `deblur_cli.deconv.wiener(image, psf, nsr)` (boundary reflect, the default),
  the Wiener filter (OTF) computed afresh each run, as for a single image;
- deblur, batch: the same with the filter kept from the previous call, as in a batch of
  images of one size and one PSF;
- floor: one float32 `scipy.fft.rfft2` + `irfft2` pair over the same padded shape and
  channels, with the same number of threads: what any DFT Wiener filter must at least do;
- opencv: the OpenCV sample recipe (blur_edge + DFT Wiener, `cv.dft`), per channel;
- skimage: `skimage.restoration.wiener`, per channel, on the same float32 data;
- skimage f64: the same on float64 data, what it gets from `img_as_float` of 8-bit images.
The first call of each is a warm-up and is not timed; then the methods take turns, round
after round, so that the machine's load touches them alike. Prints seconds and ratios.
"""

import argparse
import os
import statistics
import time

import cv2
import numpy as np
import scipy.fft

from bench_quality import opencv_recipe, per_channel, skimage_wiener
from deblur_cli.boundary import extend
from deblur_cli import deconv
from deblur_cli.deconv import wiener
from deblur_cli.images import read_image
from deblur_cli.psf import motion
from deblur_cli.threads import fft_workers

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "sample_images", "astronaut.png")
NSR = 0.01


def make_image(width, height):
    """The astronaut sample stretched to width x height, float32 RGB in [0, 1]."""
    pixels = read_image(SAMPLE).pixels
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_CUBIC)


def median_times(functions, repeat):
    """Median seconds of each function; the functions take turns in every round, so a
    change in the machine's load touches them all alike."""
    for function in functions.values():
        function()
    times = {name: [] for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--skip-peers", action="store_true", help="Time deblur and the floor only.")
    args = parser.parse_args()
    image = make_image(args.width, args.height)
    psf = motion(15, 30)
    canvas, _ = extend(image, psf.shape, "reflect", psf=psf)
    workers = fft_workers()

    def floor():
        spectrum = scipy.fft.rfft2(canvas, axes=(0, 1), workers=workers)
        scipy.fft.irfft2(spectrum, s=canvas.shape[:2], axes=(0, 1), workers=workers)

    def single():
        deconv._cached_filter.cache_clear()  # pay for the OTF and filter, as one image does
        wiener(image, psf, NSR)

    functions = {
        "deblur": single,
        "deblur, batch": lambda: wiener(image, psf, NSR),
        "floor": floor,
    }
    if not args.skip_peers:
        image64 = image.astype(np.float64)
        functions["opencv"] = lambda: per_channel(opencv_recipe, image, psf, NSR)
        functions["skimage"] = lambda: per_channel(skimage_wiener, image, psf, NSR)
        functions["skimage f64"] = lambda: per_channel(skimage_wiener, image64, psf, NSR)
    timings = median_times(functions, args.repeat)
    print(f"image {args.width}x{args.height} RGB float32, PSF {psf.shape[0]}x{psf.shape[1]} (motion 15 px at 30 deg), "
          f"NSR {NSR}; canvas {canvas.shape[0]}x{canvas.shape[1]}; {workers} FFT threads; median of {args.repeat}")
    print(f"{'method':<15}{'seconds':>10}{'time / deblur':>16}")
    for name, seconds in timings.items():
        print(f"{name:<15}{seconds:>10.3f}{seconds / timings['deblur']:>15.2f}x")
    print(f"deblur / floor = {timings['deblur'] / timings['floor']:.2f} (target <= 1.30); "
          f"deblur, batch / floor = {timings['deblur, batch'] / timings['floor']:.2f}")
    if "opencv" in timings:
        print(f"opencv / deblur = {timings['opencv'] / timings['deblur']:.1f} (target >= 4); "
              f"skimage / deblur = {timings['skimage'] / timings['deblur']:.1f} (target >= 6)")


if __name__ == "__main__":
    main()

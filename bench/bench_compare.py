"""Speed of `deblur compare` on two directories, whole process, against reading alone and a peer.

Usage: python bench/bench_compare.py [--count 200] [--size 512]

Makes COUNT RGB PNGs of SIZE x SIZE in expected/ (the bundled photos, shifted and flipped
so each differs) and the same images in actual/ with a +-1 perturbation on a tenth of the
samples. Then, in the same run:

- whole process: `deblur compare expected actual --json` (stdout discarded), with
  --jobs 1 and with the default (one thread per core), and on one pair (the fixed cost
  of starting the process);
- reading alone: a fresh process that imports deblur and reads the 2*COUNT files with
  `read_image`, one after the other (what --jobs 1 cannot do faster);
- per-pair breakdown in this process: seconds spent reading a pair and in
  `metrics.quality` (PSNR, SSIM, max difference);
- peer: the usual script, imageio.imread + skimage.metrics peak_signal_noise_ratio and
  structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  channel_axis=2), one pair after the other.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = [os.path.join(HERE, "..", "sample_images", name) for name in ("astronaut.png", "coffee.png", "camera.png")]

READ_ALL = """
import sys, time
start = time.perf_counter()
from deblur_cli.images import read_image
for path in sys.argv[1:]:
    read_image(path)
print(time.perf_counter() - start)
"""


def make_inputs(expected, actual, count, size):
    rng = np.random.default_rng(0)
    bases = [cv2.resize(cv2.imread(path, cv2.IMREAD_COLOR), (size, size), interpolation=cv2.INTER_AREA) for path in SAMPLES]
    names = []
    for i in range(count):
        image = np.roll(bases[i % len(bases)], 5 * i, axis=1)
        if i % 2:
            image = image[:, ::-1]
        noise = rng.integers(-1, 2, image.shape) * (rng.random(image.shape) < 0.1)
        name = f"set{i % 4}/img{i:03d}.png"
        for directory, array in ((expected, image), (actual, np.clip(image + noise, 0, 255).astype(np.uint8))):
            os.makedirs(os.path.join(directory, os.path.dirname(name)), exist_ok=True)
            cv2.imwrite(os.path.join(directory, name), array)
        names.append(name)
    return names


def whole_process(expected, actual, *options):
    """Wall time of one `deblur compare` run."""
    command = [sys.executable, "-m", "deblur_cli", "compare", expected, actual, "--json", *options]
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.DEVNULL, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"deblur compare exited with {result.returncode}")
    return seconds


def read_alone(paths):
    result = subprocess.run([sys.executable, "-c", READ_ALL, *paths], capture_output=True, text=True, check=True)
    return float(result.stdout)


def breakdown(pairs):
    from deblur_cli.images import read_image
    from deblur_cli.metrics import quality

    reading = measuring = 0.0
    for a, b in pairs:
        start = time.perf_counter()
        reference, image = read_image(a), read_image(b)
        middle = time.perf_counter()
        quality(reference, image)
        reading += middle - start
        measuring += time.perf_counter() - middle
    return reading, measuring


def peer(pairs):
    import imageio.v3 as iio
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    start = time.perf_counter()
    for a, b in pairs:
        reference, image = iio.imread(a), iio.imread(b)
        peak_signal_noise_ratio(reference, image)
        structural_similarity(reference, image, gaussian_weights=True, sigma=1.5,
                              use_sample_covariance=False, data_range=255, channel_axis=2)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        expected, actual = os.path.join(tmp, "expected"), os.path.join(tmp, "actual")
        names = make_inputs(expected, actual, args.count, args.size)
        pairs = [(os.path.join(expected, n), os.path.join(actual, n)) for n in names]
        paths = [path for pair in pairs for path in pair]
        megabytes = sum(os.path.getsize(p) for p in paths) / 1e6
        whole_process(expected, actual)  # warm the page cache and the imports
        jobs1 = whole_process(expected, actual, "--jobs", "1")
        default = whole_process(expected, actual)
        startup = whole_process(*pairs[0])
        alone = read_alone(paths)
        reading, measuring = breakdown(pairs)
        reference = peer(pairs)
    n = args.count
    print(f"{n} pairs of {args.size}x{args.size} RGB PNG ({megabytes:.0f} MB), {os.cpu_count()} cores")
    print("| what | seconds | ms per pair |")
    print("|---|---|---|")
    for label, seconds, count in [
        ("`deblur compare A B --json --jobs 1` (whole process)", jobs1, n),
        (f"`deblur compare A B --json` (whole process, {os.cpu_count()} threads)", default, n),
        ("`deblur compare a.png b.png --json` (one pair: process start-up)", startup, 1),
        (f"reading the {2 * n} files alone (`read_image`, one process, serial)", alone, n),
        ("in-process, serial: reading the pairs", reading, n),
        ("in-process, serial: `metrics.quality` (PSNR+SSIM+diff)", measuring, n),
        ("peer: imageio + skimage PSNR/SSIM, serial", reference, n),
    ]:
        print(f"| {label} | {seconds:.2f} | {1000 * seconds / count:.1f} |")
    print(f"reading share of the serial work: {reading / (reading + measuring):.0%}")
    overhead = (jobs1 - startup) / n - (reading + measuring) / n
    print(f"--jobs 1 whole process over reading alone: {jobs1 / alone:.2f}x")
    print(f"per-pair cost of --jobs 1 beyond reading + metrics: {1000 * overhead:.1f} ms")
    print(f"speed-up of the default over --jobs 1: {jobs1 / default:.2f}x")
    print(f"speed-up of --jobs 1 over the skimage peer: {reference / jobs1:.2f}x")


if __name__ == "__main__":
    main()

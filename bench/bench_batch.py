"""Batch throughput of `deblur deconv` with --jobs 1 and --jobs 2, whole process, same run.

Usage: python bench/bench_batch.py [--count 64] [--size 1024] [--repeat 3]

Makes COUNT RGB PNGs of SIZE x SIZE (the bundled astronaut, enlarged and shifted so each
differs), deblurs them all with a given PSF and NSR, once per --jobs value, and prints
images per second and the speed-up of --jobs 2 over --jobs 1. A third run, --jobs 1
--threads 1, shows how the work scales over processes alone: by default one job uses
every core for its FFTs and OpenCV calls, so --jobs 1 is already partly parallel.
A fourth, two independent `--jobs 1 --threads 1` processes started together on
`--shard 1/2` and `--shard 2/2`, is what the machine gives two copies of the work with no
pool at all: the ceiling for --jobs 2.

The runs are interleaved, REPEAT rounds of all three, and each figure is the median of
its rounds; dirty pages are flushed before each run so that no run pays for the writes
of the one before.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "sample_images", "astronaut.png")


def make_inputs(directory, count, size):
    base = cv2.resize(cv2.imread(SAMPLE), (size, size), interpolation=cv2.INTER_CUBIC)
    for i in range(count):
        cv2.imwrite(os.path.join(directory, f"img{i:03d}.png"), np.roll(base, 7 * i, axis=1))


def run_batch(inputs, out_dir, extras):
    """Seconds until every one of the commands (one per entry of ``extras``, run at once) ends."""
    command = [sys.executable, "-m", "deblur_cli", "deconv", inputs, "--out-dir", out_dir,
               "--motion", "15,30", "--nsr", "0.01", "--quiet"]
    os.sync()
    start = time.perf_counter()
    processes = [subprocess.Popen(command + extra) for extra in extras]
    if any(process.wait() for process in processes):
        sys.exit("a batch failed")
    seconds = time.perf_counter() - start
    shutil.rmtree(out_dir)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "in")
        os.mkdir(inputs)
        make_inputs(inputs, args.count, args.size)
        alone = ["--jobs", "1", "--threads", "1"]
        runs = {"--jobs 1": [["--jobs", "1"]], "--jobs 2": [["--jobs", "2"]], "--jobs 1 --threads 1": [alone],
                "two processes, --shard 1/2 and 2/2": [alone + ["--shard", "1/2"], alone + ["--shard", "2/2"]]}
        seconds = {label: [] for label in runs}
        for _ in range(args.repeat):
            for label, extra in runs.items():
                seconds[label].append(run_batch(inputs, os.path.join(tmp, "out"), extra))
        rates = {label: args.count / statistics.median(times) for label, times in seconds.items()}
        print(f"{args.count} images of {args.size}x{args.size} RGB, deblur deconv --motion 15,30 --nsr 0.01, "
              f"{os.cpu_count()} cores, median of {args.repeat}")
        print("| options | seconds | images/s |")
        print("|---|---|---|")
        for label, rate in rates.items():
            print(f"| `{label}` | {args.count / rate:.1f} | {rate:.2f} |")
        ceiling = rates["two processes, --shard 1/2 and 2/2"]
        print(f"--jobs 2 over --jobs 1: {rates['--jobs 2'] / rates['--jobs 1']:.2f}x (target >= 1.8x); "
              f"over --jobs 1 --threads 1: {rates['--jobs 2'] / rates['--jobs 1 --threads 1']:.2f}x; "
              f"two independent processes over --jobs 1: {ceiling / rates['--jobs 1']:.2f}x; "
              f"--jobs 2 reaches {rates['--jobs 2'] / ceiling:.0%} of them")


if __name__ == "__main__":
    main()

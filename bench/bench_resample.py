"""Speed of upsampling by 2: bilinear and transposed convolution against OpenCV and NumPy.

Usage: python bench/bench_resample.py [--width 3840] [--height 2160] [--repeat 5]

Input: a WIDTH x HEIGHT RGB float32 image (the bundled astronaut photo resized to it);
output: 2*WIDTH x 2*HEIGHT. In one run, each method is timed REPEAT times in turn
(round robin, so a busy machine slows all of them alike) and the median is reported:

- peer ``cv2.resize(..., INTER_LINEAR)``;
- ``resample.resize_bilinear`` (the same convention; target <= 1.2 x cv2.resize);
- ``resample.conv_transpose2d`` with FCN's bilinear kernel, stride 2, padding 1
  (target <= 2 x cv2.resize), and the same with ``normalize_border=True``
  (which equals bilinear interpolation);
- a straightforward NumPy transposed convolution: one strided ``+=`` of the
  scaled input per kernel tap into the full canvas, then the crop;
- when PyTorch is importable, ``torch.nn.functional.conv_transpose2d`` and
  ``interpolate`` on the CPU (default threads) as further peers.

The results are checked against each other before the table is printed.
"""

import argparse
import os
import statistics
import time

import cv2
import numpy as np

from deblur_cli.resample import bilinear_kernel, conv_transpose2d, resize_bilinear

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLE = os.path.join(HERE, "..", "sample_images", "astronaut.png")


def numpy_scatter(x, kernel, stride, padding):
    """Transposed convolution the direct way: every tap adds a strided copy of the input."""
    (h, w), (kh, kw) = x.shape[:2], kernel.shape
    full = np.zeros(((h - 1) * stride + kh, (w - 1) * stride + kw) + x.shape[2:], np.float32)
    for u in range(kh):
        for v in range(kw):
            full[u : u + (h - 1) * stride + 1 : stride, v : v + (w - 1) * stride + 1 : stride] += kernel[u, v] * x
    return full[padding : full.shape[0] - padding, padding : full.shape[1] - padding]


def torch_methods(x, kernel):
    try:
        import torch
    except ImportError:
        return {}
    functional = torch.nn.functional
    planes = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))
    weight = torch.from_numpy(kernel)[None, None]

    def transposed():
        with torch.no_grad():
            return functional.conv_transpose2d(planes[:, None], weight, stride=2, padding=1)

    def interpolate():
        with torch.no_grad():
            return functional.interpolate(planes[None], scale_factor=2, mode="bilinear", align_corners=False)

    return {"torch conv_transpose2d (peer)": transposed, "torch interpolate bilinear (peer)": interpolate}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=3840)
    parser.add_argument("--height", type=int, default=2160)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    photo = cv2.cvtColor(cv2.imread(SAMPLE, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    x = cv2.resize(photo, (args.width, args.height), interpolation=cv2.INTER_CUBIC)
    size = (2 * args.height, 2 * args.width)
    kernel = bilinear_kernel(2)
    methods = {
        "cv2.resize INTER_LINEAR (peer)": lambda: cv2.resize(x, size[::-1], interpolation=cv2.INTER_LINEAR),
        "resize_bilinear": lambda: resize_bilinear(x, size),
        "conv_transpose2d, bilinear kernel": lambda: conv_transpose2d(x, kernel, 2, 1),
        "conv_transpose2d, bilinear kernel, normalize_border": lambda: conv_transpose2d(
            x, kernel, 2, 1, normalize_border=True),
        "NumPy scatter, bilinear kernel": lambda: numpy_scatter(x, kernel, 2, 1),
    }
    methods.update(torch_methods(x, kernel))

    reference = methods["cv2.resize INTER_LINEAR (peer)"]()
    checks = {
        "resize_bilinear": methods["resize_bilinear"](),
        "conv_transpose2d, bilinear kernel, normalize_border": methods[
            "conv_transpose2d, bilinear kernel, normalize_border"](),
    }
    for name, result in checks.items():
        error = float(np.abs(result - reference).max())
        print(f"check: {name} vs cv2.resize: max abs diff {error:.2e}")
        assert error < 1e-5
    del checks
    transposed = methods["conv_transpose2d, bilinear kernel"]()
    error = float(np.abs(transposed - methods["NumPy scatter, bilinear kernel"]()).max())
    print(f"check: conv_transpose2d vs NumPy scatter: max abs diff {error:.2e}")
    assert error < 1e-5
    del transposed, reference

    times = {name: [] for name in methods}
    for _ in range(args.repeat):
        for name, method in methods.items():
            start = time.perf_counter()
            result = method()
            times[name].append(time.perf_counter() - start)
            del result
    medians = {name: statistics.median(values) for name, values in times.items()}
    peer = medians["cv2.resize INTER_LINEAR (peer)"]
    scatter = medians["NumPy scatter, bilinear kernel"]
    print()
    print(f"{args.width}x{args.height} RGB float32 -> {size[1]}x{size[0]}, median of {args.repeat}, "
          f"{cv2.getNumThreads()} OpenCV threads")
    print()
    print("| method | median ms | / cv2.resize | / NumPy scatter |")
    print("|---|---:|---:|---:|")
    for name, seconds in medians.items():
        print(f"| {name} | {seconds * 1000:.0f} | {seconds / peer:.2f} | {seconds / scatter:.3f} |")
    print()
    targets = [("resize_bilinear", 1.2), ("conv_transpose2d, bilinear kernel", 2.0)]
    for name, target in targets:
        ratio = medians[name] / peer
        print(f"{name} / cv2.resize = {ratio:.2f} (target <= {target}): {'met' if ratio <= target else 'NOT met'}")


if __name__ == "__main__":
    main()

"""Round trip by 2: downsample, upsample back, PSNR against the original, for every method pair.

Usage: python bench/roundtrip_table.py [IMAGES...]   (default: sample_images/*.png)

Each image is read as ``deblur`` reads it (float32 in [0, 1]) and cropped to even
height and width; it is shrunk by 2 with each ``downsample`` method (area, max,
bilinear) and enlarged by 2 with each ``upsample`` method, in float32 without
rounding between the steps; PSNR (all channels, peak 1.0) of the result against the
cropped original is printed as a Markdown table, one row per image and shrinking
method, one column per enlarging method.
"""

import argparse
import glob
import os

import numpy as np

from deblur_cli.images import read_image
from deblur_cli.metrics import psnr
from deblur_cli.resample import (
    DOWNSAMPLE_METHODS,
    bilinear_kernel,
    conv_transpose2d,
    downsample,
    nearest_kernel,
    resize_bilinear,
)

HERE = os.path.dirname(os.path.abspath(__file__))

UPSAMPLE = {
    "bilinear": lambda x: resize_bilinear(x, (2 * x.shape[0], 2 * x.shape[1])),
    "bilinear --align-corners": lambda x: resize_bilinear(x, (2 * x.shape[0], 2 * x.shape[1]), align_corners=True),
    "transposed bilinear": lambda x: conv_transpose2d(x, bilinear_kernel(2), 2, 1),
    "transposed bilinear --normalize-border": lambda x: conv_transpose2d(
        x, bilinear_kernel(2), 2, 1, normalize_border=True),
    "transposed nearest": lambda x: conv_transpose2d(x, nearest_kernel(2), 2, 0),
}


def main(paths):
    paths = paths or sorted(glob.glob(os.path.join(HERE, "..", "sample_images", "*.png")))
    print("| image | downsample | " + " | ".join(f"upsample {name}" for name in UPSAMPLE) + " |")
    print("|---|---|" + "---:|" * len(UPSAMPLE))
    totals = {(down, up): [] for down in DOWNSAMPLE_METHODS for up in UPSAMPLE}
    for path in paths:
        original = read_image(path).pixels
        original = original[: original.shape[0] // 2 * 2, : original.shape[1] // 2 * 2]
        for down in DOWNSAMPLE_METHODS:
            small = downsample(original, 2, down)
            cells = []
            for up, enlarge in UPSAMPLE.items():
                value = psnr(original, enlarge(small), data_range=1.0)
                totals[down, up].append(value)
                cells.append(f"{value:.2f}")
            print(f"| {os.path.basename(path)} | {down} | " + " | ".join(cells) + " |")
    for down in DOWNSAMPLE_METHODS:
        means = [np.mean(totals[down, up]) for up in UPSAMPLE]
        print(f"| **mean** | {down} | " + " | ".join(f"**{value:.2f}**" for value in means) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="*", help="Images to use [default: the sample images].")
    main(parser.parse_args().images)

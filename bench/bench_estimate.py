"""Blind estimation accuracy, automatic NSR and fully automatic deblurring, and the speed of `deblur estimate`.

Usage: python bench/bench_estimate.py [--cases 48] [--quality-cases 8] [--skip-speed] [--seed 2024]

Cases, per noise level (BSNR 40, 30 and 20 dB, BSNR = 10 log10(var(blurred) / sigma^2)):
``--cases`` of them, one quarter each of motion (length 7-45 px, angle 0-180 deg, both
uniform to 0.1), defocus (radius 2-15 px, to 0.01), Gaussian (sigma 1-5 px, to 0.01) and
no blur, over the four sample images in turn. Each is made as `deblur blur` makes it
(`deblur_cli.forward.blur`, then white Gaussian noise, then rounding to the file's 8 or 16
bits) and is then cropped by the PSF's size on every side, as `bench_quality.py` does, so
that its borders hold light from outside the frame.

1. Estimation (`deblur_cli.estimate.estimate_blur`): per noise level, the mean and max
   error of the angle (modulo 180), length, radius and sigma, each read from the
   candidate of the true kind (so a wrong model choice does not hide the parameter
   error), and how often the kind is chosen right: among motion and defocus cases (the
   target), and among all cases ("none" expected for the unblurred ones).
2. Automatic NSR: `wiener(..., nsr="auto")` with the true PSF against the best NSR of a
   grid (1e-5 .. 1, 8 per decade), PSNR against the sharp image; both regularisers.
3. Fully automatic: estimated PSF (`estimate_psf`) + auto NSR, against the true PSF +
   auto NSR and against the true PSF + the grid's best NSR.
4. Speed: `deblur estimate` on a 3840x2160 RGB PNG (a mosaic of the sample images,
   motion-blurred), whole process, median of 3 runs; and the time auto NSR adds to
   `wiener` on the same image.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from deblur_cli.forward import blur
from deblur_cli.deconv import wiener
from deblur_cli.estimate import estimate_blur, estimate_psf
from deblur_cli.images import read_image, write_image
from deblur_cli.metrics import psnr
from deblur_cli.psf import defocus, gaussian, motion

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "sample_images")
IMAGES = ["astronaut", "camera", "coffee", "hubble_16bit"]
KINDS = ["motion", "defocus", "gaussian", "none"]
BSNRS = [40, 30, 20]
NSR_GRID = np.geomspace(1e-5, 1.0, 41)


def load(name):
    return read_image(os.path.join(SAMPLES, f"{name}.png"))


def draw_cases(count, rng):
    """(image name, kind, parameters) for one noise level."""
    cases = []
    for i in range(count):
        kind = KINDS[i % 4]
        name = IMAGES[(i // 4) % len(IMAGES)]
        if kind == "motion":
            params = {"length": round(rng.uniform(7, 45), 1), "angle": round(rng.uniform(0, 180), 1)}
        elif kind == "defocus":
            params = {"radius": round(rng.uniform(2, 15), 2)}
        elif kind == "gaussian":
            params = {"sigma": round(rng.uniform(1, 5), 2)}
        else:
            params = {}
        cases.append((name, kind, params))
    return cases


def kernel_of(kind, params):
    if kind == "motion":
        return motion(params["length"], params["angle"])
    if kind == "defocus":
        return defocus(params["radius"])
    if kind == "gaussian":
        return gaussian(params["sigma"])
    return np.ones((1, 1), np.float32)


def observe(image, kernel, bsnr, seed):
    """Blurred, noisy, quantised and border-cropped image, with the matching sharp crop."""
    blurred = blur(image.pixels, kernel)
    sigma = float(np.sqrt(blurred.var(dtype=np.float64) / 10 ** (bsnr / 10)))
    noisy = blurred + np.random.default_rng(seed).normal(0, sigma, blurred.shape).astype(np.float32)
    top = 65535 if image.source_dtype == np.uint16 else 255
    stored = (np.rint(np.clip(noisy, 0, 1) * top) / top).astype(np.float32)
    kh, kw = kernel.shape
    crop = (slice(kh, -kh), slice(kw, -kw)) if kh > 1 else (slice(None), slice(None))
    return stored[crop], image.pixels[crop]


def angle_error(a, b):
    d = abs(a - b) % 180
    return min(d, 180 - d)


def fmt(values):
    return f"{np.mean(values):.3f} / {np.max(values):.3f}" if values else "-"


def estimation(args, images):
    rng = np.random.default_rng(args.seed)
    rows, quality_cases = [], []
    for bsnr in BSNRS:
        errors = {"angle": [], "length": [], "radius": [], "sigma": []}
        right_md, total_md, right_all = 0, 0, 0
        seconds = []
        cases = draw_cases(args.cases, rng)
        for index, (name, kind, params) in enumerate(cases):
            kernel = kernel_of(kind, params)
            observed, sharp = observe(images[name], kernel, bsnr, seed=args.seed + 1000 * bsnr + index)
            started = time.perf_counter()
            found = estimate_blur(observed)
            seconds.append(time.perf_counter() - started)
            right = found["kind"] == kind
            right_all += right
            if kind in ("motion", "defocus"):
                total_md += 1
                right_md += right
            if kind == "motion":
                candidate = found["candidates"]["motion"]
                errors["angle"].append(angle_error(candidate["angle"], params["angle"]))
                errors["length"].append(abs(candidate["length"] - params["length"]))
            elif kind in ("defocus", "gaussian"):
                key = "radius" if kind == "defocus" else "sigma"
                errors[key].append(abs(found["candidates"][kind][key] - params[key]))
            if args.verbose:
                print(f"  BSNR {bsnr} {name:12s} {kind:8s} {params} -> {found['kind']} "
                      f"{ {k: found[k] for k in ('length', 'angle', 'radius', 'sigma') if k in found} } "
                      f"conf {found['confidence']}", flush=True)
            if kind in ("motion", "defocus") and sum(q[4] == bsnr for q in quality_cases) < args.quality_cases:
                quality_cases.append((name, kind, params, observed, bsnr, sharp, kernel))
        rows.append((bsnr, errors, right_md / total_md, right_all / len(cases), np.mean(seconds)))
    print("## Blind estimation: error mean / max per noise level\n")
    print(f"{args.cases} cases per level ({args.cases // 4} each of motion, defocus, Gaussian, none); "
          "parameters read from the candidate of the true kind.\n")
    print("| BSNR | angle (deg) | length (px) | radius (px) | sigma (px) | kind right, motion+defocus | "
          "kind right, all | s/image |")
    print("|---|---|---|---|---|---|---|---|")
    for bsnr, errors, md, every, secs in rows:
        print(f"| {bsnr} dB | {fmt(errors['angle'])} | {fmt(errors['length'])} | {fmt(errors['radius'])} | "
              f"{fmt(errors['sigma'])} | {100 * md:.1f} % | {100 * every:.1f} % | {secs:.2f} |")
    print()
    return quality_cases


def best_on_grid(observed, sharp, kernel, reg):
    return max(psnr(sharp, np.clip(wiener(observed, kernel, nsr, reg=reg), 0, 1), data_range=1.0)
               for nsr in NSR_GRID)


def quality(cases):
    print("## Automatic NSR and fully automatic deblurring: PSNR (dB)\n")
    print("| case | BSNR | grid best, identity | auto, identity | grid best, laplacian | auto, laplacian | "
          "estimated PSF + auto | estimated kind |")
    print("|---|---|---|---|---|---|---|---|")
    gaps = {"identity": [], "laplacian": [], "full_vs_auto": [], "full_vs_grid": []}
    for name, kind, params, observed, bsnr, sharp, kernel in cases:
        cells = []
        auto = {}
        for reg in ("identity", "laplacian"):
            grid = best_on_grid(observed, sharp, kernel, reg)
            auto[reg] = psnr(sharp, np.clip(wiener(observed, kernel, "auto", reg=reg), 0, 1), data_range=1.0)
            gaps[reg].append(grid - auto[reg])
            cells += [f"{grid:.2f}", f"{auto[reg]:.2f}"]
            if reg == "identity":
                grid_identity = grid
        estimated, info = estimate_psf(observed)
        full = psnr(sharp, np.clip(wiener(observed, estimated, "auto"), 0, 1), data_range=1.0)
        gaps["full_vs_auto"].append(auto["identity"] - full)
        gaps["full_vs_grid"].append(grid_identity - full)
        label = f"{name} {kind} " + ",".join(f"{v:g}" for v in params.values())
        print(f"| {label} | {bsnr} | " + " | ".join(cells) + f" | {full:.2f} | {info['kind']} |", flush=True)
    print()
    print("| shortfall (dB), mean / max | |")
    print("|---|---|")
    print(f"| auto NSR vs grid best, identity | {fmt(gaps['identity'])} |")
    print(f"| auto NSR vs grid best, laplacian | {fmt(gaps['laplacian'])} |")
    print(f"| estimated PSF + auto vs true PSF + auto (identity) | {fmt(gaps['full_vs_auto'])} |")
    print(f"| estimated PSF + auto vs true PSF + grid best (identity) | {fmt(gaps['full_vs_grid'])} |")
    print()


def mosaic(images, shape=(2160, 3840)):
    """A 4K RGB picture tiled from the sample images at their own scale."""
    tiles = [img.pixels if img.pixels.ndim == 3 else np.repeat(img.pixels[..., None], 3, axis=2)
             for img in images.values()]
    out = np.zeros(shape + (3,), np.float32)
    k = 0
    for y in range(0, shape[0], 400):
        for x in range(0, shape[1], 400):
            tile = tiles[k % len(tiles)][:400, :400]
            k += 1
            h, w = min(tile.shape[0], shape[0] - y), min(tile.shape[1], shape[1] - x)
            out[y : y + h, x : x + w] = tile[:h, :w]
    return out


def speed(images):
    print("## Speed on a 3840x2160 RGB image\n")
    picture = blur(mosaic(images), motion(25, 40), noise_sigma=0.003, seed=1)
    reference = images["astronaut"]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mosaic4k.png")
        write_image(path, reference.with_pixels(np.clip(picture, 0, 1)))
        runs, output = [], ""
        for _ in range(3):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "deblur_cli", "estimate", path],
                                  capture_output=True, text=True, check=True)
            runs.append(time.perf_counter() - started)
            output = done.stdout.strip().split(": ", 1)[1]
    started = time.perf_counter()
    wiener(picture, motion(25, 40), 0.01)
    fixed = time.perf_counter() - started
    started = time.perf_counter()
    wiener(picture, motion(25, 40), "auto")
    automatic = time.perf_counter() - started
    print("| measure | seconds |")
    print("|---|---|")
    print(f"| `deblur estimate` whole process (read PNG + estimate), median of 3 | {statistics.median(runs):.2f} |")
    print(f"| `wiener`, NSR given | {fixed:.2f} |")
    print(f"| `wiener`, NSR auto | {automatic:.2f} |")
    print(f"\nEstimate (truth: motion 25 px at 40 deg, noise 0.003): {output}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=48, help="cases per noise level (multiple of 4)")
    parser.add_argument("--quality-cases", type=int, default=8, help="motion/defocus cases per level in part 2-3")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = parser.parse_args()
    images = {name: load(name) for name in IMAGES}
    started = time.perf_counter()
    cases = estimation(args, images)
    quality(cases)
    if not args.skip_speed:
        speed(images)
    print(f"(bench ran {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()

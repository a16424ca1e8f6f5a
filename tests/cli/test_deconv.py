"""``deblur deconv``: output equals the library call; NSR options; alpha; bad input."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur_cli.forward import blur
from deblur_cli.deconv import wiener
from deblur_cli.psf import motion

from .expect import assert_one_error

ROOT = Path(__file__).parents[2]


def read_any(path):
    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)


@pytest.fixture
def blurred_png(tmp_path, rgb_png):
    """The conftest image blurred by motion 7 px at 30 degrees, with a little noise."""
    sharp = read_any(rgb_png).astype(np.float32) / 255
    pixels = blur(sharp, motion(7, 30), noise_sigma=0.002, seed=0)
    path = tmp_path / "blurred.png"
    cv2.imwrite(str(path), cv2.cvtColor(np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8), cv2.COLOR_RGB2BGR))
    return path


def test_output_is_the_library_result(run, tmp_path, blurred_png):
    out = tmp_path / "sharp.png"
    result = run("deconv", blurred_png, "-o", out, "--motion", "7,30", "--nsr", "0.003")
    assert result.exit_code == 0, result.stderr
    source = read_any(blurred_png).astype(np.float32) / 255
    expected = np.rint(np.clip(wiener(source, motion(7, 30), 0.003), 0, 1) * 255)
    assert np.abs(read_any(out).astype(np.float64) - expected).max() <= 1


def test_snr_db_is_nsr_in_decibels_and_verbose_says_what_was_used(run, tmp_path, blurred_png):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert run("deconv", blurred_png, "-o", a, "--defocus", "1.5", "--nsr", "0.01").exit_code == 0
    result = run("deconv", blurred_png, "-o", b, "--defocus", "1.5", "--snr-db", "20", "-v")
    assert result.exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    assert "psf.kind=defocus" in result.stderr and "nsr=0.01" in result.stderr and "boundary=reflect" in result.stderr


def test_auto_nsr_and_options(run, tmp_path, blurred_png):
    out = tmp_path / "auto.png"
    result = run("deconv", blurred_png, "-o", out, "--motion", "7,30", "--reg", "laplacian",
                 "--boundary", "edgetaper", "-v")
    assert result.exit_code == 0, result.stderr
    assert "nsr_source=gcv" in result.stderr and "reg=laplacian" in result.stderr
    assert read_any(out).shape == (48, 64, 3)


def test_psf_file_with_centroid_recentring(run, tmp_path, blurred_png):
    kernel = np.zeros((15, 15), np.float32)
    kernel[1:6, 2:9] = motion(7, 30)  # off-centre: its centroid is up and to the left
    np.save(tmp_path / "k.npy", kernel)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    # periodic: zero padding around a kernel leaves its transfer function unchanged
    assert run("deconv", blurred_png, "-o", a, "--psf", tmp_path / "k.npy", "--psf-center", "centroid",
               "--nsr", "0.01", "--boundary", "periodic").exit_code == 0
    assert run("deconv", blurred_png, "-o", b, "--motion", "7,30", "--nsr", "0.01", "--boundary", "periodic").exit_code == 0
    assert np.abs(read_any(a).astype(int) - read_any(b).astype(int)).max() <= 1


def test_alpha_passes_through(run, tmp_path, blurred_png):
    rgba = cv2.cvtColor(cv2.imread(str(blurred_png)), cv2.COLOR_BGR2BGRA)
    rgba[..., 3] = np.arange(64, dtype=np.uint8)[None, :] * 4
    source = tmp_path / "rgba.png"
    cv2.imwrite(str(source), rgba)
    out = tmp_path / "out.png"
    assert run("deconv", source, "-o", out, "--gaussian", "1", "--nsr", "0.01").exit_code == 0
    np.testing.assert_array_equal(read_any(out)[..., 3], rgba[..., 3])


def _bad_psf(tmp_path, kind):
    path = tmp_path / f"{kind}.npy"
    np.save(path, {"nan": np.full((3, 3), np.nan), "zero": np.zeros((5, 5))}[kind])
    return str(path)


@pytest.mark.parametrize(
    "args, code, fragment",
    [(["--defocus", "-3"], 2, "radius must be > 0"),
     (["--motion", "0,45"], 2, "length must be >= 1"),
     (["--gaussian", "1", "--nsr", "0"], 2, "--nsr must be a finite number > 0"),
     (["--gaussian", "1", "--nsr", "-0.5"], 2, "--nsr must be a finite number > 0"),
     (["--gaussian", "1", "--nsr", "0.1", "--snr-db", "20"], 2, "not both"),
     (["--gaussian", "1", "--snr-db", "5000"], 2, "--snr-db must be a number of decibels from -300 to 3000"),
     (["--gaussian", "1", "--snr-db", "-1000"], 2, "--snr-db must be a number of decibels from -300 to 3000"),
     (["--gaussian", "1", "--nsr", "1e300"], 2, "--nsr must be at most 1e+30"),
     (["--gaussian", "1", "--nsr", "NaN"], 2, "--nsr must be a finite number > 0"),
     (["--defocus", "1e5"], 2, "PSFs are limited to 4097"),
     (["--psf", "nan"], 3, "NaN"),
     (["--psf", "zero"], 3, "all zero"),
     (["--motion", "101,0"], 3, "larger than the image"),
     (["--motion", "9,30", "--gaussian", "2"], 2, "give one PSF"),
     (["--psf", "auto", "--motion", "9,30"], 2, "--psf auto estimates the PSF"),
     (["--gaussian", "1", "--psf-kind", "motion"], 2, "--psf-kind goes with an estimated PSF"),
     (["--motion", "5,0", "--psf-center", "centroid"], 2, "--psf-center moves a kernel read with --psf FILE"),
     (["--psf", "auto", "--psf-center", "centroid"], 2, "--psf-center moves a kernel read with --psf FILE")],
)
def test_bad_input_one_line_no_output(run, tmp_path, blurred_png, args, code, fragment):
    args = [_bad_psf(tmp_path, a) if a in ("nan", "zero") else a for a in args]
    out = tmp_path / "out.png"
    assert_one_error(run("deconv", blurred_png, "-o", out, *args), code, fragment)
    assert not out.exists()


def test_a_real_process_restores_the_blurred_sample(tmp_path):
    out = tmp_path / "sharp.png"
    result = subprocess.run(
        [sys.executable, "-m", "deblur_cli", "deconv", "sample_images/blurred/astronaut_motion15_30.png",
         "-o", str(out), "--motion", "15,30"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    sharp = read_any(ROOT / "sample_images" / "astronaut.png").astype(np.float64)
    blurred = read_any(ROOT / "sample_images" / "blurred" / "astronaut_motion15_30.png").astype(np.float64)
    restored = read_any(out).astype(np.float64)
    gain = 10 * np.log10(np.mean((blurred - sharp) ** 2) / np.mean((restored - sharp) ** 2))
    assert gain > 5  # dB better than the blurred input


def test_without_a_psf_option_the_psf_is_estimated_and_recorded(run, tmp_path):
    out, report = tmp_path / "sharp.png", tmp_path / "report.json"
    sample = ROOT / "sample_images" / "blurred" / "astronaut_motion15_30.png"
    result = run("deconv", sample, "-o", out, "--report", report,
                 "--reference", ROOT / "sample_images" / "astronaut.png")
    assert result.exit_code == 0, result.stderr
    assert "psf.source=estimated" in result.stderr and "psf.kind=motion" in result.stderr
    record = json.loads(report.read_text())["records"][0]
    assert abs(record["parameters"]["psf"]["length"] - 15) < 1.5
    assert abs(record["parameters"]["psf"]["angle"] - 30) < 2
    assert record["quality"]["psnr"] > record["input_quality"]["psnr"] + 4


def test_quiet_silences_the_estimated_psf(run, tmp_path):
    sample = ROOT / "sample_images" / "blurred" / "astronaut_motion15_30.png"
    result = run("deconv", sample, "-o", tmp_path / "sharp.png", "--quiet")
    assert result.exit_code == 0 and result.stderr == ""


def test_an_image_with_no_blur_found_is_written_unchanged(run, tmp_path):
    # camera.png is sharp: the estimate finds no blur. Wiener with the identity kernel would
    # still scale it by 1 / (1 + NSR), darkening it by 9% at NSR 0.1.
    sample = ROOT / "sample_images" / "camera.png"
    out, report = tmp_path / "out.png", tmp_path / "report.json"
    result = run("deconv", sample, "-o", out, "--nsr", "0.1", "--report", report, "-v")
    assert result.exit_code == 0, result.stderr
    assert " nsr=none nsr_source=none " in result.stderr
    np.testing.assert_array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED),
                                  cv2.imread(str(sample), cv2.IMREAD_UNCHANGED))
    parameters = json.loads(report.read_text())["records"][0]["parameters"]
    assert (parameters["psf"]["kind"], parameters["nsr"], parameters["nsr_source"]) == ("none", None, "none")

"""``deblur downsample`` through Click's runner: outputs against scikit-image/OpenCV, bad input."""

import json

import cv2
import numpy as np
import pytest
from skimage.measure import block_reduce

from .expect import assert_one_error


@pytest.fixture
def odd_png(tmp_path):
    """A 31x45 8-bit RGB image (sizes not multiples of 2 or 4)."""
    rng = np.random.default_rng(4)
    array = rng.integers(0, 256, (31, 45, 3), dtype=np.uint8)
    path = tmp_path / "odd.png"
    cv2.imwrite(str(path), array)
    return path, array


@pytest.mark.parametrize("factor", [2, 3, 4])
def test_area_and_max_are_block_mean_and_max_of_the_full_blocks(run, tmp_path, odd_png, factor):
    path, bgr = odd_png
    h, w = 31 // factor, 45 // factor
    crop = bgr[: h * factor, : w * factor]
    area, peak = tmp_path / "area.png", tmp_path / "max.png"
    assert run("downsample", path, "-o", area, "--factor", factor).exit_code == 0
    assert run("downsample", path, "-o", peak, "--scale", factor, "--method", "max").exit_code == 0
    expected_mean = block_reduce(crop.astype(np.float64), (factor, factor, 1), np.mean)
    written = cv2.imread(str(area))
    assert written.shape == (h, w, 3)
    assert np.abs(written - expected_mean).max() <= 0.5 + 1e-6
    np.testing.assert_array_equal(cv2.imread(str(peak)), block_reduce(crop, (factor, factor, 1), np.max))


def test_bilinear_samples_the_block_centres(run, tmp_path, odd_png):
    path, bgr = odd_png
    out = tmp_path / "b.png"
    assert run("downsample", path, "-o", out, "--factor", 3, "--method", "bilinear").exit_code == 0
    np.testing.assert_array_equal(cv2.imread(str(out)), bgr[1:30:3, 1:45:3])


def test_alpha_is_shrunk_like_colour(run, tmp_path):
    rng = np.random.default_rng(8)
    bgra = rng.integers(0, 256, (16, 20, 4), dtype=np.uint8)
    source = tmp_path / "in.png"
    cv2.imwrite(str(source), bgra)
    out = tmp_path / "out.png"
    assert run("downsample", source, "-o", out, "--factor", 2, "--method", "max").exit_code == 0
    np.testing.assert_array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), block_reduce(bgra, (2, 2, 1), np.max))


def test_verbose_and_report_give_the_output_size(run, tmp_path, odd_png):
    report = tmp_path / "r.json"
    result = run("downsample", odd_png[0], "-o", tmp_path / "o.png", "--factor", 4, "-v", "--report", report)
    assert result.exit_code == 0
    assert "input_size=45x31 output_size=11x7 method=area factor=4" in result.stderr
    assert json.loads(report.read_text())["records"][0]["parameters"]["output_size"] == "11x7"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--factor", 0], "--factor/--scale must be an integer >= 1, got 0"),
        (["--factor", -3], "--factor/--scale must be an integer >= 1, got -3"),
        (["--factor", 32], "factor 32 is larger than the image (45x31)"),
    ],
)
def test_bad_factors_are_one_line_exit_2_and_write_nothing(run, tmp_path, odd_png, args, fragment):
    out = tmp_path / "o.png"
    assert_one_error(run("downsample", odd_png[0], "-o", out, *args), 2, fragment)
    assert not out.exists()


def test_bad_input_file_is_exit_3(run, tmp_path):
    source = tmp_path / "bad.png"
    source.write_bytes(b"not an image")
    out = tmp_path / "o.png"
    assert_one_error(run("downsample", source, "-o", out, "--factor", 2), 3, str(source))
    assert not out.exists()

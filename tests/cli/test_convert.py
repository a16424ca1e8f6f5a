"""``deblur convert``: format and bit-depth changes through the CLI."""

import cv2
import numpy as np
import pytest

from .expect import assert_one_error


def test_sixteen_bit_png_to_tiff_and_back_keeps_values(run, tmp_path):
    array = np.random.default_rng(5).integers(0, 65536, (9, 11, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), array)
    assert run("convert", tmp_path / "in.png", "-o", tmp_path / "mid.tif").exit_code == 0
    assert run("convert", tmp_path / "mid.tif", "-o", tmp_path / "out.png").exit_code == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED), array)


def test_bit_depth_eight_scales_and_rounds(run, tmp_path):
    array = np.array([[0, 257, 32896, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "in.png"), array)
    assert run("convert", tmp_path / "in.png", "-o", tmp_path / "out.png", "--bit-depth", "8").exit_code == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED),
                                  np.rint(array / 257).astype(np.uint8))


@pytest.mark.parametrize("output, depth", [("out.jpg", "16"), ("out.png", "float")])
def test_impossible_bit_depth_is_refused_before_work(run, tmp_path, rgb_png, output, depth):
    result = run("convert", rgb_png, "-o", tmp_path / output, "--bit-depth", depth)
    assert_one_error(result, 2, "hold")
    assert not (tmp_path / output).exists()


@pytest.mark.parametrize("extension", [".jpg", ".bmp"])
def test_alpha_is_dropped_where_the_format_has_none(run, tmp_path, extension):
    rgba = np.random.default_rng(6).integers(0, 256, (8, 10, 4), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    assert run("convert", tmp_path / "rgba.png", "-o", tmp_path / f"x{extension}").exit_code == 0
    back = cv2.imread(str(tmp_path / f"x{extension}"), cv2.IMREAD_UNCHANGED)
    assert back.shape == (8, 10, 3)
    if extension == ".bmp":
        np.testing.assert_array_equal(back, rgba[..., :3])

"""``deblur convert``: format and bit-depth changes through the CLI."""

import io
import struct
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

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


def test_float_tiff_becomes_sixteen_bit_png_and_verbose_names_the_input_depth(run, tmp_path):
    array = np.array([[0.0, 0.25, 1.0, 2.0]], np.float32)
    tifffile.imwrite(tmp_path / "in.tif", array)
    result = run("convert", tmp_path / "in.tif", "-o", tmp_path / "out.png", "-v")
    assert result.exit_code == 0
    assert "input_bit_depth=float" in result.stderr
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED),
                                  np.array([[0, 16384, 65535, 65535]], np.uint16))


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


def deblur_process(*args, cwd, shell_redirect=""):
    """Run ``python -m deblur_cli ARGS...`` as its own process: C libraries' output reaches its stderr too."""
    command = [sys.executable, "-m", "deblur_cli", *map(str, args)]
    if shell_redirect:  # e.g. ">&-": run through sh to close a descriptor the way a shell user would
        command = ["sh", "-c", f'exec "$@" {shell_redirect}', "sh", *command]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)


def assert_one_stderr_line(process, code, fragment):
    assert process.returncode == code, process.stderr
    lines = process.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deblur: error: "), process.stderr
    assert fragment in lines[0], lines[0]


def damaged_png(tmp_path, damage):
    array = np.random.default_rng(8).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", array)
    assert ok
    data = bytearray(encoded.tobytes())
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "IHDR":
        data[20] ^= 0x01  # the image's height, CRC unchanged
    else:
        start = data.index(b"IDAT") + 4 + 10
        data[start : start + 8] = bytes(b ^ 0xFF for b in data[start : start + 8])
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "damage, fragment",
    [("truncated", "ends inside chunk IDAT"), ("IHDR", "chunk IHDR at byte 8 has a bad CRC"), ("IDAT", "chunk IDAT")],
)
def test_damaged_png_gives_one_line(tmp_path, damage, fragment):
    damaged_png(tmp_path, damage)
    process = deblur_process("convert", "bad.png", "-o", "out.png", cwd=tmp_path)
    assert_one_stderr_line(process, 3, fragment)
    assert not (tmp_path / "out.png").exists()


def tiff_with_first_page_past_the_end():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, np.zeros((6, 7), np.uint8))
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 4, len(data) + 4096)
    return bytes(data)


@pytest.mark.parametrize("content", [b"II*\x00\x08\x00\x00\x00", tiff_with_first_page_past_the_end()],
                         ids=["header-only", "offset-past-end"])
def test_damaged_tiff_gives_one_line(tmp_path, content):
    (tmp_path / "bad.tif").write_bytes(content)
    process = deblur_process("convert", "bad.tif", "-o", "out.png", cwd=tmp_path)
    assert_one_stderr_line(process, 3, "TIFF holds no readable image (invalid offset to first page")


def test_damaged_lzw_tiff_gives_one_line_and_nothing_from_libtiff(tmp_path):
    rgb = np.random.default_rng(11).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="TIFF", compression="tiff_lzw")
    data = bytearray(buffer.getvalue())
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tiff:
        start = tiff.pages[0].dataoffsets[0] + 20
    data[start : start + 20] = bytes(b ^ 0xFF for b in data[start : start + 20])
    (tmp_path / "bad.tif").write_bytes(bytes(data))
    process = deblur_process("convert", "bad.tif", "-o", "out.png", cwd=tmp_path)
    assert_one_stderr_line(process, 3, "bad.tif: cannot decode LZW-compressed 8-bit colour TIFF")
    assert not (tmp_path / "out.png").exists()


def test_float_tiff_with_nan_is_refused(run, tmp_path):
    array = np.full((6, 7), 0.5, np.float32)
    array[2, 3] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", array)
    result = run("convert", tmp_path / "nan.tif", "-o", tmp_path / "out.png")
    assert_one_error(result, 3, "nan.tif", "1 NaN value")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_planar_rgb_tiff_converts_exactly(run, tmp_path, dtype):
    rgb = np.random.default_rng(9).integers(0, np.iinfo(dtype).max + 1, (40, 50, 3)).astype(dtype)
    tifffile.imwrite(tmp_path / "planar.tif", rgb.transpose(2, 0, 1), photometric="rgb", planarconfig="separate")
    assert run("convert", tmp_path / "planar.tif", "-o", tmp_path / "planar.png").exit_code == 0
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "planar.png"), cv2.IMREAD_UNCHANGED)[..., ::-1], rgb)


def test_output_under_a_file_is_not_a_directory(run, tmp_path, rgb_png):
    (tmp_path / "some.png").write_bytes(b"x")
    result = run("convert", rgb_png, "-o", tmp_path / "some.png" / "o.png")
    assert_one_error(result, 3, "some.png is not a directory")


@pytest.mark.parametrize("args", [["convert", "IN", "-o", "-"], ["convert", "IN", "-o", "o.png", "--report", "-"],
                                  ["estimate", "IN"], ["compare", "IN", "IN"]])
def test_closed_stdout_is_one_error_line(tmp_path, rgb_png, args):
    # Printing to a closed stdout would lose the results without a word.
    process = deblur_process(*[rgb_png if arg == "IN" else arg for arg in args], cwd=tmp_path, shell_redirect=">&-")
    assert_one_stderr_line(process, 3, "standard output is closed")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("read_first", [0, 10])
def test_reader_closing_the_pipe_is_one_error_line(tmp_path, read_first):
    big = np.random.default_rng(10).integers(0, 256, (256, 256, 3), dtype=np.uint8)  # more than a pipe holds
    cv2.imwrite(str(tmp_path / "big.png"), big)
    command = [sys.executable, "-m", "deblur_cli", "convert", "big.png", "-o", "-"]
    with subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        # The reader goes before the first byte, or after a few (the first write then comes back short).
        process.stdout.read(read_first)
        process.stdout.close()
        error = process.stderr.read().decode()
        assert process.wait(timeout=60) == 3
    lines = error.splitlines()
    assert len(lines) == 1 and lines[0].startswith("deblur: error: ") and "broken pipe" in lines[0], error


def test_a_damaged_exif_block_is_passed_over_quietly(run, tmp_path):
    exif = PILImage.Exif()
    exif[0x0112] = 1
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((8, 10, 3), np.uint8)).save(buffer, format="JPEG", exif=exif.tobytes())
    data = bytearray(buffer.getvalue())
    start = data.find(b"Exif\0\0") + 6
    data[start : start + 8] = b"II*\x00\xff\xff\xff\x7f"  # the first directory's offset points past the end
    (tmp_path / "exif.jpg").write_bytes(bytes(data))
    result = run("convert", tmp_path / "exif.jpg", "-o", tmp_path / "out.png")
    assert result.exit_code == 0 and result.stderr == ""
    assert cv2.imread(str(tmp_path / "out.png")).shape == (8, 10, 3)

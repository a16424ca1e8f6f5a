"""``deblur upsample`` through Click's runner: outputs against OpenCV/NumPy, bad input, reports."""

import json
import tracemalloc

import cv2
import numpy as np
import pytest

from deblur_cli import resample
from deblur_cli.cli.upsample import _built_in_size, _kernel

from .expect import assert_one_error


def read_rgb(path, flags=cv2.IMREAD_UNCHANGED):
    array = cv2.imread(str(path), flags)
    return cv2.cvtColor(array, cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB)


def to_uint8(array):
    return np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)


def test_bilinear_scale_equals_cv2_resize(run, tmp_path, rgb_png):
    out = tmp_path / "up.png"
    result = run("upsample", rgb_png, "-o", out, "--scale", 2.5)
    assert result.exit_code == 0, result.stderr
    source = read_rgb(rgb_png).astype(np.float32) / 255
    expected = to_uint8(cv2.resize(source, (160, 120), interpolation=cv2.INTER_LINEAR))
    written = read_rgb(out)
    assert written.shape == (120, 160, 3)
    assert np.abs(written.astype(int) - expected).max() <= 1


def test_bilinear_size_and_align_corners(run, tmp_path, rgb_png):
    out = tmp_path / "up.png"
    assert run("upsample", rgb_png, "-o", out, "--size", "100x30", "--align-corners").exit_code == 0
    written = read_rgb(out)
    source = read_rgb(rgb_png)
    assert written.shape == (30, 100, 3)
    for corner in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
        np.testing.assert_array_equal(written[corner], source[corner])


def test_transposed_bilinear_with_normalized_border_equals_bilinear(run, tmp_path, rgb_png):
    bilinear, transposed = tmp_path / "a.png", tmp_path / "b.png"
    assert run("upsample", rgb_png, "-o", bilinear, "--scale", 3).exit_code == 0
    result = run("upsample", rgb_png, "-o", transposed, "--method", "transposed", "--scale", 3, "--normalize-border")
    assert result.exit_code == 0 and result.stderr == ""
    a, b = read_rgb(bilinear).astype(int), read_rgb(transposed).astype(int)
    assert a.shape == b.shape == (144, 192, 3)
    assert np.abs(a - b).max() <= 1


def test_transposed_nearest_repeats_pixels(run, tmp_path, rgb_png):
    out = tmp_path / "up.png"
    assert run("upsample", rgb_png, "-o", out, "--method", "transposed", "--kernel", "nearest", "--stride", 2).exit_code == 0
    source = read_rgb(rgb_png)
    np.testing.assert_array_equal(read_rgb(out), np.repeat(np.repeat(source, 2, 0), 2, 1))


def test_kernel_file_with_explicit_parameters_and_uneven_overlap_warning(run, tmp_path, rgb_png):
    kernel_path = tmp_path / "box.csv"
    np.savetxt(kernel_path, np.full((3, 3), 0.25), delimiter=",")
    out = tmp_path / "up.png"
    result = run("upsample", rgb_png, "-o", out, "--method", "transposed", "--kernel", kernel_path,
                 "--stride", 2, "--padding", 1, "--output-padding", 1)
    assert result.exit_code == 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deblur: warning: kernel 3x3 at stride 2 overlaps unevenly")
    written = read_rgb(out).astype(np.float32)
    assert written.shape == ((48 - 1) * 2 - 2 + 2 + 1 + 1, (64 - 1) * 2 - 2 + 2 + 1 + 1, 3) == (96, 128, 3)
    source = read_rgb(rgb_png).astype(np.float32)
    # an even output pixel of the interior sits on one input pixel, an odd one between two
    np.testing.assert_allclose(written[10, 10], np.rint(0.25 * source[5, 5]), atol=1)
    np.testing.assert_allclose(written[11, 10], np.rint(0.25 * (source[5, 5] + source[6, 5])), atol=1)
    for quiet in (["--normalize-border"], ["-q"]):
        again = run("upsample", rgb_png, "-o", tmp_path / f"q{quiet[0]}.png", "--method", "transposed",
                    "--kernel", kernel_path, "--stride", 2, *quiet)
        assert again.exit_code == 0 and again.stderr == ""


def test_normalize_kernel_keeps_flat_areas_flat(run, tmp_path):
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((10, 12), 100, np.uint8))
    np.save(tmp_path / "k.npy", np.ones((4, 4)))
    out = tmp_path / "up.png"
    result = run("upsample", flat, "-o", out, "--method", "transposed", "--kernel", tmp_path / "k.npy",
                 "--scale", 2, "--normalize-kernel", "--normalize-border")
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(cv2.imread(str(out), cv2.IMREAD_UNCHANGED), np.full((20, 24), 100, np.uint8))


def test_alpha_is_upsampled_like_colour_and_16_bit_is_kept(run, tmp_path):
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 65536, (20, 30, 4), dtype=np.uint16)
    source = tmp_path / "in.png"
    cv2.imwrite(str(source), rgba)
    out = tmp_path / "up.png"
    assert run("upsample", source, "-o", out, "--scale", 2).exit_code == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (40, 60, 4)
    expected = cv2.resize(rgba.astype(np.float32) / 65535, (60, 40), interpolation=cv2.INTER_LINEAR)
    assert np.abs(written.astype(np.float64) - expected * 65535).max() <= 1


def test_verbose_and_report_give_the_output_size(run, tmp_path, rgb_png):
    report = tmp_path / "r.json"
    result = run("upsample", rgb_png, "-o", tmp_path / "up.png", "--method", "transposed", "--scale", 2,
                 "-v", "--report", report)
    assert result.exit_code == 0
    assert "input_size=64x48 output_size=128x96" in result.stderr
    parameters = json.loads(report.read_text())["records"][0]["parameters"]
    assert parameters["output_size"] == "128x96"
    assert (parameters["kernel"], parameters["kernel_size"], parameters["stride"], parameters["padding"]) == (
        "bilinear", "4x4", 2, 1)
    assert parameters["scale"] == 2
    result = run("upsample", rgb_png, "-o", tmp_path / "up15.png", "--scale", 1.5, "-v")
    assert "method=bilinear scale=1.5 align_corners=False" in result.stderr


@pytest.mark.parametrize("option", ["--kernel", "--psf"])
def test_an_empty_file_name_is_a_usage_error(run, tmp_path, rgb_png, option):
    command = ["upsample", "--method", "transposed", "--scale", 2] if option == "--kernel" else ["blur"]
    result = run(command[0], rgb_png, "-o", tmp_path / "o.png", *command[1:], option, "")
    assert_one_error(result, 2, "an empty file name")


def test_batch_with_out_dir(run, tmp_path, rgb_png):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a.png", "b.png"):
        (inputs / name).write_bytes(rgb_png.read_bytes())
    result = run("upsample", inputs, "--out-dir", tmp_path / "out", "--scale", 2, "--jobs", 1)
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_up.png", "b_up.png"]


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (["--scale", 0], 2, "--scale must be a finite number > 0, got 0"),
        (["--scale", -2], 2, "--scale must be a finite number > 0, got -2"),
        (["--scale", "nan"], 2, "--scale must be a finite number > 0"),
        (["--size", "0x10"], 2, "--size must be WIDTHxHEIGHT"),
        (["--size", "big"], 2, "got 'big'"),
        ([], 2, "give either --scale or --size"),
        (["--scale", 2, "--size", "10x10"], 2, "give either --scale or --size"),
        (["--scale", 2, "--kernel", "nearest"], 2, "--kernel applies to --method transposed"),
        (["--method", "transposed", "--size", "10x10"], 2, "--size applies to --method bilinear"),
        (["--method", "transposed", "--scale", 2, "--align-corners"], 2, "--align-corners applies"),
        (["--method", "transposed"], 2, "give --scale"),
        (["--method", "transposed", "--scale", 2.5], 2, "integer --scale"),
        (["--method", "transposed", "--stride", 0], 2, "stride must be an integer >= 1, got 0"),
        (["--method", "transposed", "--scale", 2, "--padding", -1], 2, "padding must be an integer >= 0, got -1"),
        (["--method", "transposed", "--scale", 2, "--output-padding", 2], 2, "output_padding=2 with stride=2"),
        (["--method", "transposed", "--scale", 2, "--dilation", 0], 2, "dilation must be an integer >= 1"),
        (["--method", "transposed", "--scale", 2, "--padding", 200], 2, "crops more than"),
        (["--scale", 300], 2, "output of 19200x14400 = 276,480,000 pixels would exceed the limit of 200,000,000"),
        (["--size", "20000x20000"], 2, "would exceed the limit"),
        (["--scale", 2, "--max-pixels", 10000], 2, "output of 128x96 = 12,288 pixels would exceed the limit of 10,000"),
        (["--method", "transposed", "--scale", 2, "--max-pixels", 10000], 2, "would exceed the limit of 10,000"),
        (["--scale", 1e308], 2, "would exceed the limit of 200,000,000"),
        (["--method", "transposed", "--kernel", "nearest", "--stride", 100000], 2, "more than the limit"),
        (["--method", "transposed", "--kernel", "ones", "--stride", 100000, "-q"], 2, "would exceed the limit"),
        (["--method", "transposed", "--kernel", "ones", "--stride", 2, "--dilation", 100000], 2,
         "--dilation 100000 spreads the 4x4 kernel over 300001x300001"),
    ],
)
def test_bad_values_are_one_line_exit_2_and_write_nothing(run, tmp_path, rgb_png, args, code, fragment):
    out = tmp_path / "up.png"
    if "ones" in args:
        np.save(tmp_path / "ones.npy", np.ones((4, 4), np.float32))
        args = [tmp_path / "ones.npy" if arg == "ones" else arg for arg in args]
    result = run("upsample", rgb_png, "-o", out, *args)
    assert_one_error(result, code, fragment)
    assert not out.exists()


@pytest.mark.parametrize(
    "name, content, fragment",
    [
        ("nan.csv", "1,2\nnan,4\n", "kernel holds 1 NaN value"),
        ("missing.npy", None, "no such kernel file"),
        ("words.csv", "a,b\n", "cannot read kernel"),
        ("zero.csv", "1,-1\n", "sums to 0"),
        ("allzero.csv", "0,0\n0,0\n", "the kernel is all zero"),
    ],
)
def test_bad_kernel_files(run, tmp_path, rgb_png, name, content, fragment):
    kernel = tmp_path / name
    if content is not None:
        kernel.write_text(content)
    out = tmp_path / "up.png"
    extra = ["--normalize-kernel"] if name == "zero.csv" else []
    result = run("upsample", rgb_png, "-o", out, "--method", "transposed", "--scale", 2, "--kernel", kernel, *extra)
    assert_one_error(result, 2 if name == "zero.csv" else 3, fragment)
    if name != "zero.csv":
        assert name in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--scale", 3000], "output of 24000x24000 = 576,000,000 pixels would exceed the limit of 200,000,000"),
        (["--scale", 3000, "--kernel", "nearest"], "output of 24000x24000 = 576,000,000 pixels would exceed"),
        (["--scale", 40, "--max-pixels", 10000], "output of 320x320 = 102,400 pixels would exceed the limit of 10,000"),
        (["--scale", 10**9], "bilinear kernel of factor 1000000000 would have 2000000000x2000000000 ="),
        (["--scale", 10**9, "--stride", 1, "--kernel", "nearest"], "nearest kernel of factor 1000000000"),
        (["--stride", 10**12, "--kernel", "nearest"], "more than the limit of 200,000,000"),
    ],
)
def test_a_huge_scale_is_refused_before_any_kernel_or_array_is_made(run, tmp_path, args, fragment):
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.full((8, 8), 7, np.uint8))
    out = tmp_path / "up.png"
    tracemalloc.start()
    try:
        result = run("upsample", tiny, "-o", out, "--method", "transposed", *args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_one_error(result, 2, fragment)
    assert not out.exists()
    assert peak < 20 * 2**20, f"{peak / 2**20:.0f} MiB allocated"


def test_a_kernel_too_large_for_the_limit_stops_a_batch_once(run, tmp_path):
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.full((8, 8), 7, np.uint8))
    result = run("upsample", tmp_path / "a.png", tmp_path / "b.png", "--out-dir", tmp_path / "out",
                 "--method", "transposed", "--scale", 10**6)
    assert_one_error(result, 2, "lower the scale or raise --max-pixels")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["bilinear", "nearest"])
def test_built_in_kernels_are_sized_unmade_and_even_at_their_own_stride(name):
    # upsample makes these kernels per image, after the size check, and never warns of them
    for factor in range(1, 17):
        kernel = _kernel(name, factor)
        assert _built_in_size(name, factor) == kernel.shape
        assert not resample.uneven_overlap(kernel, factor, 1)


def test_the_uneven_overlap_warning_waits_for_the_plan(run, tmp_path, rgb_png):
    kernel_path = tmp_path / "box.csv"
    np.savetxt(kernel_path, np.full((3, 3), 0.25), delimiter=",")
    existing = tmp_path / "up.png"
    existing.write_bytes(b"keep")
    result = run("upsample", rgb_png, "-o", existing, "--method", "transposed", "--kernel", kernel_path, "--stride", 2)
    assert_one_error(result, 3, "output exists")
    assert existing.read_bytes() == b"keep"

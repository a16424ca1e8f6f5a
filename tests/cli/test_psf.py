"""``deblur psf``: files that hold exactly the library's kernels; bad values refused."""

import cv2
import numpy as np
import pytest

from deblur_cli.psf import defocus, gaussian, load_psf, motion

from .expect import assert_one_error


@pytest.mark.parametrize(
    "args, expected",
    [(["motion", "--length", "15", "--angle", "30"], motion(15, 30)),
     (["motion", "--length", "9", "--angle", "-45"], motion(9, -45)),
     (["defocus", "--radius", "3.5"], defocus(3.5)),
     (["gaussian", "--sigma", "1.2"], gaussian(1.2))],
)
def test_npy_and_csv_hold_the_kernel(run, tmp_path, args, expected):
    for name in ("k.npy", "k.csv"):
        result = run("psf", *args, "-o", tmp_path / name)
        assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "k.npy"), expected)
    np.testing.assert_allclose(np.loadtxt(tmp_path / "k.csv", delimiter=","), expected, rtol=1e-7)


def test_png_is_16_bit_with_a_white_peak_and_loads_back(run, tmp_path):
    out = tmp_path / "k.png"
    assert run("psf", "defocus", "--radius", "4", "-o", out).exit_code == 0
    written = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    kernel = defocus(4)
    assert written.dtype == np.uint16 and written.shape == kernel.shape
    assert written.max() == 65535
    np.testing.assert_allclose(written / 65535, kernel / kernel.max(), atol=1 / 65535)
    np.testing.assert_allclose(load_psf(out), kernel, atol=1e-5)


@pytest.mark.parametrize(
    "args, code, fragment",
    [(["defocus", "--radius", "-2"], 2, "radius must be > 0"),
     (["motion", "--length", "0"], 2, "length must be >= 1"),
     (["gaussian", "--sigma", "0"], 2, "sigma must be > 0"),
     (["motion", "--length", "5", "-o", "k.gif"], 2, "cannot tell the format of"),
     (["motion", "--length", "5", "-o", "k.jpg"], 2, "a PSF image is 16-bit PNG or TIFF, not"),
     (["motion", "--length", "5", "-o", "k.webp"], 2, "a PSF image is 16-bit PNG or TIFF, not")],
)
def test_bad_values_exit_with_one_line_and_no_file(run, tmp_path, args, code, fragment):
    out = tmp_path / "k.png"
    if "-o" not in args:
        args = [*args, "-o", out]
    else:
        args = [str(tmp_path / a) if a.startswith("k.") else a for a in args]
    result = run("psf", *args)
    assert_one_error(result, code, fragment)
    assert list(tmp_path.iterdir()) == []


def test_existing_output_needs_overwrite(run, tmp_path):
    out = tmp_path / "k.npy"
    assert run("psf", "gaussian", "--sigma", "1", "-o", out).exit_code == 0
    assert_one_error(run("psf", "gaussian", "--sigma", "2", "-o", out), 3, "--overwrite")
    np.testing.assert_array_equal(np.load(out), gaussian(1))
    assert run("psf", "gaussian", "--sigma", "2", "-o", out, "--overwrite").exit_code == 0
    np.testing.assert_array_equal(np.load(out), gaussian(2))


def test_overwrite_is_the_shared_option_of_every_command():
    import click

    from deblur_cli.cli import cli

    def overwrite_help(command):
        (option,) = [param for param in command.params if param.name == "overwrite"]
        assert option.opts == ["--overwrite"] and option.is_flag
        return option.help

    context = click.Context(cli)
    psf = cli.get_command(context, "psf")
    commands = [psf.get_command(context, name) for name in psf.list_commands(context)]
    commands += [cli.get_command(context, name) for name in ("blur", "deconv", "upsample", "compare")]
    assert {overwrite_help(command) for command in commands} == {"Replace existing outputs (never an input)."}

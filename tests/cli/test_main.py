"""The command group: help, version, error lines and exit codes for bad files."""

import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from deblur_cli import __version__
from deblur_cli.cli import COMMANDS

from .expect import assert_one_error


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0
    assert __version__ in result.output


def test_help_lists_every_subcommand_with_its_summary(run):
    result = run("--help")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for name, (_, summary) in COMMANDS.items():
        assert any(line.split() and line.split()[0] == name and summary in line for line in lines), name


def test_python_dash_m_runs_the_tool():
    result = subprocess.run(
        [sys.executable, "-m", "deblur_cli", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and __version__ in result.stdout


def test_help_imports_no_numeric_library():
    code = (
        "import sys; from deblur_cli.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'scipy', 'cv2', 'imageio') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "HEAVY="


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"this is text, not an image\n", "not a supported image"),
    ],
)
def test_bad_input_file_is_one_line_exit_3_and_writes_nothing(run, tmp_path, content, message):
    source = tmp_path / "in.png"
    if content is not None:
        source.write_bytes(content)
    result = run("convert", source, "-o", tmp_path / "out.png")
    assert_one_error(result, 3, str(source), message)
    assert not (tmp_path / "out.png").exists()


def test_truncated_png_is_one_line_exit_3(run, tmp_path, rgb_png):
    data = rgb_png.read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = run("convert", cut, "-o", tmp_path / "out.png")
    assert_one_error(result, 3, str(cut), "truncated")
    assert not (tmp_path / "out.png").exists()


def test_missing_output_directory_is_refused(run, tmp_path, rgb_png):
    result = run("convert", rgb_png, "-o", tmp_path / "nowhere" / "out.png")
    assert_one_error(result, 3, "does not exist")
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs a read-only /proc")
def test_unwritable_output_directory_is_refused(run, tmp_path, rgb_png):
    result = run("convert", rgb_png, "-o", "/proc/deblur-test-output.png")
    assert_one_error(result, 3, "/proc/deblur-test-output.png")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write in a read-only directory")
def test_read_only_output_directory_is_refused(run, tmp_path, rgb_png):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run("convert", rgb_png, "-o", locked / "out.png")
        assert_one_error(result, 3, "not writable")
    finally:
        locked.chmod(0o755)
    assert list(locked.iterdir()) == []


def test_output_equal_to_input_is_refused_and_input_unchanged(run, rgb_png):
    before = (rgb_png.read_bytes(), rgb_png.stat().st_mtime_ns)
    result = run("convert", rgb_png, "-o", rgb_png, "--overwrite")
    assert_one_error(result, 3, "input")
    assert (rgb_png.read_bytes(), rgb_png.stat().st_mtime_ns) == before


@pytest.mark.parametrize("name", ["adir", "adir.png"])
def test_a_directory_as_output_is_named_as_such(run, tmp_path, rgb_png, name):
    (tmp_path / name).mkdir()
    result = run("convert", rgb_png, "-o", tmp_path / name, "--overwrite")
    assert_one_error(result, 3, f"{name}: -o names a directory; give a file name, or --out-dir DIR")
    assert os.listdir(tmp_path / name) == []


def test_existing_output_needs_overwrite(run, tmp_path, rgb_png):
    existing = tmp_path / "out.png"
    existing.write_bytes(b"keep me")
    result = run("convert", rgb_png, "-o", existing)
    assert_one_error(result, 3, "--overwrite")
    assert existing.read_bytes() == b"keep me"
    assert run("convert", rgb_png, "-o", existing, "--overwrite").exit_code == 0
    np.testing.assert_array_equal(cv2.imread(str(existing), cv2.IMREAD_UNCHANGED),
                                  cv2.imread(str(rgb_png), cv2.IMREAD_UNCHANGED))


@pytest.mark.parametrize(
    "args, fragment",
    [(["convert", "IN", "-o", "OUT", "--no-such-option"], "No such option '--no-such-option'; see '"),
     (["deconv", "IN", "-o", "OUT", "--motion", "15"], "Invalid value for '--motion': '15' is not LENGTH,ANGLE"),
     (["upsample", "IN", "-o", "OUT", "--scale", "2", "--jobs", "0"], "0 is not in the range x>=1"),
     (["convert", "IN", "-o", "OUT", "--bit-depth", "12"], "'12' is not a bit depth"),
     (["deconv"], "Missing argument 'INPUTS...'; see '"),
     (["no-such-command"], "No such command 'no-such-command'; see '"),
     (["--no-such-option"], "No such option '--no-such-option'; see '"),
     (["deconv", "IN", "-o"], "Option '-o' requires an argument; see '"),
     (["deconv", "IN", "-o", "OUT", "--nosuch", "1"], "Did you mean '--nsr'? See '")],
)
def test_usage_errors_are_one_line_exit_2(run, rgb_png, tmp_path, args, fragment):
    out = tmp_path / "o.png"
    result = run(*[{"IN": rgb_png, "OUT": out}.get(arg, arg) for arg in args])
    assert_one_error(result, 2, fragment)
    assert not out.exists()


def test_a_group_named_without_its_command_shows_its_help(run):
    result = run("psf")
    assert result.exit_code == 2 and "Commands:" in result.output + result.stderr


def test_debug_shows_the_traceback(run, tmp_path):
    result = run("--debug", "convert", tmp_path / "missing.png", "-o", tmp_path / "o.png")
    assert result.exit_code == 3
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("fmt, name, code", [("jpeg", "out.png", 2), ("jpeg", "out.jpg", 0), ("tiff", "out.tif", 0)])
def test_format_must_agree_with_the_output_extension(run, tmp_path, rgb_png, fmt, name, code):
    out = tmp_path / name
    result = run("convert", rgb_png, "-o", out, "--format", fmt)
    if code:
        assert_one_error(result, code, f"--format {fmt} contradicts the extension of")
    assert out.exists() is (code == 0)


def test_stdin_to_stdout(run, rgb_png):
    import imageio.v3 as iio
    import numpy as np

    result = run("convert", "-", "-o", "-", "--format", "tif", input=rgb_png.read_bytes())
    assert result.exit_code == 0
    np.testing.assert_array_equal(iio.imread(result.stdout_bytes, extension=".tif"), iio.imread(rgb_png))


@pytest.mark.parametrize("command, option", [("deconv", "--psf"), ("blur", "--psf"), ("upsample", "--kernel")])
def test_stdin_cannot_hold_both_the_image_and_a_file_an_option_reads(run, tmp_path, rgb_png, command, option):
    extra = ["--method", "transposed", "--scale", 2] if command == "upsample" else []
    result = run(command, "-", "-o", tmp_path / "o.png", option, "-", *extra, input=rgb_png.read_bytes())
    assert_one_error(result, 2, f"standard input can hold the image or the {option} file, not both")
    assert not (tmp_path / "o.png").exists()


def test_empty_stdin_is_named_as_such(run, tmp_path):
    assert_one_error(run("convert", "-", "-o", tmp_path / "o.png", input=b""), 3,
                     "standard input is empty; pipe an image into it")


def test_max_pixels_is_enforced_through_the_cli(run, tmp_path, rgb_png):
    result = run("convert", rgb_png, "-o", tmp_path / "o.png", "--max-pixels", 100)
    assert_one_error(result, 3, "--max-pixels")
    assert not (tmp_path / "o.png").exists()


def test_every_public_name_is_importable_from_the_package():
    import deblur_cli

    for name in deblur_cli.__all__:
        assert getattr(deblur_cli, name) is not None


def test_public_names_are_the_functions_even_after_their_modules_are_imported():
    code = ("import importlib, deblur_cli\n"
            "for module in {m for m in deblur_cli._EXPORTS.values()}:\n"
            "    importlib.import_module('deblur_cli.' + module)\n"
            "clashes = [n for n in deblur_cli._EXPORTS if type(getattr(deblur_cli, n)).__name__ == 'module']\n"
            "print(clashes)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"


def test_a_file_name_with_a_newline_keeps_the_error_on_one_line(run, tmp_path):
    bad = tmp_path / "ba\nd.png"
    bad.write_bytes(b"not an image")
    result = run("convert", bad, "-o", tmp_path / "o.png")
    assert_one_error(result, 3, "ba\\nd.png: not a supported image")


@pytest.mark.parametrize("signum, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_every_command_stops_on_a_signal_with_its_exit_code_and_no_partial_file(run, tmp_path, monkeypatch,
                                                                                 signum, code, word):
    import deblur_cli.images

    def signal_in_the_middle_of_the_write(fd):  # in place of os.fsync, after the data and before the rename
        os.kill(os.getpid(), signum)

    monkeypatch.setattr(deblur_cli.images.os, "fsync", signal_in_the_middle_of_the_write)
    result = run("psf", "motion", "--length", 9, "--angle", 0, "-o", tmp_path / "k.npy")
    assert result.exit_code == code
    assert result.stderr == f"deblur: {word}\n"
    assert os.listdir(tmp_path) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

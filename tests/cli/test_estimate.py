"""``deblur estimate``: one line per image, JSON detail, restricted kind, bad input."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data

from deblur_cli.forward import blur
from deblur_cli.psf import defocus, motion

from .expect import assert_one_error


def _write_blurred(path, kernel, sigma=0.003):
    """A 256x256 crop of the camera photograph, blurred, noisy, stored as 8-bit PNG."""
    sharp = data.camera()[60:316, 120:376].astype(np.float32) / 255
    pixels = blur(sharp, kernel, noise_sigma=sigma, seed=1)
    cv2.imwrite(str(path), np.rint(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
    return path


@pytest.fixture
def motion_png(tmp_path):
    return _write_blurred(tmp_path / "motion.png", motion(17, 62.5))


def _fields(line):
    """``name: key=value key=value ...`` -> (name, dict); values are single words here."""
    name, _, rest = line.partition(": ")
    return name, dict(item.split("=", 1) for item in rest.split())


def test_prints_the_motion_found_on_one_line(run, motion_png):
    result = run("estimate", motion_png)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    name, fields = _fields(lines[0])
    assert name == str(motion_png)
    assert fields["kind"] == "motion"
    assert float(fields["length"]) == pytest.approx(17, abs=0.8)
    assert abs(float(fields["angle"]) - 62.5) < 1.5
    assert float(fields["confidence"]) > 0.8
    assert float(fields["noise_sigma"]) == pytest.approx(0.003, rel=0.3)
    assert "scores.motion" not in fields  # the detail is for --json


def test_json_holds_every_kind_and_the_chosen_one(run, tmp_path, motion_png):
    other = _write_blurred(tmp_path / "defocus.png", defocus(5.5))
    result = run("estimate", motion_png, other, "--json", "--jobs", "1", "--quiet")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["command"] == "estimate" and report["summary"]["done"] == 2
    by_name = {r["input"]: r["parameters"] for r in report["records"]}
    found = by_name[str(other)]
    assert found["kind"] == "defocus" and found["radius"] == pytest.approx(5.5, abs=0.25)
    assert set(found["scores"]) == set(found["candidates"]) == {"motion", "defocus", "gaussian"}
    assert by_name[str(motion_png)]["kind"] == "motion"
    assert all(r["output"] is None for r in report["records"])


def test_kind_option_restricts_the_answer(run, motion_png):
    result = run("estimate", motion_png, "--kind", "defocus")
    assert result.exit_code == 0, result.stderr
    fields = _fields(result.stdout.strip())[1]
    assert fields["kind"] == "defocus" and "radius" in fields and float(fields["confidence"]) < 0.5


def test_flat_image_is_reported_as_no_blur(run, tmp_path):
    flat = tmp_path / "flat.png"
    cv2.imwrite(str(flat), np.full((64, 64), 128, np.uint8))
    result = run("estimate", flat)
    assert result.exit_code == 0, result.stderr
    assert "kind=none confidence=0 " in result.stdout and "flat" in result.stdout


def test_too_small_image_is_one_line_error(run, tmp_path):
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((16, 16), np.uint8))
    assert_one_error(run("estimate", tiny), 3, "tiny.png", "16x16 pixels is too small: 32x32")


def test_unknown_kind_is_a_usage_error(run, motion_png):
    result = run("estimate", motion_png, "--kind", "box")
    assert result.exit_code == 2 and "box" in result.stderr


def test_missing_file_is_one_line_error(run, tmp_path):
    assert_one_error(run("estimate", tmp_path / "nope.png"), 3, "nope.png")


def test_installed_command_runs_as_a_process(motion_png):
    done = subprocess.run(
        [sys.executable, "-m", "deblur_cli", "estimate", str(motion_png), "--json"],
        capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"][0]["parameters"]["kind"] == "motion"


def test_report_on_stdout_is_only_json(run):
    import json
    from pathlib import Path

    sample = Path(__file__).resolve().parents[2] / "sample_images" / "blurred" / "camera_defocus4.png"
    result = run("estimate", sample, "--report", "-")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["records"][0]["parameters"]["kind"] == "defocus"


def test_a_reader_that_stops_reading_ends_the_command_quietly_with_141(tmp_path):
    import subprocess
    import sys

    import cv2

    rng = np.random.default_rng(4)
    for i in range(6):
        cv2.imwrite(str(tmp_path / f"i{i}.png"), cv2.GaussianBlur(rng.integers(0, 256, (64, 64), dtype=np.uint8), (0, 0), 2))
    command = [sys.executable, "-m", "deblur_cli", "estimate", str(tmp_path), "--jobs", "1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        process.stdout.readline()
        process.stdout.close()  # as `| head -1` does
        error = process.stderr.read()
        assert process.wait(timeout=120) == 141
    assert error == b""


def test_a_report_does_not_change_the_printed_lines(run, tmp_path):
    import cv2

    path = tmp_path / "i.png"
    cv2.imwrite(str(path), cv2.GaussianBlur(np.random.default_rng(5).integers(0, 256, (96, 96), dtype=np.uint8), (0, 0), 2))
    plain = run("estimate", path)
    reported = run("estimate", path, "--report", tmp_path / "r.json")
    assert plain.exit_code == reported.exit_code == 0
    assert reported.stdout == plain.stdout and "scores" not in plain.stdout
    assert "scores" in (tmp_path / "r.json").read_text()

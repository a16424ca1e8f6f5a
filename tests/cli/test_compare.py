"""``deblur compare``: exit codes, machine-readable output in every case, diff images."""

import csv
import io
import json
import math
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from .expect import assert_one_error


def strict_loads(text):
    """json.loads that refuses the Infinity/NaN extensions Python would otherwise accept."""

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def smooth(seed, shape=(48, 64, 3), dtype=np.uint8):
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    array = cv2.GaussianBlur(rng.random(shape), (0, 0), 2)
    array = (array - array.min()) / (array.max() - array.min())
    return np.rint(array * top).astype(dtype)


def perturbed(array, amount, seed=1):
    rng = np.random.default_rng(seed)
    top = np.iinfo(array.dtype).max
    return np.clip(array.astype(np.int64) + rng.integers(-amount, amount + 1, array.shape), 0, top).astype(array.dtype)


def save(path, array):
    """Write with OpenCV (RGB given), an encoder independent of the one under test."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array[..., ::-1] if array.ndim == 3 else array)
    return path


@pytest.fixture
def files(tmp_path):
    """A reference, a copy, a slightly perturbed copy (+-2), a wrong-size image, a damaged file."""
    reference = smooth(0)
    near = perturbed(reference, 2)
    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(save(tmp_path / "tmp.png", reference).read_bytes()[:200])
    return {
        "arrays": {"reference": reference, "near": near},
        "reference": save(tmp_path / "reference.png", reference),
        "same": save(tmp_path / "same.png", reference),
        "near": save(tmp_path / "near.png", near),
        "small": save(tmp_path / "small.png", reference[:40]),
        "damaged": damaged,
        "missing": tmp_path / "missing.png",
    }


# --- two files ----------------------------------------------------------------------


def test_a_passing_pair_exits_0_and_prints_skimage_psnr(run, files):
    result = run("compare", files["reference"], files["near"], "--min-psnr", 30)
    assert result.exit_code == 0, result.stderr
    expected = peak_signal_noise_ratio(files["arrays"]["reference"], files["arrays"]["near"])
    assert f"{expected:.2f}" in result.stdout.splitlines()[1]
    assert result.stderr == ""


@pytest.mark.parametrize(
    "option, value, message",
    [("--min-psnr", 60, "--min-psnr 60"), ("--min-ssim", 0.9999, "--min-ssim 0.9999"), ("--max-diff", 1, "--max-diff 1")],
)
def test_a_pair_below_a_threshold_exits_1(run, files, option, value, message):
    result = run("compare", files["reference"], files["near"], option, value)
    assert_one_error(result, 1, "near.png", message)


def test_thresholds_at_the_measured_value_pass(run, files):
    arrays = files["arrays"]
    difference = np.abs(arrays["reference"].astype(int) - arrays["near"].astype(int)).max()
    assert difference == 2
    assert run("compare", files["reference"], files["near"], "--max-diff", 2).exit_code == 0
    assert run("compare", files["reference"], files["near"], "--max-diff", 1.99).exit_code == 1


def test_identical_images_pass_any_psnr_threshold_and_show_inf(run, files):
    result = run("compare", files["reference"], files["same"], "--min-psnr", 1000, "--max-diff", 0)
    assert result.exit_code == 0, result.stderr
    assert " inf " in result.stdout.splitlines()[1]


def test_identical_images_in_json_have_null_psnr(run, files):
    result = run("compare", files["reference"], files["same"], "--json")
    assert result.exit_code == 0
    quality = strict_loads(result.stdout)["records"][0]["quality"]
    assert quality["psnr"] is None and quality["identical"] is True
    assert quality["ssim"] == pytest.approx(1.0, abs=1e-6)


def test_a_size_mismatch_exits_3(run, files):
    result = run("compare", files["reference"], files["small"])
    assert_one_error(result, 3, "small.png", "size differs", "64x48", "64x40")


@pytest.mark.parametrize("name, message", [("damaged", "cannot decode"), ("missing", "no such file")])
def test_an_unreadable_file_exits_3(run, files, name, message):
    result = run("compare", files["reference"], files[name])
    assert_one_error(result, 3, f"{name}.png", message)


@pytest.mark.parametrize(
    "other, extra, code",
    [
        ("same", [], 0),
        ("near", [], 0),
        ("near", ["--min-psnr", 60], 1),
        ("small", [], 3),
        ("damaged", [], 3),
        ("missing", [], 3),
    ],
)
def test_json_output_parses_in_every_case(run, files, other, extra, code):
    result = run("compare", files["reference"], files[other], "--json", *extra)
    assert result.exit_code == code
    report = strict_loads(result.stdout)
    assert report["version"] == 1 and report["command"] == "compare"
    assert report["summary"]["exit_code"] == code
    (record,) = report["records"]
    assert record["reference"] == str(files["reference"]) and record["input"] == str(files[other])
    assert record["status"] == ("done" if code == 0 else "failed")
    assert (record["error"] is None) == (code == 0)


def test_csv_output_has_one_row_per_pair(run, files):
    result = run("compare", files["reference"], files["near"], "--csv")
    assert result.exit_code == 0
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    expected = peak_signal_noise_ratio(files["arrays"]["reference"], files["arrays"]["near"])
    assert float(row["psnr"]) == pytest.approx(expected, abs=1e-9)
    assert row["status"] == "done"


@pytest.mark.parametrize("name", ["compare.json", "compare.csv"])
def test_report_file_is_written_beside_the_table(run, files, tmp_path, name):
    path = tmp_path / name
    result = run("compare", files["reference"], files["near"], "--min-psnr", 60, "--report", path)
    assert result.exit_code == 1
    assert result.stdout.startswith("reference")  # the table still goes to stdout
    text = path.read_text()
    if name.endswith(".json"):
        assert strict_loads(text)["records"][0]["status"] == "failed"
    else:
        assert next(csv.DictReader(io.StringIO(text)))["status"] == "failed"


def test_report_with_an_unknown_extension_is_a_usage_error(run, files, tmp_path):
    result = run("compare", files["reference"], files["near"], "--report", tmp_path / "r.txt")
    assert_one_error(result, 2, ".json or .csv")


def test_json_and_csv_together_is_a_usage_error(run, files):
    assert_one_error(run("compare", files["reference"], files["near"], "--json", "--csv"), 2, "not both")


def test_a_crop_border_larger_than_the_images_leaves_the_pair_unmeasured(run, files, tmp_path):
    report = tmp_path / "r.json"
    result = run("compare", files["reference"], files["near"], "--crop-border", 24, "--report", report)
    assert_one_error(result, 3, "near.png", "cropping 24 pixels from every side leaves nothing of a 64x48 image; crop at most 23")
    assert strict_loads(report.read_text())["summary"]["errors"] == 1


def test_channel_y_and_crop_border_reach_the_metrics(run, files):
    result = run("compare", files["reference"], files["near"], "--json", "--channel", "y", "--crop-border", 4)
    quality = strict_loads(result.stdout)["records"][0]["quality"]
    inner = (slice(4, -4), slice(4, -4))
    ya, yb = (rgb2ycbcr(files["arrays"][k][inner])[..., 0] for k in ("reference", "near"))
    assert quality["psnr"] == pytest.approx(peak_signal_noise_ratio(ya, yb, data_range=255), abs=1e-9)
    expected_ssim = structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=255)
    assert quality["ssim"] == pytest.approx(expected_ssim, abs=1e-4)


def test_16_bit_images_use_the_16_bit_range(run, tmp_path):
    a = smooth(3, dtype=np.uint16)
    b = perturbed(a, 300)
    result = run("compare", save(tmp_path / "a.png", a), save(tmp_path / "b.png", b), "--json")
    quality = strict_loads(result.stdout)["records"][0]["quality"]
    assert quality["data_range"] == 65535
    assert quality["psnr"] == pytest.approx(peak_signal_noise_ratio(a, b), abs=1e-9)


def test_data_range_option_sets_the_peak(run, files):
    result = run("compare", files["reference"], files["near"], "--json", "--data-range", 100)
    quality = strict_loads(result.stdout)["records"][0]["quality"]
    expected = peak_signal_noise_ratio(files["arrays"]["reference"], files["arrays"]["near"], data_range=100)
    assert quality["psnr"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("data_range", ["1e200", "1e300", "1.7976931348623157e308", "1e-160", "1e-300", "5e-324"])
def test_any_finite_data_range_gives_finite_metrics(run, files, data_range):
    result = run("compare", files["reference"], files["near"], "--json", "--data-range", data_range)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    quality = strict_loads(result.stdout)["records"][0]["quality"]
    arrays = files["arrays"]
    shift = 20 * (math.log10(float(data_range)) - math.log10(255))  # PSNR moves with 20 log10 R
    assert quality["psnr"] == pytest.approx(peak_signal_noise_ratio(arrays["reference"], arrays["near"]) + shift, abs=1e-9)
    assert -1 <= quality["ssim"] <= 1


def test_a_negative_min_psnr_gates_the_negative_psnr_of_a_tiny_data_range(run, files):
    # R = 1e-160 puts PSNR near -3203 dB: a threshold below passes, one above fails
    args = ("compare", files["reference"], files["near"], "--data-range", "1e-160")
    assert run(*args, "--min-psnr", -3300).exit_code == 0
    assert_one_error(run(*args, "--min-psnr", -3000), 1, "< --min-psnr -3000")


@pytest.mark.parametrize(
    "option, value, rule",
    [
        ("--min-psnr", "nan", "a finite number"),
        ("--min-psnr", "inf", "a finite number"),
        ("--min-psnr", "-inf", "a finite number"),
        ("--min-psnr", "forty", "a finite number"),
        ("--min-ssim", "nan", "a number from -1 to 1"),
        ("--min-ssim", "1.5", "a number from -1 to 1"),
        ("--min-ssim", "-1.01", "a number from -1 to 1"),
        ("--min-ssim", "inf", "a number from -1 to 1"),
        ("--max-diff", "nan", "a finite number >= 0"),
        ("--max-diff", "inf", "a finite number >= 0"),
        ("--max-diff", "-1", "a finite number >= 0"),
        ("--tolerance", "nan", "a finite number >= 0"),
        ("--tolerance", "inf", "a finite number >= 0"),
        ("--tolerance", "-0.5", "a finite number >= 0"),
        ("--data-range", "nan", "a finite number > 0"),
        ("--data-range", "inf", "a finite number > 0"),
        ("--data-range", "1e400", "a finite number > 0"),
        ("--data-range", "0", "a finite number > 0"),
        ("--data-range", "-255", "a finite number > 0"),
        ("--diff-gain", "nan", "a finite number > 0"),
        ("--diff-gain", "inf", "a finite number > 0"),
        ("--diff-gain", "0", "a finite number > 0"),
        ("--diff-gain", "-10", "a finite number > 0"),
        ("--crop-border", "-1", "an integer >= 0"),
        ("--crop-border", "nan", "an integer >= 0"),
        ("--crop-border", "1.5", "an integer >= 0"),
        ("--jobs", "0", "an integer >= 1"),
        ("--jobs", "inf", "an integer >= 1"),
    ],
)
def test_an_out_of_domain_number_is_a_one_line_usage_error(run, files, tmp_path, option, value, rule):
    report = tmp_path / "r.json"
    result = run("compare", files["reference"], files["same"], option, value, "--report", report)
    assert_one_error(result, 2, f"{option} must be {rule}, got {value}")
    assert result.stdout == "" and not report.exists()


@pytest.mark.parametrize(
    "option, value",
    [("--min-psnr", "-5"), ("--min-psnr", "0"), ("--min-ssim", "-1"), ("--min-ssim", "1"), ("--max-diff", "0"),
     ("--tolerance", "0"), ("--data-range", "5e-324"), ("--diff-gain", "1e-300"), ("--crop-border", "0"), ("--jobs", "1")],
)
def test_numbers_at_the_edge_of_their_domain_are_accepted(run, files, option, value):
    result = run("compare", files["reference"], files["same"], option, value, "--json")
    assert result.exit_code == 0, result.stderr
    assert strict_loads(result.stdout)["records"][0]["parameters"]["channel"] == "all"


@pytest.mark.parametrize(
    "extra, visible",
    [
        (["--diff-gain", "1e308"], lambda d: d > 0),  # every difference saturates
        (["--data-range", "1e-300"], lambda d: d > 0),
        (["--data-range", "5e-324", "--diff-gain", "1e308"], lambda d: d > 0),
        (["--diff-gain", "1e-300"], lambda d: d < 0),  # no difference shows
        (["--data-range", "1e300", "--diff-gain", "1e-8"], lambda d: d < 0),
    ],
)
def test_extreme_diff_gains_and_data_ranges_saturate_the_heat_map_cleanly(run, files, tmp_path, extra, visible):
    path = tmp_path / "diff.png"
    result = run("compare", files["reference"], files["near"], "--diff", path, *extra)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    arrays = files["arrays"]
    difference = np.abs(arrays["reference"].astype(int) - arrays["near"].astype(int)).max(axis=2)
    levels = np.where(visible(difference), 255, 0).astype(np.uint8)
    assert np.array_equal(cv2.imread(str(path)), cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO))


def test_diff_image_is_the_colour_mapped_amplified_difference(run, files, tmp_path):
    path = tmp_path / "diff.png"
    result = run("compare", files["reference"], files["near"], "--diff", path, "--diff-gain", 20)
    assert result.exit_code == 0, result.stderr
    arrays = files["arrays"]
    difference = np.abs(arrays["reference"].astype(int) - arrays["near"].astype(int)).max(axis=2)
    levels = np.rint(np.minimum(difference / 255 * 20 * 255, 255)).astype(np.uint8)
    expected = cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO)  # BGR, as imread gives
    assert np.array_equal(cv2.imread(str(path)), expected)


def test_an_existing_diff_image_needs_overwrite(run, files, tmp_path):
    path = tmp_path / "diff.png"
    path.write_bytes(b"old")
    assert_one_error(run("compare", files["reference"], files["near"], "--diff", path), 3, "exists", "--overwrite")
    assert run("compare", files["reference"], files["near"], "--diff", path, "--overwrite").exit_code == 0
    assert cv2.imread(str(path)) is not None


def test_a_file_and_a_directory_is_a_usage_error(run, files, tmp_path):
    assert_one_error(run("compare", files["reference"], tmp_path), 2, "give two files or two directories")


# --- two directories ----------------------------------------------------------------


@pytest.fixture
def trees(tmp_path):
    """expected/ and actual/ with the same three images (one nested), actual/ perturbed."""
    expected, actual = tmp_path / "expected", tmp_path / "actual"
    for index, name in enumerate(["a.png", "b.png", "sub/c.png"]):
        array = smooth(index)
        save(expected / name, array)
        save(actual / name, perturbed(array, 1, seed=index))
    return expected, actual


def records_by_name(result):
    report = strict_loads(result.stdout)
    return report, {record["reference"].replace("\\", "/").split("expected/")[-1]: record for record in report["records"]}


def test_directories_are_paired_by_relative_path(run, trees):
    expected, actual = trees
    result = run("compare", expected, actual, "--json", "--min-psnr", 40)
    assert result.exit_code == 0, result.stderr
    report, records = records_by_name(result)
    assert sorted(records) == ["a.png", "b.png", "sub/c.png"]
    assert records["sub/c.png"]["input"] == str(actual / "sub" / "c.png")
    assert report["summary"]["pairs"] == 3 and report["summary"]["passed"] == 3


def test_a_missing_file_in_a_directory_pair_exits_1(run, trees):
    expected, actual = trees
    (actual / "b.png").unlink()
    result = run("compare", expected, actual, "--json")
    assert result.exit_code == 1
    report, records = records_by_name(result)
    assert records["b.png"]["status"] == "failed" and "missing" in records["b.png"]["error"]
    assert records["a.png"]["status"] == "done"
    assert report["summary"]["failed"] == 1
    assert "1 of 3 pairs failed" in result.stderr


def test_an_empty_output_tree_reports_every_reference_missing(run, trees, tmp_path):
    expected, _ = trees
    empty = tmp_path / "empty"
    empty.mkdir()
    report_path = tmp_path / "r.json"
    result = run("compare", expected, empty, "--min-psnr", 40, "--report", report_path)
    assert result.exit_code == 1
    statuses = [r["status"] for r in json.loads(report_path.read_text())["records"]]
    assert statuses == ["failed"] * 3


def test_an_extra_file_in_a_directory_pair_exits_1(run, trees):
    expected, actual = trees
    save(actual / "new.png", smooth(9))
    result = run("compare", expected, actual, "--json")
    assert result.exit_code == 1
    _, records = records_by_name(result)
    assert "extra" in records["new.png"]["error"]


def test_a_read_error_wins_over_a_threshold_failure(run, trees):
    expected, actual = trees
    (actual / "a.png").write_bytes(b"not an image")
    (actual / "b.png").unlink()
    result = run("compare", expected, actual, "--json")
    assert_one_error(result, 3, "1 of 3 pairs could not be compared", "a.png")
    summary = strict_loads(result.stdout)["summary"]
    assert (summary["passed"], summary["failed"], summary["errors"], summary["exit_code"]) == (1, 1, 1, 3)


@pytest.mark.parametrize("jobs", [1, 3])
def test_a_crop_border_too_large_for_one_pair_of_a_tree_fails_that_pair_alone(run, trees, jobs, tmp_path):
    expected, actual = trees
    for tree in trees:
        save(tree / "sub" / "tiny.png", smooth(5, shape=(12, 12, 3)))
    result = run("compare", expected, actual, "--crop-border", 6, "--json", "--jobs", jobs, "--diff", tmp_path / "d")
    assert_one_error(result, 3, "1 of", "tiny.png", "cropping 6 pixels from every side leaves nothing of a 12x12 image")
    records = strict_loads(result.stdout)["records"]
    measured = [r for r in records if r["quality"] is not None]
    assert len(measured) == len(records) - 1 and all(os.path.exists(r["output"]) for r in measured)


def test_parallel_jobs_give_the_same_report_in_the_same_order(run, trees):
    expected, actual = trees
    reports = [strict_loads(run("compare", expected, actual, "--json", "--jobs", jobs).stdout) for jobs in (1, 3)]
    for report in reports:
        for record in report["records"]:
            record["seconds"] = None
        report["summary"]["seconds"] = None
    assert reports[0] == reports[1]


def test_diff_directory_mirrors_relative_paths(run, trees, tmp_path):
    expected, actual = trees
    diffs = tmp_path / "diffs"
    result = run("compare", expected, actual, "--diff", diffs, "--json")
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(diffs).as_posix() for p in diffs.rglob("*.png"))
    assert written == ["a.png", "b.png", "sub/c.png"]
    _, records = records_by_name(result)
    assert records["sub/c.png"]["output"] == str(diffs / "sub" / "c.png")
    assert cv2.imread(str(diffs / "sub" / "c.png")).shape == (48, 64, 3)


def test_diff_directory_inside_a_compared_directory_is_refused(run, trees):
    expected, actual = trees
    assert_one_error(run("compare", expected, actual, "--diff", actual / "diffs"), 2, "outside")


def test_a_missing_directory_exits_3(run, trees, tmp_path):
    expected, _ = trees
    assert_one_error(run("compare", expected, tmp_path / "nowhere"), 3, "nowhere", "no such directory")


def test_a_diff_directory_under_a_file_is_refused_before_measuring(run, trees, tmp_path):
    expected, actual = trees
    (tmp_path / "afile").write_bytes(b"x")
    result = run("compare", expected, actual, "--diff", tmp_path / "afile" / "sub")
    assert_one_error(result, 3, "afile is a file, not a directory; choose another --diff")
    assert result.stdout == ""


def test_the_report_is_written_though_the_reader_of_stdout_left(trees, tmp_path):
    expected, actual = trees
    report = tmp_path / "r.json"
    command = [sys.executable, "-m", "deblur_cli", "compare", str(expected), str(actual), "--json", "--report", str(report)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is printed
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 141, stderr
    assert strict_loads(report.read_text())["summary"]["pairs"] == 3


@pytest.mark.skipif(sys.platform == "darwin", reason="the file system takes only UTF-8 names")
def test_a_file_name_that_is_not_utf8_keeps_its_bytes_in_a_csv_report(run, tmp_path):
    name = os.fsdecode(b"\xffbad.png")
    ok, data = cv2.imencode(".png", smooth(3))  # (OpenCV's imwrite cannot take such a name)
    assert ok
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        (tmp_path / side / name).write_bytes(data.tobytes())
    report = tmp_path / "r.csv"
    result = run("compare", tmp_path / "a", tmp_path / "b", "--report", report)
    assert result.exit_code == 0, result.stderr
    assert b"\xffbad.png" in report.read_bytes()


def test_identical_images_too_small_for_ssim_pass_min_ssim(run, tmp_path):
    tiny = smooth(4, shape=(8, 8, 3))
    save(tmp_path / "a.png", tiny)
    save(tmp_path / "b.png", tiny)
    assert run("compare", tmp_path / "a.png", tmp_path / "b.png", "--min-ssim", 0.9).exit_code == 0


def test_a_value_just_below_its_threshold_is_not_shown_as_the_threshold(run, tmp_path):
    reference = np.full((100, 100), 100, np.uint8)
    image = reference.copy()
    image.flat[:7226] += 3  # MSE 6.5034: PSNR 39.99939 dB
    save(tmp_path / "a.png", reference)
    save(tmp_path / "b.png", image)
    result = run("compare", tmp_path / "a.png", tmp_path / "b.png", "--min-psnr", 40)
    assert_one_error(result, 1, "PSNR 39.99939")
    assert "40.00 dB" not in result.stderr


def test_large_differences_are_printed_whole_and_one_pair_is_one_pair(run, tmp_path):
    reference = np.zeros((16, 16), np.uint16)
    image = reference.copy()
    image[3, 4] = 54321
    for side, array in (("a", reference), ("b", image)):
        save(tmp_path / side / "x.png", array)
    result = run("compare", tmp_path / "a", tmp_path / "b", "--max-diff", 1)
    assert " 54321 " in result.stdout
    assert_one_error(result, 1, "1 of 1 pair failed")


def test_a_diff_image_that_cannot_be_written_keeps_the_measured_quality(run, trees, tmp_path):
    expected, actual = trees
    diffs = tmp_path / "diffs"
    diffs.mkdir()
    (diffs / "sub").write_text("a file where the diff images of sub/ would go")
    result = run("compare", expected, actual, "--json", "--diff", diffs)
    assert_one_error(result, 3, "1 of 3 pairs could not be compared", "sub")
    record = next(r for r in strict_loads(result.stdout)["records"] if r["input"].endswith("c.png"))
    assert record["quality"]["psnr"] > 30 and record["output"] is None and record["error"]

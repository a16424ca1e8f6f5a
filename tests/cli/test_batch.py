"""Batches through the CLI: failures, resuming, collisions, interruption, determinism."""

import json
import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest
import tifffile

from .expect import assert_one_error


def make_inputs(directory, count, corrupt=()):
    directory.mkdir()
    rng = np.random.default_rng(3)
    for i in range(count):
        path = directory / f"img{i:02d}.png"
        if i in corrupt:
            path.write_bytes(b"not an image")
        else:
            cv2.imwrite(str(path), rng.integers(0, 256, (8, 12, 3), dtype=np.uint8))
    return directory


def test_corrupt_files_fail_alone_and_the_batch_goes_on(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 30, corrupt={4, 11, 29})
    report = tmp_path / "report.json"
    result = run("convert", inputs, "--out-dir", tmp_path / "out", "--jobs", 2, "--report", report)
    assert result.exit_code == 1
    assert len(list((tmp_path / "out").iterdir())) == 27
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("deblur: error: ")]
    assert sum("img04.png" in line or "img11.png" in line or "img29.png" in line for line in error_lines) == 3
    records = json.loads(report.read_text())["records"]
    assert len(records) == 30
    assert [r["status"] for r in records].count("failed") == 3
    assert {os.path.basename(r["input"]) for r in records if r["status"] == "failed"} == {
        "img04.png", "img11.png", "img29.png"}
    # A record's output is the file written: none for a failure.
    assert all(os.path.isfile(r["output"]) for r in records if r["status"] == "done")
    assert all(r["output"] is None for r in records if r["status"] == "failed")


def test_skip_existing_processes_only_the_rest(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 6)
    out = tmp_path / "out"
    assert run("convert", inputs / "img00.png", inputs / "img01.png", "--out-dir", out).exit_code == 0
    marker = (out / "img00.png").stat().st_mtime_ns
    report = tmp_path / "r.json"
    result = run("convert", inputs, "--out-dir", out, "--skip-existing", "--report", report, "--jobs", 1)
    assert result.exit_code == 0
    statuses = {os.path.basename(r["input"]): r["status"] for r in json.loads(report.read_text())["records"]}
    assert statuses == {f"img{i:02d}.png": "skipped" if i < 2 else "done" for i in range(6)}
    assert (out / "img00.png").stat().st_mtime_ns == marker
    assert len(list(out.iterdir())) == 6


def test_existing_outputs_are_refused_before_any_work(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    (out / "img01.png").write_bytes(b"keep")
    result = run("convert", inputs, "--out-dir", out)
    assert result.exit_code == 3
    assert "--skip-existing" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["img01.png"]


def test_name_collision_is_refused_before_any_work(run, tmp_path):
    a = make_inputs(tmp_path / "a", 1)
    b = make_inputs(tmp_path / "b", 1)
    result = run("convert", a / "img00.png", b / "img00.png", "--out-dir", tmp_path / "out")
    assert result.exit_code == 3
    assert "both" in result.stderr
    assert not (tmp_path / "out").exists()


def test_many_inputs_need_out_dir(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 2)
    result = run("convert", inputs, "-o", tmp_path / "x.png")
    assert result.exit_code == 2
    assert "--out-dir" in result.stderr


def test_shards_through_the_cli_cover_each_input_once(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 10)
    out = tmp_path / "out"
    for k in (1, 2, 3):
        assert run("convert", inputs, "--out-dir", out, "--shard", f"{k}/3", "--jobs", 1).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in inputs.iterdir())


def without_timing(report_text):
    report = json.loads(report_text)
    report["summary"].pop("seconds")
    for record in report["records"]:
        record.pop("seconds")
    return report


def test_same_batch_twice_gives_identical_bytes(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 8)
    runs = []
    for name in ("run_a", "run_b"):
        out = tmp_path / name
        report = tmp_path / f"{name}.json"
        assert run("convert", inputs, "--out-dir", out, "--report", report, "--jobs", 2).exit_code == 0
        outputs = {p.name: p.read_bytes() for p in out.iterdir()}
        runs.append((outputs, without_timing(report.read_text().replace(name, "RUN"))))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupt_leaves_only_complete_files_and_exits_128_plus_signal(tmp_path, jobs, signum, code):
    big = np.random.default_rng(0).integers(0, 65536, (1024, 1024, 3), dtype=np.uint16)
    inputs = tmp_path / "in"
    inputs.mkdir()
    tifffile.imwrite(inputs / "source.tif", big, photometric="rgb")
    for i in range(40):
        os.symlink(inputs / "source.tif", inputs / f"link{i:02d}.tif")
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "deblur_cli", "convert", str(inputs), "--out-dir", str(out), "--format", "png",
         "--jobs", str(jobs), "-v"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    first = process.stderr.readline()  # one image is done: the batch is under way
    assert first.startswith("deblur: ")
    process.send_signal(signum)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == code, first + rest
    assert "Traceback" not in rest and rest.endswith("interrupted\n" if code == 130 else "terminated\n")
    written = list(out.iterdir())
    assert 1 <= len(written) < 41
    for path in written:
        assert not path.name.startswith("."), f"temporary file left: {path.name}"
        decoded = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        assert decoded is not None and np.array_equal(decoded[..., ::-1], big)  # OpenCV gives BGR


def test_fail_fast_records_what_did_not_run(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 5, corrupt={1})
    report = tmp_path / "r.json"
    result = run("convert", inputs, "--out-dir", tmp_path / "out", "--jobs", 1, "--fail-fast", "--report", report)
    assert result.exit_code == 1
    document = json.loads(report.read_text())
    assert [r["status"] for r in document["records"]] == ["done", "failed", "not run", "not run", "not run"]
    assert document["summary"]["not_run"] == 3
    assert [r["output"] is None for r in document["records"]] == [False, True, True, True, True]


def test_fail_fast_in_parallel_records_every_output_it_wrote(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 8, corrupt={1})
    out, report = tmp_path / "out", tmp_path / "r.json"
    result = run("convert", inputs, "--out-dir", out, "--jobs", 2, "--fail-fast", "--report", report)
    assert result.exit_code == 1
    records = json.loads(report.read_text())["records"]
    assert records[1]["status"] == "failed"
    assert all(r["output"] is None for r in records if r["status"] == "not run")
    assert sorted(os.listdir(out)) == sorted(os.path.basename(r["output"]) for r in records if r["status"] == "done")


@pytest.mark.parametrize("report, code", [("nowhere/r.json", 3), ("r.txt", 2)])
@pytest.mark.parametrize("many", [True, False])
def test_unwritable_report_is_refused_before_any_work(run, tmp_path, report, code, many):
    inputs = make_inputs(tmp_path / "in", 2)
    output = tmp_path / "out" if many else tmp_path / "one.png"
    result = run("convert", inputs if many else inputs / "img00.png", "--out-dir" if many else "-o", output,
                 "--report", tmp_path / report)
    assert result.exit_code == code
    assert not output.exists()


def grey_png(path, value):
    """A small greyscale PNG (an image, a PSF or a kernel file) of a blob around ``value``."""
    array = np.zeros((5, 5), np.uint8)
    array[1:4, 1:4] = value
    array[2, 2] = 255
    cv2.imwrite(str(path), array)
    return path


@pytest.mark.parametrize(
    "command, option",
    [("blur", "--psf"), ("deconv", "--psf"), ("upsample", "--kernel")],
)
@pytest.mark.parametrize("target", ["-o", "--out-dir", "--report"])
def test_outputs_never_replace_a_psf_or_kernel_file(run, tmp_path, command, option, target):
    inputs = make_inputs(tmp_path / "in", 1)
    read = grey_png(tmp_path / "k.png", 60) if target != "--report" else tmp_path / "k.csv"
    if target == "--report":
        np.savetxt(read, np.ones((3, 3)), delimiter=",")
    extra = {"blur": [], "deconv": ["--nsr", 0.01], "upsample": ["--method", "transposed", "--scale", 2, "-q"]}[command]
    where = {"-o": ["-o", read],
             "--out-dir": [inputs, "--out-dir", tmp_path, "--name", "k.png"],
             "--report": ["-o", tmp_path / "out.png", "--report", read]}[target]
    before = read.read_bytes()
    source = [] if target == "--out-dir" else [inputs / "img00.png"]
    result = run(command, *source, *where, option, read, "--overwrite", *extra)
    assert_one_error(result, 3, f"{read}: output is the {option} file; choose another output path")
    assert read.read_bytes() == before
    assert not (tmp_path / "out.png").exists()


def test_outputs_never_replace_a_reference(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 3)
    references = tmp_path / "refs"
    references.mkdir()
    for path in inputs.iterdir():
        (references / path.name).write_bytes(path.read_bytes())
    before = {path.name: path.read_bytes() for path in references.iterdir()}
    one = inputs / "img01.png"
    for args, option, named in [
        ([one, "-o", references / "img01.png", "--reference", references / "img01.png"], "--reference", "img01.png"),
        ([one, "-o", references / "img02.png", "--reference-dir", references], None, None),
        ([inputs, "--out-dir", references, "--reference-dir", references], "--reference-dir", "img00.png"),
        ([inputs, "--out-dir", references, "--reference-dir", references, "--shard", "2/2"], "--reference-dir",
         "img00.png"),
    ]:
        result = run("convert", *args, "--overwrite", "--jobs", 1)
        if option is None:  # a reference of no input here: a plain output
            assert result.exit_code == 0, result.stderr
            (references / "img02.png").write_bytes(before["img02.png"])
            continue
        assert_one_error(result, 3, f"{references / named}: output is the {option} file")
    assert {path.name: path.read_bytes() for path in references.iterdir()} == before


@pytest.mark.parametrize("extra, prepared", [(["--jobs", "2"], True), (["--jobs", "1"], False), ("one file", False)])
def test_a_parallel_batch_prepares_its_workers_first(run, tmp_path, monkeypatch, extra, prepared):
    import deblur_cli.batch

    calls = []
    monkeypatch.setattr(deblur_cli.batch, "prepare_workers", calls.append)
    inputs = make_inputs(tmp_path / "in", 3)
    if extra == "one file":
        args = [inputs / "img00.png", "-o", tmp_path / "out.png"]
    else:
        args = [inputs, "--out-dir", tmp_path / "out", *extra]
    result = run("deconv", *args, "--motion", "3,0", "--nsr", "0.01", "-q")
    assert result.exit_code == 0, result.stderr
    assert bool(calls) is prepared
    if prepared:
        assert {"deblur_cli.cli.runner", "deblur_cli.images", "deblur_cli.deconv", "scipy.fft"} <= set(calls[0])


@pytest.mark.parametrize("where", ["a file", "under a file", "read-only", "not creatable"])
def test_an_unusable_out_dir_is_refused_before_any_work(run, tmp_path, where):
    inputs = make_inputs(tmp_path / "in", 2)
    blocker = tmp_path / "blocker"
    if where == "not creatable":
        if not os.path.isdir("/proc/self"):
            pytest.skip("needs /proc, where no directory can be made")
        result = run("convert", inputs, "--out-dir", "/proc/self/deblur-out", "--format", "tif")
        assert_one_error(result, 3, "cannot create --out-dir")
        return
    if where == "read-only":
        if os.geteuid() == 0:
            pytest.skip("root writes in read-only directories")
        blocker.mkdir(mode=0o555)
        out_dir = blocker / "out"
    else:
        blocker.write_bytes(b"x")
        out_dir = blocker if where == "a file" else blocker / "out"
    result = run("convert", inputs, "--out-dir", out_dir, "--format", "tif")
    assert_one_error(result, 3, "not a directory" if where != "read-only" else "permission denied")
    assert "done" not in result.stderr


def test_a_report_may_go_into_the_out_dir_it_makes(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 3)
    out_dir = tmp_path / "out"
    result = run("convert", inputs, "--out-dir", out_dir, "--report", out_dir / "logs" / "report.json")
    assert result.exit_code == 0, result.stderr
    document = json.loads((out_dir / "logs" / "report.json").read_text())
    assert document["summary"]["done"] == 3 and len(list(out_dir.glob("*.png"))) == 3


@pytest.mark.parametrize("extra, fragment", [
    (["--overwrite", "--skip-existing"], "--overwrite replaces existing outputs"),
    (["-q", "-v"], "--quiet prints nothing but errors"),
    (["--reference", "REF", "--reference-dir", "DIR"], "--reference is one file"),
    (["--suffix", "_x"], "--suffix names outputs in --out-dir"),
    (["--name", "{stem}.png"], "--name names outputs in --out-dir"),
])
def test_options_that_cannot_both_be_meant_are_refused(run, tmp_path, extra, fragment):
    inputs = make_inputs(tmp_path / "in", 1)
    out = tmp_path / "o.png"
    extra = [{"REF": inputs / "img00.png", "DIR": inputs}.get(arg, arg) for arg in extra]
    assert_one_error(run("convert", inputs / "img00.png", "-o", out, *extra), 2, fragment, "give one of them")
    assert not out.exists()


def test_a_report_that_would_replace_an_output_is_refused_before_work(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    result = run("convert", inputs, "--out-dir", out, "--name", "{stem}.json", "--format", "png",
                 "--report", out / "img00.json")
    assert_one_error(result, 3, "the report would replace an output image")
    assert not out.exists() or not any(out.iterdir())


def test_a_missing_reference_is_named_in_the_record(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 2)
    references = tmp_path / "refs"
    references.mkdir()
    (references / "img00.png").write_bytes((inputs / "img00.png").read_bytes())
    report = tmp_path / "r.json"
    result = run("convert", inputs, "--out-dir", tmp_path / "out", "--reference-dir", references, "--report", report)
    assert result.exit_code == 1
    failed = [r for r in json.loads(report.read_text())["records"] if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error"].startswith(str(references / "img01.png") + ": ")


def test_standard_input_has_no_reference_in_a_directory(run, tmp_path, rgb_png):
    result = run("convert", "-", "-o", tmp_path / "o.png", "--reference-dir", tmp_path, input=rgb_png.read_bytes())
    assert_one_error(result, 2, "--reference-dir")
    assert not (tmp_path / "o.png").exists()


def test_format_must_agree_with_the_extension_a_name_gives(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 2)
    result = run("convert", inputs, "--out-dir", tmp_path / "out", "--name", "{stem}.png", "--format", "jpg")
    assert_one_error(result, 2, "--format jpg contradicts")
    assert not (tmp_path / "out").exists()


def test_resuming_with_the_output_directory_inside_the_input_tree(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 3)
    out = inputs / "small"
    assert run("convert", inputs, "-r", "--out-dir", out, "--jobs", 1).exit_code == 0
    report = tmp_path / "r.json"
    result = run("convert", inputs, "-r", "--out-dir", out, "--skip-existing", "--jobs", 1, "--report", report)
    assert result.exit_code == 0, result.stderr
    assert [r["status"] for r in json.loads(report.read_text())["records"]] == ["skipped"] * 3
    assert sorted(os.listdir(out)) == ["img00.png", "img01.png", "img02.png"]


def test_progress_goes_to_stderr_as_lines_when_it_is_not_a_terminal(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 3)
    for image in inputs.iterdir():  # estimate needs 32x32 at least
        cv2.imwrite(str(image), np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    result = run("estimate", inputs, "--progress", "--jobs", 1)
    assert result.exit_code == 0, result.stderr
    assert "deblur estimate: 3/3" in result.stderr.splitlines()
    assert all(line.startswith(str(inputs)) for line in result.stdout.splitlines())  # results only
    assert len(result.stdout.splitlines()) == 3
    quiet = run("estimate", inputs, "--progress", "--quiet", "--jobs", 1)
    assert quiet.exit_code == 0 and quiet.stderr == ""


@pytest.mark.parametrize("args, name", [
    (["deconv", "--motion", "3,0", "--nsr", "0.1"], "rgb_deblurred.png"),
    (["blur", "--gaussian", "1"], "rgb_blurred.png"),
    (["upsample", "--scale", "2"], "rgb_up.png"),
    (["downsample", "--factor", "2"], "rgb_down.png"),
    (["convert"], "rgb.png"),
])
def test_each_command_names_its_outputs_with_its_own_suffix(run, tmp_path, rgb_png, args, name):
    result = run(args[0], rgb_png, "--out-dir", tmp_path / "out", *args[1:])
    assert result.exit_code == 0, result.stderr
    assert os.listdir(tmp_path / "out") == [name]


@pytest.mark.parametrize("again", ["--skip-existing", "--overwrite"])
def test_rerunning_with_the_outputs_beside_the_inputs(run, tmp_path, again):
    inputs = make_inputs(tmp_path / "in", 3)
    assert run("convert", inputs, "--out-dir", inputs, "--suffix", "_c", "--jobs", 1).exit_code == 0
    report = tmp_path / "r.json"
    result = run("convert", inputs, "--out-dir", inputs, "--suffix", "_c", again, "--jobs", 1, "--report", report)
    assert result.exit_code == 0, result.stderr
    records = json.loads(report.read_text())["records"]
    assert [r["input"] for r in records] == [str(inputs / f"img0{i}.png") for i in range(3)]
    assert {r["status"] for r in records} == {"skipped" if again == "--skip-existing" else "done"}
    assert sorted(os.listdir(inputs)) == sorted([f"img0{i}.png" for i in range(3)] + [f"img0{i}_c.png" for i in range(3)])


def test_resuming_removes_what_a_killed_run_left_half_written(run, tmp_path):
    from deblur_cli.images import _partial_prefix

    inputs = make_inputs(tmp_path / "in", 3)
    out = tmp_path / "out"
    out.mkdir()
    assert run("convert", inputs / "img00.png", "-o", out / "img00.png").exit_code == 0
    stale = [out / (_partial_prefix(out / f"img0{i}.png") + "0123abcd.part") for i in range(3)]
    unrelated = out / (_partial_prefix(out / "img00.png.png") + "0123abcd.part")  # no output of this run
    for path in [*stale, unrelated]:
        path.write_bytes(b"half")
    result = run("convert", inputs, "--out-dir", out, "--skip-existing", "--jobs", 1)
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(out)) == sorted([unrelated.name, "img00.png", "img01.png", "img02.png"])


def test_a_directory_of_one_bad_file_exits_as_a_batch(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 1, corrupt={0})
    result = run("convert", inputs, "--out-dir", tmp_path / "out")
    assert result.exit_code == 1
    assert "1 done" not in result.stderr and "0 done, 0 skipped, 1 failed" in result.stderr


def test_a_glob_does_not_follow_links_to_directories(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 2)
    (inputs / "sub").mkdir()
    (inputs / "img00.png").rename(inputs / "sub" / "img00.png")
    os.symlink(inputs / "sub", inputs / "again")  # a second way to sub/
    os.symlink(inputs, inputs / "sub" / "up")  # and a loop
    report = tmp_path / "r.json"
    result = run("convert", str(inputs / "**" / "*.png"), "--out-dir", tmp_path / "out", "--report", report)
    assert result.exit_code == 0, result.stderr
    taken = sorted(os.path.relpath(r["input"], inputs) for r in json.loads(report.read_text())["records"])
    assert taken == ["img01.png", os.path.join("sub", "img00.png")]


def test_an_empty_list_of_inputs_is_one_usage_error(run, tmp_path):
    (tmp_path / "todo.txt").write_text("# nothing yet\n\n")
    result = run("convert", f"@{tmp_path / 'todo.txt'}", "--out-dir", tmp_path / "out")
    assert_one_error(result, 2, "the input lists name no file")


def test_a_missing_reference_directory_is_refused_before_any_work(run, tmp_path):
    inputs = make_inputs(tmp_path / "in", 2)
    result = run("convert", inputs, "--out-dir", tmp_path / "out", "--reference-dir", tmp_path / "nosuch")
    assert_one_error(result, 3, "no such --reference-dir directory")
    assert not (tmp_path / "out").exists()


def test_a_file_name_with_a_newline_keeps_every_printed_line_one_line(run, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    rng = np.random.default_rng(5)
    for name in ("new\nline.png", "plain.png"):  # large enough to estimate
        cv2.imwrite(str(inputs / name), rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))
    result = run("estimate", inputs, "--kind", "gaussian")
    assert result.stdout.count("\n") == 2 and "new\\nline.png: kind=gaussian" in result.stdout
    result = run("convert", inputs, "--out-dir", tmp_path / "out", "-v")
    assert "new\\nline.png -> " in result.stderr and len(result.stderr.splitlines()) == 3  # two files, the summary

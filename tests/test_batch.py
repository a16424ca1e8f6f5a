"""Input expansion, sharding, output naming and collision checks."""

import contextlib
import multiprocessing
import os
import signal
import subprocess
import sys
import time

import pytest

from deblur_cli.batch import (
    Item,
    _context,
    _worker_main,
    expand_inputs,
    find_collisions,
    may_be_several,
    output_name,
    parse_shard,
    run_parallel,
    take_shard,
)
from deblur_cli.errors import DeblurError, OutputError, ParameterError


@pytest.fixture
def tree(tmp_path):
    for relpath in ["a.png", "b.jpg", "notes.txt", "sub/c.png", "sub/deeper/d.tif", ".hidden.png"]:
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return tmp_path


def relpaths(items):
    return [item.relpath for item in items]


def test_directory_takes_its_images(tree):
    assert relpaths(expand_inputs([str(tree)])) == ["a.png", "b.jpg"]


def test_directory_recursive_keeps_relative_paths(tree):
    items = expand_inputs([str(tree)], recursive=True)
    assert sorted(relpaths(items)) == sorted(["a.png", "b.jpg", os.path.join("sub", "c.png"),
                                              os.path.join("sub", "deeper", "d.tif")])


def test_glob_is_relative_to_its_fixed_prefix(tree):
    items = expand_inputs([str(tree / "**" / "*.png")])
    assert sorted(relpaths(items)) == ["a.png", os.path.join("sub", "c.png")]


def test_list_file_and_duplicates(tree):
    listing = tree / "list.txt"
    listing.write_text(f"# inputs\n{tree / 'a.png'}\n\n{tree / 'sub' / 'c.png'}\n")
    items = expand_inputs([f"@{listing}", str(tree / "a.png")])
    assert [item.path for item in items] == sorted([str(tree / "a.png"), str(tree / "sub" / "c.png")])


def test_one_file_under_several_spellings_is_taken_once(tree, monkeypatch):
    monkeypatch.chdir(tree / "sub")
    items = expand_inputs(["c.png", "./c.png", str(tree / "sub" / "c.png"), "../sub/c.png", "deeper/../c.png"])
    assert len(items) == 1 and items[0].relpath == "c.png"


def test_a_link_is_a_name_of_its_own(tree):
    os.symlink(tree / "sub", tree / "link")
    items = expand_inputs([str(tree / "sub" / "c.png"), str(tree / "link" / "c.png")])
    assert [item.path for item in items] == [str(tree / "link" / "c.png"), str(tree / "sub" / "c.png")]
    with pytest.raises(OutputError, match="both"):  # and so it needs an output of its own
        find_collisions([(item, "out/c.png") for item in items])


def test_recursive_skips_hidden_directories_and_broken_links(tree):
    (tree / ".cache").mkdir()
    (tree / ".cache" / "t.png").write_bytes(b"x")
    os.symlink(tree / "nowhere.png", tree / "sub" / "dangling.png")
    items = expand_inputs([str(tree)], recursive=True)
    assert sorted(relpaths(items)) == sorted(["a.png", "b.jpg", os.path.join("sub", "c.png"),
                                              os.path.join("sub", "deeper", "d.tif")])


def test_the_output_directory_inside_an_input_directory_is_skipped(tree):
    out = tree / "sub" / "deeper"
    items = expand_inputs([str(tree)], recursive=True, skip=str(out))
    assert sorted(relpaths(items)) == sorted(["a.png", "b.jpg", os.path.join("sub", "c.png")])
    with pytest.raises(ParameterError, match="matches no image"):
        expand_inputs([str(tree / "**" / "*.tif")], skip=str(out))
    # Given as the input itself, it is taken.
    assert relpaths(expand_inputs([str(out)], skip=str(out))) == ["d.tif"]


def test_outputs_of_other_inputs_found_in_a_directory_are_dropped(tree):
    def output_of(item):
        return os.path.join(str(tree), output_name(item, template=None, suffix="_x", extension="png"))

    (tree / "a_x.png").write_bytes(b"x")  # a's output
    (tree / "b_x.png").write_bytes(b"x")  # b.jpg's output
    (tree / "b_x_x.png").write_bytes(b"x")  # and b_x.png's
    assert relpaths(expand_inputs([str(tree)], output_of=output_of)) == ["a.png", "b.jpg"]
    # Without b.jpg among the inputs, b_x.png is an input like any other.
    assert relpaths(expand_inputs([str(tree / "*.png")], output_of=output_of)) == ["a.png", "b_x.png"]
    # Named, a file is kept: its clash with the plan is then for the collision check to say.
    named = expand_inputs([str(tree), str(tree / "a_x.png")], output_of=output_of)
    assert relpaths(named) == ["a.png", "a_x.png", "b.jpg"]
    # Elsewhere, the outputs are not inputs.
    assert len(expand_inputs([str(tree)], output_of=lambda item: os.path.join("out", item.relpath))) == 5


def test_a_list_file_may_start_with_a_byte_order_mark(tree):
    listing = tree / "list.txt"
    listing.write_bytes(b"\xef\xbb\xbf" + str(tree / "a.png").encode() + b"\r\n")
    assert [item.path for item in expand_inputs([f"@{listing}"])] == [str(tree / "a.png")]


def test_stdin_stays_alone(tree):
    assert expand_inputs(["-"]) == [Item("-", "stdin")]
    with pytest.raises(ParameterError, match="standard input"):
        expand_inputs(["-", str(tree / "a.png")])


def test_empty_pattern_and_directory_are_errors(tree):
    with pytest.raises(ParameterError, match="matches no image"):
        expand_inputs([str(tree / "*.gif")])
    (tree / "empty").mkdir()
    with pytest.raises(ParameterError, match="no image files"):
        expand_inputs([str(tree / "empty")])


def test_shards_cover_inputs_exactly_once():
    items = [Item(f"in/{i:03d}.png", f"{i:03d}.png") for i in range(31)]
    shuffled = items[::-1]
    shards = [take_shard(shuffled, k, 3) for k in (1, 2, 3)]
    taken = [item for shard in shards for item in shard]
    assert sorted(taken, key=lambda item: item.path) == items
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_shards_do_not_depend_on_how_the_tree_is_reached(tree, monkeypatch):
    # Mounted at two places whose names sort the other way round, the tree gives the same shares.
    (tree / "mounts").mkdir()
    os.symlink(tree / "sub", tree / "mounts" / "a")
    os.symlink(tree, tree / "mounts" / "z")
    monkeypatch.chdir(tree)
    spellings = [["./sub", "."], [str(tree / "mounts" / "z"), str(tree / "mounts" / "a")]]
    shares = []
    for specs in spellings:
        items = expand_inputs(specs)
        shares.append([[item.relpath for item in take_shard(items, k, 2)] for k in (1, 2)])
    assert shares[0] == shares[1] == [["a.png", "c.png"], ["b.jpg"]]


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "2/0"])
def test_bad_shard_is_refused(text):
    with pytest.raises(ParameterError, match="--shard"):
        parse_shard(text)


def test_output_names():
    item = Item("photos/2024/x.jpeg", os.path.join("2024", "x.jpeg"))
    assert output_name(item, template=None, suffix="_sharp", extension=None) == os.path.join("2024", "x_sharp.jpeg")
    assert output_name(item, template="{stem}.{ext}", suffix="", extension="png") == os.path.join("2024", "x.png")
    assert output_name(item, template="{name}.out.{ext}", suffix="", extension="tif") == os.path.join(
        "2024", "x.jpeg.out.tif"
    )
    with pytest.raises(ParameterError, match="template"):
        output_name(item, template="{nope}", suffix="", extension=None)
    with pytest.raises(ParameterError, match="relative"):
        output_name(item, template="../{stem}", suffix="", extension=None)
    assert output_name(item, template="{{{stem}}}.{ext}", suffix="", extension="png") == os.path.join(
        "2024", "{x}.png")


@pytest.mark.parametrize("template", ["{stem.upper}", "{stem!r}", "{stem:>20}", "{name[0]}", "{}", "{0}", "{stem"])
def test_a_name_template_takes_its_fields_plainly(template):
    with pytest.raises(ParameterError, match="template"):
        output_name(Item("x.png", "x.png"), template=template, suffix="", extension=None)


@pytest.mark.parametrize("suffix", ["/x", "_a/b", os.sep + "up"])
def test_a_suffix_holds_no_path_separator(suffix):
    with pytest.raises(ParameterError, match="--suffix"):
        output_name(Item("x.png", "x.png"), template=None, suffix=suffix, extension=None)


def test_collisions_are_found():
    a, b = Item("d1/x.png", "x.png"), Item("d2/x.png", "x.png")
    with pytest.raises(OutputError, match="both.*common directory with --recursive"):
        find_collisions([(a, "out/x.png"), (b, "out/x.png")])
    with pytest.raises(OutputError, match=r"both.*--name '\{name\}\{suffix\}.\{ext\}'"):
        find_collisions([(Item("x.jpg", "x.jpg"), "out/x.png"), (b, "out/x.png")])
    with pytest.raises(OutputError, match="name each output after its input with --name's"):
        find_collisions([(Item("a.png", "a.png"), "out/same.png"), (Item("b.png", "b.png"), "out/same.png")])
    with pytest.raises(OutputError, match="the output of d1/x.png would overwrite the input d2/x.png"):
        find_collisions([(a, "d2/x.png"), (b, "out/x.png")])
    find_collisions([(a, "out/1.png"), (b, "out/2.png")])


def failing_on_odd(number):
    if number % 2:
        raise DeblurError(f"odd {number}")
    return number * 10


def test_run_parallel_reports_every_result_and_goes_on_after_errors():
    results = {}
    run_parallel(failing_on_odd, range(7), jobs=2,
                 on_result=lambda i, value, error, seconds: results.__setitem__(i, (value, error and error.message)))
    assert results == {i: ((i * 10, None) if i % 2 == 0 else (None, f"odd {i}")) for i in range(7)}


def test_run_parallel_fail_fast_stops():
    seen = []
    run_parallel(failing_on_odd, range(7), jobs=1, fail_fast=True,
                 on_result=lambda i, value, error, seconds: seen.append(i))
    assert seen == [0, 1]


def failing_or_waiting(argument):
    """Fail at once for ``"fail"``; else wait (30 s at most) for the file ``argument`` to appear."""
    if argument == "fail":
        raise DeblurError("failed")
    deadline = time.monotonic() + 30
    while not os.path.exists(argument) and time.monotonic() < deadline:
        time.sleep(0.01)
    return argument


def test_fail_fast_reports_the_tasks_that_were_running(tmp_path):
    # The second task is running when the first fails, and ends only after that failure is reported.
    flag = tmp_path / "failure reported"
    seen = {}

    def on_result(index, value, error, seconds):
        seen[index] = error.message if error else value
        flag.touch()

    run_parallel(failing_or_waiting, ["fail", str(flag), "never", "never"], jobs=2, fail_fast=True,
                 on_result=on_result)
    assert seen == {0: "failed", 1: str(flag)}


def dying_on_three(number):
    if number == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
    return number * 10


def test_a_worker_that_dies_fails_only_its_own_task():
    results = {}
    run_parallel(dying_on_three, range(8), jobs=2,
                 on_result=lambda i, value, error, seconds: results.__setitem__(i, (value, error and error.message)))
    assert sorted(results) == list(range(8))
    assert results[3][0] is None and "worker process died (killed by signal 9" in results[3][1]
    assert {i: value for i, (value, _) in results.items() if i != 3} == {i: i * 10 for i in range(8) if i != 3}


_KILLS_ITS_MAIN_PROCESS = """
import contextlib, os, signal, sys, time
from deblur_cli.batch import run_parallel

def kill_main_then_finish(main):
    with contextlib.suppress(ProcessLookupError):
        os.kill(main, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
        time.sleep(0.01)
    return main

if __name__ == "__main__":
    run_parallel(kill_main_then_finish, [os.getpid()] * 3, jobs=2, on_result=print)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_workers_end_quietly_when_the_main_process_is_killed(tmp_path):
    # Each worker kills the main process, waits until it is gone, then finds nobody to send its result to.
    script = tmp_path / "batch.py"
    script.write_text(_KILLS_ITS_MAIN_PROCESS)
    gone = tmp_path / "gone"
    process = subprocess.Popen([sys.executable, str(script), str(gone)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert process.wait(timeout=60) == -signal.SIGKILL
        gone.touch()
        out, err = process.communicate(timeout=60)  # the pipes close when the workers have ended too
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    assert (out, err) == ("", "")


def record_call(path):
    open(path, "x").close()


def test_a_task_left_by_a_main_process_that_is_gone_is_not_run(tmp_path):
    main_end, worker_end = multiprocessing.Pipe()
    main_end.send((0, str(tmp_path / "ran")))
    main_end.close()
    worker = _context().Process(target=_worker_main, args=(worker_end, record_call, 1))
    worker.start()
    worker_end.close()
    worker.join(timeout=60)
    assert worker.exitcode == 0
    assert not (tmp_path / "ran").exists()


def test_run_parallel_fail_fast_stops_the_workers():
    seen = []
    run_parallel(failing_on_odd, range(40), jobs=2, fail_fast=True,
                 on_result=lambda i, value, error, seconds: seen.append((i, error is not None)))
    first_failure = [failed for _, failed in seen].index(True)
    assert len(seen) - first_failure <= 2  # only the task the other worker was running comes after it


def thread_budget(_):
    from deblur_cli.threads import fft_workers

    return fft_workers()


@pytest.mark.parametrize("jobs, threads", [(2, None), (2, 3), (1, 1)])
def test_each_job_gets_its_share_of_threads(jobs, threads):
    from deblur_cli.threads import set_thread_budget

    budgets = []
    try:
        run_parallel(thread_budget, range(4), jobs=jobs, threads=threads,
                     on_result=lambda i, value, error, seconds: budgets.append(value))
    finally:
        set_thread_budget(os.cpu_count() or 1)
    assert budgets == [threads or max(1, (os.cpu_count() or 1) // jobs)] * 4



@pytest.mark.parametrize("specs, expected", [
    (["a.png"], False), (["missing.png"], False), (["-"], False), (["a.png", "b.jpg"], True),
    (["sub"], True), (["*.png"], True), (["@list.txt"], True),
])
def test_may_be_several_without_listing(tree, monkeypatch, specs, expected):
    monkeypatch.chdir(tree)
    assert may_be_several(specs) is expected


def module_loaded(name):
    return name in sys.modules


@pytest.mark.parametrize("prepared", [
    pytest.param(True, marks=pytest.mark.skipif(sys.platform == "win32", reason="no forkserver: nothing to prepare")),
    False,
])
def test_prepared_workers_start_with_the_modules_imported(prepared):
    # A fresh interpreter: the first call in a process decides what the workers preload.
    script = (
        "from deblur_cli.batch import prepare_workers, run_parallel\n"
        "from tests.test_batch import module_loaded\n"
        f"if {prepared}: prepare_workers(['wave'])\n"
        "seen = []\n"
        "run_parallel(module_loaded, ['wave'] * 3, jobs=2, on_result=lambda i, value, error, s: seen.append(value))\n"
        "print(seen)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str([prepared] * 3)


def test_a_worker_that_died_while_idle_hands_its_task_to_a_new_one(monkeypatch):
    import deblur_cli.batch as batch

    real_give = batch._Worker.give
    killed = []

    def give(worker, index, argument):
        if index == 2 and not killed:  # the third task goes to a worker that has finished one: kill it first
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.join()
            killed.append(worker.process.pid)
        return real_give(worker, index, argument)

    monkeypatch.setattr(batch._Worker, "give", give)
    results = {}
    run_parallel(process_id, range(5), jobs=2,
                 on_result=lambda i, value, error, seconds: results.__setitem__(i, (value, error)))
    assert killed and sorted(results) == list(range(5))
    assert all(error is None for _, error in results.values())
    assert len({pid for pid, _ in results.values()}) == 3  # the two first workers, then the new one


def process_id(_):
    return os.getpid()


def test_workers_that_cannot_start_give_one_clear_error(monkeypatch):
    import deblur_cli.batch as batch

    def refuse(*_):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(batch._Worker, "__init__", refuse)
    with pytest.raises(DeblurError, match=r"cannot start a worker process \(Connection refused\); try --jobs 1"):
        run_parallel(process_id, range(3), jobs=2, on_result=lambda *_: None)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_forkserver_ignores_ctrl_c_from_its_start():
    # A Ctrl-C to the process group while it imports would print their traceback.
    script = (
        "import multiprocessing.forkserver as f\n"
        "from deblur_cli.batch import prepare_workers, run_parallel\n"
        "prepare_workers(['numpy'])  # returns before the forkserver's own imports are done\n"
        "status = open(f'/proc/{f._forkserver._forkserver_pid}/status').read()\n"
        "print(int(status.split('SigIgn:')[1].split()[0], 16) >> 1 & 1)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"

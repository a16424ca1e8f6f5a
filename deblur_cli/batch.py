"""Many inputs: expansion, output naming, sharding, and a fault-tolerant parallel map.

Nothing here knows what a command computes: a command hands over one picklable
function per image, and this module runs it over the inputs, in worker processes when
asked, keeping the results in input order so that two runs give the same report.
"""

import os
import pathlib
import signal
import string
import time
import traceback
from dataclasses import dataclass

from .errors import DeblurError, InputError, OutputError, ParameterError

__all__ = [
    "Item",
    "IMAGE_EXTENSIONS",
    "expand_inputs",
    "parse_shard",
    "take_shard",
    "output_name",
    "check_name_template",
    "NAME_FIELDS",
    "find_collisions",
    "may_be_several",
    "job_count",
    "prepare_workers",
    "run_parallel",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
"""Files a directory or glob input takes (by extension, case-insensitive)."""

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Item:
    """One input of a batch.

    Attributes
    ----------
    path : str
        File to read (``-`` for standard input).
    relpath : str
        Its name relative to the directory or glob it came from; outputs and
        references are placed by it.
    """

    path: str
    relpath: str


def _is_image(name):
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _walk(directory, recursive, skip):
    """Image files in a directory (and its subdirectories): not hidden, not broken links,
    nothing under the directories ``skip`` (real paths)."""
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if recursive and not d.startswith(".")
                         and os.path.realpath(os.path.join(root, d)) not in skip)
        for name in sorted(files):
            full = os.path.join(root, name)
            if _is_image(name) and not name.startswith(".") and os.path.isfile(full):
                yield full


def _under(path, directories):
    """Whether ``path`` lies in one of ``directories`` (real paths)."""
    real = os.path.realpath(path)
    return any(os.path.commonpath([real, directory]) == directory for directory in directories)


def _glob_root(pattern):
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts:
        if _GLOB_CHARS & set(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or "."


def _glob(pattern, root):
    """Paths matching ``pattern`` below its fixed ``root``, ``**`` spanning any depth.

    Through :mod:`pathlib`, whose ``**`` does not descend into links to directories
    (``glob.glob`` does, and loops where a link leads back up). As with ``glob.glob``,
    a wildcard does not match hidden names unless the pattern itself names some.
    """
    rest = os.path.relpath(pattern, root)
    explicit_hidden = any(part.startswith(".") and part not in (".", "..") for part in rest.split(os.sep))
    for path in pathlib.Path(root).glob(rest):
        relative = path.relative_to(root).parts
        if explicit_hidden or not any(part.startswith(".") for part in relative):
            yield str(path)


def _through_linked_directory(path, root):
    """Whether ``path`` lies below ``root`` through a link to a directory.

    ``**`` follows such links (into loops, too); a directory input's walk does not, and
    a glob takes the same files as the walk of its root would.
    """
    current = root
    for part in os.path.relpath(os.path.dirname(path), root).split(os.sep):
        current = os.path.join(current, part)
        if part not in (".", "") and os.path.islink(current):
            return True
    return False


def _read_list(list_file):
    try:
        with open(list_file, encoding="utf-8-sig") as f:  # -sig: the byte-order mark Windows editors write
            lines = f.read().splitlines()
    except OSError as e:
        raise InputError(f"cannot read the list of inputs: {e.strerror or e}", list_file) from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def expand_inputs(specs, *, recursive=False, skip=None, output_of=None):
    """Turn command-line input arguments into a sorted list of :class:`Item`.

    Parameters
    ----------
    specs : sequence of str
        Files, directories (their images; all levels with ``recursive``), glob
        patterns (``*``, ``?``, ``[]``, ``**``), ``@list.txt`` files of paths (one a
        line, ``#`` comments), or ``-`` for standard input (alone).
    recursive : bool, optional
        Descend into subdirectories of directory inputs (not hidden ones).
    skip : str, optional
        A directory whose files directories and globs do not take when it lies
        inside them (the output directory, so that a second run does not take the
        first one's outputs as inputs).
    output_of : callable, optional
        ``output_of(item)`` gives the path an input will be written to. A file that
        directories and globs find is dropped when it is the output of another input
        of the same run (a rerun with the outputs beside the inputs).

    Returns
    -------
    list of Item
        Sorted by path, each path once however it is spelled (a link is a path of
        its own).
        Files named explicitly are kept whatever their extension (their content
        decides); directories and globs take image files only, not hidden ones.

    Raises
    ------
    ParameterError
        ``-`` mixed with other inputs, a glob or directory that matches nothing.
    """
    specs = list(specs)
    if "-" in specs:
        if len(specs) > 1:
            raise ParameterError("'-' (standard input) cannot be combined with other inputs")
        return [Item("-", "stdin")]
    items = {}

    # One path under two spellings (a.png, ./a.png, /abs/a.png) is taken once; a link is a name of its
    # own, with an output of its own (a directory of links to one file gives one output per link).
    def add(path, relpath):
        items.setdefault(os.path.abspath(path), Item(os.path.normpath(path), os.path.normpath(relpath)))

    pending = []
    for spec in specs:
        pending.extend(_read_list(spec[1:]) if spec.startswith("@") else [spec])
    if not pending:
        raise ParameterError("the input lists name no file; give one path a line", specs[0][1:])

    def skipped(base):  # the directory to skip counts only inside the input directory, not as it
        return {os.path.realpath(skip)} - {os.path.realpath(base)} if skip else set()

    named = set()  # keys of the files named one by one; the others were found in directories and globs
    for spec in pending:
        if os.path.isdir(spec):
            found = list(_walk(spec, recursive, skipped(spec)))
            if not found:
                raise ParameterError("directory holds no image files" + ("" if recursive else " (try --recursive)"), spec)
            for path in found:
                add(path, os.path.relpath(path, spec))
        elif _GLOB_CHARS & set(spec) and not os.path.exists(spec):
            root = _glob_root(spec)
            found = sorted(p for p in _glob(spec, root)
                           if os.path.isfile(p) and _is_image(p) and not _under(p, skipped(root))
                           and not _through_linked_directory(p, root))
            if not found:
                raise ParameterError("pattern matches no image file", spec)
            for path in found:
                add(path, os.path.relpath(path, root))
        else:
            add(spec, os.path.basename(spec))
            named.add(os.path.abspath(spec))
    if output_of is not None:
        for key in _outputs_of_others(items, output_of) - named:
            del items[key]
    return sorted(items.values(), key=lambda item: item.path)


def _entry(path):
    """A path as its directory's real path and its own name: the directory entry, a link not followed."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(os.path.realpath(directory), name)


def _outputs_of_others(items, output_of):
    """Keys of ``items`` (``{absolute path: Item}``) whose file is the output of another of them."""
    entries = {_entry(key): key for key in items}
    taken = set()
    for key, item in items.items():
        written = entries.get(_entry(output_of(item)))
        if written is not None and written != key:
            taken.add(written)
    return taken


def may_be_several(specs):
    """Whether input arguments may name more than one file, decided without listing any.

    Parameters
    ----------
    specs : sequence of str
        As for :func:`expand_inputs`.

    Returns
    -------
    bool
        False only for one argument that is ``-`` or a plain path (existing or not).
    """
    if len(specs) != 1:
        return len(specs) > 1
    spec = specs[0]
    return spec.startswith("@") or os.path.isdir(spec) or (bool(_GLOB_CHARS & set(spec)) and not os.path.exists(spec))


def parse_shard(text):
    """Parse ``K/N`` (1 <= K <= N) into ``(K, N)``.

    Parameters
    ----------
    text : str
        The value of ``--shard``.

    Returns
    -------
    tuple of int
        ``(K, N)``.

    Raises
    ------
    ParameterError
        Not of that form.
    """
    try:
        k, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ParameterError(f"--shard takes K/N such as 2/8, got {text!r}") from None
    if not 1 <= k <= n:
        raise ParameterError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def take_shard(items, k, n):
    """The K-th of N disjoint shares of the inputs (every N-th, starting at K-1).

    The inputs are sorted first by their relative paths (the ones ``--out-dir`` keeps),
    so every machine of an array job that is given the same tree takes a different
    share and together they take each input once, however each spells the paths or
    wherever it mounts the tree. The full path only breaks ties.

    Parameters
    ----------
    items : sequence of Item
        All inputs.
    k, n : int
        Which share (1-based) of how many.

    Returns
    -------
    list of Item
    """
    ordered = sorted(items, key=lambda item: (item.relpath, item.path))
    return ordered[k - 1 :: n]


def output_name(item, *, template, suffix, extension):
    """The output file name of an input, relative to the output directory.

    Parameters
    ----------
    item : Item
        The input.
    template : str or None
        With the fields ``{stem}`` (the input's name without its extension),
        ``{ext}`` (the output's extension), ``{name}`` (the input's name) and
        ``{suffix}``; by default ``{stem}{suffix}.{ext}``.
    suffix : str
        Added to the stem by the default template; no path separator.
    extension : str or None
        Output extension without the dot; by default the input's.

    Returns
    -------
    str
        The relative path: the input's relative directory, then the name.

    Raises
    ------
    ParameterError
        A template that :func:`check_name_template` refuses or that names a file
        outside the directory, a suffix with a path separator.
    """
    if "/" in suffix or os.sep in suffix:
        raise ParameterError(f"--suffix is added to a file name and cannot hold a path separator, got {suffix!r}")
    if template is not None:
        check_name_template(template)
    directory, name = os.path.split(item.relpath)
    stem, input_ext = os.path.splitext(name)
    ext = extension or input_ext.lstrip(".") or "png"
    new_name = (template or "{stem}{suffix}.{ext}").format(stem=stem, ext=ext, name=name, suffix=suffix)
    if not new_name or os.path.isabs(new_name) or ".." in new_name.split(os.sep):
        raise ParameterError(f"--name {template!r} must give a relative file name")
    return os.path.join(directory, new_name)


NAME_FIELDS = ("stem", "ext", "name", "suffix")
"""The fields of a ``--name`` template."""


def check_name_template(template):
    """Refuse a ``--name`` template with fields other than :data:`NAME_FIELDS`, plain.

    Python's format syntax reaches further (``{stem.upper}``, ``{stem!r}``,
    ``{stem:>20}``); a name must not depend on it.

    Parameters
    ----------
    template : str

    Raises
    ------
    ParameterError
        An unknown field, an attribute or index, a conversion or a format spec, or
        unbalanced braces.
    """
    fields = ", ".join(f"{{{field}}}" for field in NAME_FIELDS)
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ParameterError(f"--name {template!r} is not a valid template ({e}); use {fields}") from None
    for _, field, spec, conversion in parts:
        if field is not None and (field not in NAME_FIELDS or spec or conversion):
            whole = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise ParameterError(f"--name {template!r} is not a valid template: {whole} is not a field; "
                                 f"use {fields} (and {{{{ }}}} for a brace)")


def find_collisions(pairs):
    """Refuse a plan where two inputs share an output, or an output is an input.

    Parameters
    ----------
    pairs : sequence of (Item, str)
        Each input with its output path.

    Raises
    ------
    OutputError
        Naming the first clash found.
    """
    seen = {}
    inputs = {os.path.realpath(item.path): item.path for item, _ in pairs}
    for item, output in pairs:
        key = os.path.realpath(output)
        if key in inputs:
            raise OutputError(
                f"the output of {item.path} would overwrite the input {inputs[key]}; "
                "choose another --out-dir, --suffix or --name",
                output,
            )
        if key in seen:
            first = seen[key]
            stems = {os.path.splitext(os.path.basename(path))[0] for path in (first, item.path)}
            if len(stems) == 1 and os.path.basename(first) != os.path.basename(item.path):  # a.png and a.jpg
                advice = "keep the input's extension in the name with --name '{name}{suffix}.{ext}'"
            elif len(stems) > 1:  # a name that holds none of the input's
                advice = "name each output after its input with --name's {stem} or {name}"
            else:
                advice = "give their common directory with --recursive, so that each keeps its subdirectory"
            raise OutputError(f"both {first} and {item.path} would be written here; {advice}, "
                              "or process them separately", output)
        seen[key] = item.path


def _context():
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def job_count(jobs=None):
    """Jobs to run at once: ``jobs`` when given (``--jobs``), else the number of cores.

    Parameters
    ----------
    jobs : int, optional

    Returns
    -------
    int
        At least 1.
    """
    return jobs or os.cpu_count() or 1


def prepare_workers(modules):
    """Start the process that :func:`run_parallel` forks its workers from, and import ``modules`` there.

    Returns at once. The imports then run alongside this process's own work (checking
    options, planning outputs), once rather than in every worker, and each worker starts
    with them loaded. The first call in a process decides the modules. Without the
    ``forkserver`` start method (Windows), does nothing: each worker imports what it needs.

    Parameters
    ----------
    modules : sequence of str
        Names of modules; one that cannot be imported is skipped.
    """
    context = _context()
    if context.get_start_method() == "forkserver":
        context.set_forkserver_preload(list(modules))
        try:
            _start_forkserver()
        except OSError:
            pass  # run_parallel tries again, and says what is wrong if workers cannot start


def _start_forkserver():
    """Start the forkserver (if it is not running) with SIGINT ignored from its first instruction.

    The main process decides what Ctrl-C stops. The forkserver ignores SIGINT only once
    its imports are done, so a Ctrl-C to the process group during them would print their
    traceback; a disposition of SIG_IGN is inherited through exec, and Python keeps it.
    """
    import multiprocessing.forkserver
    import threading

    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if in_main_thread else None
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if in_main_thread:
            signal.signal(signal.SIGINT, previous)



def _worker_main(connection, function, threads):
    """A worker process: run the tasks that arrive on ``connection``, send back each outcome.

    It ends quietly when the main process is gone: nobody is left to take its results.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides what Ctrl-C stops
    from .threads import set_thread_budget

    set_thread_budget(threads)
    try:
        while True:
            index, argument = connection.recv()
            # The main process sends one task at a time and waits for its outcome, so the pipe
            # reads as ready now only at its end: a task sent just before the main process died.
            # (The parent process id tells nothing here: the parent is the forkserver, which
            # lives as long as its workers do.)
            if connection.poll():
                return
            connection.send((index, _call(function, argument)))
    except (EOFError, OSError):  # the main process is gone
        return


class _Worker:
    """One worker process, its end of the pipe, and the task it is running."""

    def __init__(self, context, function, threads):
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child_end, function, threads), daemon=True)
        self.process.start()
        child_end.close()  # so that the worker's death reads as the end of the pipe here
        self.task = None  # (index, start time) while busy

    def give(self, index, argument):
        """Hand over a task; False if the worker has died meanwhile."""
        try:
            self.connection.send((index, argument))
        except OSError:
            return False
        self.task = (index, time.perf_counter())
        return True

    def outcome(self):
        """The finished task's ``(index, (value, error, seconds))``, or the worker's death as an error."""
        index, started = self.task
        self.task = None
        try:
            return self.connection.recv()
        except (EOFError, OSError):
            self.process.join()
            code = self.process.exitcode
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
            error = DeblurError(f"the worker process died ({how}; out of memory?); try fewer --jobs")
            return index, (None, error, time.perf_counter() - started)

    def stop(self):
        """End the worker (at once if it is busy) and wait for it."""
        self.connection.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()


def _call(function, argument):
    start = time.perf_counter()
    try:
        return function(argument), None, time.perf_counter() - start
    except DeblurError as e:
        return None, e, time.perf_counter() - start
    except MemoryError:
        return None, DeblurError("not enough memory for this image"), time.perf_counter() - start
    except Exception as e:  # a bug on one file must not stop the batch
        error = DeblurError(f"internal error: {type(e).__name__}: {e}")
        error.details = traceback.format_exc()  # shown with --debug
        return None, error, time.perf_counter() - start


def run_parallel(function, arguments, *, jobs=1, threads=None, on_result, fail_fast=False):
    """Call ``function`` on every argument, in worker processes when ``jobs > 1``.

    Parameters
    ----------
    function : callable
        Module-level (picklable) function of one argument.
    arguments : sequence
        One argument per task.
    jobs : int, optional
        Worker processes.
    threads : int, optional
        Threads each job may use for its numeric work; by default ``cores // jobs``
        (at least 1; jobs counted up to the number of arguments), so the jobs
        together use every core once.
    on_result : callable
        Called in this process as ``on_result(index, value, error, seconds)`` as
        each task ends (in completion order); ``error`` is a DeblurError or None.
    fail_fast : bool, optional
        Stop at the first error: no task starts after it, and those already running
        finish and are reported.

    Notes
    -----
    Each worker takes one task at a time, so a worker that dies (killed, out of
    memory) costs only its own task, which is reported as failed, and a new worker
    takes over. Workers ignore SIGINT; on Ctrl-C (or an early stop) this process
    terminates them, and a KeyboardInterrupt goes on up to the caller. A worker that
    finds the main process gone (killed outright) ends quietly. A worker may be
    killed in the middle of a write: the caller removes what its unfinished tasks left
    (see :func:`.images.remove_partial_writes`).
    """
    arguments = list(arguments)
    jobs = max(1, min(jobs, len(arguments)))
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    if jobs == 1:
        from .threads import set_thread_budget

        set_thread_budget(threads)
        for index, argument in enumerate(arguments):
            value, error, seconds = _call(function, argument)
            on_result(index, value, error, seconds)
            if fail_fast and error:
                return
        return
    from multiprocessing.connection import wait

    context = _context()
    pending = list(enumerate(arguments))[::-1]  # popped from the end, in input order
    workers = []
    try:
        while pending or any(worker.task for worker in workers):
            for worker in [worker for worker in workers if worker.task is None]:
                if not pending:
                    break
                if worker.give(*pending[-1]):
                    pending.pop()
                else:  # died while idle; a new worker takes the task
                    worker.stop()
                    workers.remove(worker)
            while len(workers) < jobs and pending:
                try:
                    if context.get_start_method() == "forkserver":
                        _start_forkserver()  # ignoring Ctrl-C from its start; restarted if it has died
                    workers.append(_Worker(context, function, threads))
                except OSError as e:
                    raise DeblurError(f"cannot start a worker process ({e.strerror or e}); try --jobs 1") from None
                if not workers[-1].give(*pending.pop()):
                    raise DeblurError("cannot start a worker process; try --jobs 1")
            busy = [worker for worker in workers if worker.task]
            ready = wait([worker.connection for worker in busy] + [worker.process.sentinel for worker in busy])
            for worker in busy:
                if worker.connection in ready or worker.process.sentinel in ready:
                    index, (value, error, seconds) = worker.outcome()
                    if not worker.process.is_alive():
                        worker.stop()
                        workers.remove(worker)  # replaced by a new one if tasks remain
                    on_result(index, value, error, seconds)
                    if fail_fast and error:
                        pending.clear()  # the tasks under way finish: their outputs may be written already
    finally:
        for worker in workers:
            worker.stop()

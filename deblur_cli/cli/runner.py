"""The shared frame of every command that processes images one by one.

A processing command module defines ``process(image, **params)``, a module-level
function returning ``(Image or None, info dict)``, and a Click command decorated with
:func:`image_command` that validates its own options once and returns a
:class:`Task`. This module adds the options every such command shares (inputs,
outputs, batch, report, reference) and does the rest: it expands the inputs, plans and
checks the outputs before any work, reads each image, calls ``process`` (in worker
processes with ``--jobs``), writes each output atomically, prints ``info`` with
``-v`` and records it in the report.

Example
-------
::

    @image_command(writes_images=True, default_suffix="_sharp")
    @click.option("--nsr", type=float)
    def command(nsr, **_):
        '''Deblur images.'''
        return Task(process, {"nsr": nsr})
"""

import functools
import os
import sys
import time
from dataclasses import dataclass, field

import click

from .options import max_pixels_option, output_options, verbose_option

__all__ = ["Task", "image_command"]

_WORKER_MODULES = (__name__, "deblur_cli.images", "numpy", "cv2", "imageio.v3")
"""What every batch worker imports to read and write images."""


@dataclass
class Task:
    """What a command asks the runner to do for every image.

    Attributes
    ----------
    process : callable
        Module-level ``process(image, **params) -> (Image or None, dict)``.
    params : dict
        Keyword arguments for ``process``; picklable.
    announce : bool
        Print each image's ``info`` on stderr even without ``-v`` (not with
        ``--quiet``): for parameters the tool chose itself, such as an estimated PSF.
    pass_relpath : bool
        Also call ``process`` with ``relpath=``: the input's name relative to the
        directory or glob it came from (a file given by name: its base name), the
        same whatever ``--jobs``, ``--shard`` or where the tree is mounted.
    shown : tuple of str or None
        Keys of ``info`` that the one line printed per image shows (all when None);
        reports record every key.
    warning : str or None
        Said on stderr (``deblur: warning: ...``, not with ``--quiet``) once the
        inputs and outputs have been checked, before the work starts.
    """

    process: object
    params: dict = field(default_factory=dict)
    announce: bool = False
    pass_relpath: bool = False
    shown: tuple = None
    warning: str = None


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs for one image."""

    input: str
    relpath: str
    output: str | None
    reference: str | None
    task: Task
    extension: str | None
    bit_depth: object
    max_pixels: int
    overwrite: bool


def _run_job(job):
    """Read, process, encode, measure, write; in a worker process. Returns the record's fields.

    The worker writes its own output (atomically), so that only the small record
    travels back to the main process and the writes of several jobs overlap.
    """
    from ..images import decode_image, encode_image, read_image

    image = read_image(job.input, max_pixels=job.max_pixels)
    extra = {"relpath": job.relpath} if job.task.pass_relpath else {}
    result, info = job.task.process(image, **job.task.params, **extra)
    data = None
    quality = input_quality = None
    if result is not None:
        data = encode_image(result, job.extension, bit_depth=job.bit_depth)
        if job.reference is not None:
            from ..metrics import quality as measure

            reference = read_image(job.reference, max_pixels=job.max_pixels)
            written = decode_image(data, job.output, max_pixels=None)
            quality = measure(reference, written)
            same_layout = image.pixels.shape == reference.pixels.shape
            input_quality = measure(reference, image) if same_layout else None
        _write_output(job.output, data, job.overwrite)
    return {"parameters": info, "quality": quality, "input_quality": input_quality}


def _write_output(path, data, overwrite):
    from ..errors import OutputError
    from ..images import atomic_write_bytes

    if path != "-":
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create the output directory: {e.strerror or e}", path) from None
    atomic_write_bytes(path, data, overwrite=overwrite)


def _runner_options(writes_images, default_suffix):
    options = [
        click.argument("inputs", nargs=-1, required=True, metavar="INPUTS..."),
        click.option("-r", "--recursive", is_flag=True, help="Take images in subdirectories of directory inputs."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Worker processes for many inputs [default: number of cores]."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Threads per job for FFTs and OpenCV [default: cores / jobs]."),
        click.option("--shard", default=None, metavar="K/N",
                     help="Process only the K-th of N shares of the inputs, sorted by relative path (array jobs)."),
        click.option("--fail-fast", is_flag=True, help="Stop at the first file that fails."),
        click.option("--progress/--no-progress", default=None,
                     help="Progress bar on stderr [default: when stderr is a terminal]."),
        click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors."),
        click.option("--report", "report_path", default=None, metavar="FILE",
                     help="Write one record per image (.json or .csv; '-' for JSON on stdout)."),
        verbose_option,
    ]
    if writes_images:
        options += [
            click.option("-o", "--output", default=None, help="Output file for one input ('-' for stdout)."),
            click.option("--out-dir", default=None, help="Output directory for many inputs (relative paths kept)."),
            click.option("--suffix", default=None,
                         help="Added to each output's stem in --out-dir "
                              f"[default: {repr(default_suffix) if default_suffix else 'none'}]."),
            click.option("--name", "name_template", default=None, metavar="TEMPLATE",
                         help="Output name in --out-dir from the fields {stem}, {ext}, {name}, {suffix}, "
                              "e.g. '{stem}_sharp.{ext}'."),
            output_options,
            click.option("--skip-existing", is_flag=True, help="Skip inputs whose output exists (resume a batch)."),
            click.option("--reference", default=None, metavar="FILE",
                         help="Reference image: record PSNR/SSIM of output and input against it."),
            click.option("--reference-dir", default=None, metavar="DIR",
                         help="References paired with the inputs by relative path."),
        ]
    else:
        options.append(click.option("--json", "as_json", is_flag=True, help="Print the results as JSON."))
    return options


def image_command(*, writes_images=True, default_suffix="_out", preload=()):
    """Make a Click command of a function that returns a :class:`Task`.

    Parameters
    ----------
    writes_images : bool, optional
        The command writes one image per input (``-o``/``--out-dir``); otherwise it
        prints its results (text, or JSON with ``--json``).
    default_suffix : str, optional
        Added to output stems in ``--out-dir`` unless ``--suffix``/``--name`` say otherwise.
    preload : sequence of str, optional
        Modules the command's ``process`` imports (its library modules, and the heavy
        ones they import inside functions). A batch imports them once, before its
        workers start, while the command still checks its options.
    """

    def decorate(function):
        name = function.__module__.rsplit(".", 1)[-1]
        worker_modules = (*_WORKER_MODULES, function.__module__, *preload)

        @functools.wraps(function)
        def run(**options):
            from ..batch import job_count, may_be_several, prepare_workers

            _refuse_two_readers_of_stdin(options)
            if job_count(options["jobs"]) > 1 and may_be_several(options["inputs"]):
                prepare_workers(worker_modules)
            task = function(**options)
            _execute(name, task, options, writes_images=writes_images, default_suffix=default_suffix)

        run.__click_params__ = []
        for option in reversed([*_runner_options(writes_images, default_suffix), max_pixels_option]):
            run = option(run)
        # Click lists parameters in the reverse order of this list: the command's own first.
        run.__click_params__.extend(getattr(function, "__click_params__", []))
        return click.command(name=name)(run)

    return decorate


def _plan(items, options, writes_images, default_suffix, reads):
    """Each input with its output path (None for commands that write nothing).

    No output may be an input or one of ``reads`` (see :func:`_files_read`).
    """
    from ..batch import find_collisions
    from ..errors import OutputError, ParameterError
    from ..images import check_bit_depth, check_output_path, format_extension

    if not writes_images:
        return [(item, None) for item in items]
    output, out_dir = options["output"], options["out_dir"]
    if output is not None and out_dir is not None:
        raise ParameterError("give -o/--output or --out-dir, not both")
    if output is not None:
        if len(items) > 1:
            raise ParameterError(f"-o takes one input, got {len(items)}; use --out-dir DIR for many")
        if output != "-" and os.path.isdir(output):
            raise OutputError("-o names a directory; give a file name, or --out-dir DIR for many outputs", output)
        if output != "-" and options["fmt"] is None and format_extension(output) is None:
            raise ParameterError(f"cannot tell the format of {output} from its extension; add --format")
        named = format_extension(output) if output != "-" else None
        if options["fmt"] is not None and named is not None and named != format_extension(output, options["fmt"]):
            raise ParameterError(f"--format {options['fmt']} contradicts the extension of {output}; change one")
        _refuse_replacing_reads([output], reads)
        if not options["skip_existing"] or not os.path.exists(output):
            check_output_path(output, [items[0].path], overwrite=options["overwrite"])
        check_bit_depth(format_extension(output, options["fmt"]) or format_extension(items[0].path) or ".png",
                        options["bit_depth"])
        return [(items[0], output)]
    if out_dir is None:
        raise ParameterError("say where to write: -o FILE for one input, or --out-dir DIR")
    if items[0].path == "-":
        raise ParameterError("standard input needs -o FILE (or '-' for stdout)")
    output_of = _out_dir_naming(options, default_suffix)
    pairs = [(item, output_of(item)) for item in items]
    find_collisions(pairs)
    _refuse_replacing_reads([output for _, output in pairs], reads)
    if options["fmt"] is not None:
        for _, output in pairs:  # an extension that --name writes
            named = format_extension(output)
            if named is not None and named != format_extension(output, options["fmt"]):
                raise ParameterError(f"--format {options['fmt']} contradicts the extension of {output}, "
                                     "which --name gives; change one")
    for extension in {format_extension(output) for _, output in pairs}:
        check_bit_depth(extension, options["bit_depth"])
    return pairs


def _out_dir_naming(options, default_suffix):
    """The function giving each input's output path in ``--out-dir`` (``--suffix``, ``--name``, ``--format``)."""
    from ..batch import output_name
    from ..images import FORMATS

    extension = FORMATS[options["fmt"].lower()].lstrip(".") if options["fmt"] else None
    suffix = default_suffix if options["suffix"] is None else options["suffix"]
    return lambda item: os.path.join(options["out_dir"], output_name(item, template=options["name_template"],
                                                                     suffix=suffix, extension=extension))


_CONFLICTS = (
    ("overwrite", "skip_existing", "--overwrite replaces existing outputs, --skip-existing keeps them"),
    ("quiet", "verbose", "--quiet prints nothing but errors, -v prints more"),
    ("reference", "reference_dir", "--reference is one file for one input, --reference-dir pairs many"),
    ("output", "suffix", "--suffix names outputs in --out-dir; -o names the file itself"),
    ("output", "name_template", "--name names outputs in --out-dir; -o names the file itself"),
)


def _refuse_conflicts(options):
    """Refuse two options that cannot both be meant."""
    from ..errors import ParameterError

    for first, second, why in _CONFLICTS:
        if options.get(first) and options.get(second) is not None and options.get(second) is not False:
            raise ParameterError(f"{why}: give one of them")


def _read_file_options(options):
    """``[(value, option name)]`` of the options of type :class:`~.options.ReadFile` given."""
    from .options import ReadFile

    return [(options[param.name], param.opts[-1]) for param in click.get_current_context().command.params
            if isinstance(param.type, ReadFile) and options.get(param.name)]


def _refuse_two_readers_of_stdin(options):
    """Standard input cannot be both the image and a file an option names ('-'): one would read it all."""
    from ..errors import ParameterError

    on_stdin = [option for value, option in _read_file_options(options) if value == "-"]
    if on_stdin and "-" in options["inputs"]:
        raise ParameterError(f"standard input can hold the image or the {on_stdin[0]} file, not both")


def _files_read(items, options):
    """Files the command reads besides its inputs: no output may replace one, even with ``--overwrite``.

    They are the values of options of type :class:`~.options.ReadFile` (``--psf``,
    ``--kernel``), ``--reference``, and the references ``--reference-dir`` pairs with
    every input (of all shards). Returns ``{real path: option}`` of those that exist.
    """
    named = _read_file_options(options)
    if options.get("reference"):
        named.append((options["reference"], "--reference"))
    if options.get("reference_dir"):
        named += [(_reference_for(item, options), "--reference-dir") for item in items]
    return {os.path.realpath(path): option for path, option in named if os.path.isfile(path)}


def _refuse_replacing_reads(outputs, reads):
    from ..errors import OutputError

    for output in outputs:
        option = reads.get(os.path.realpath(output)) if output not in (None, "-") else None
        if option:
            raise OutputError(f"output is the {option} file; choose another output path", output)


def _refuse_existing(pairs, options):
    from ..errors import OutputError

    if options["overwrite"] or options["skip_existing"]:
        return
    existing = [output for _, output in pairs if output not in (None, "-") and os.path.lexists(output)]
    if existing:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(f"output exists{more}; pass --overwrite to replace or --skip-existing to resume", existing[0])


def _check_report_path(options, pairs, reads):
    """Refuse a report that cannot be written, that would replace a file read or an output,
    or share stdout with an image."""
    from ..errors import OutputError, ParameterError
    from ..images import check_output_path
    from ..report import report_format

    path = options.get("report_path")
    if path == "-" and any(output == "-" for _, output in pairs):
        raise ParameterError("the image goes to stdout; write the report to a file, not '-'")
    if path and path != "-":
        report_format(path)
        if not (_inside_out_dir(path, options) and not os.path.isdir(os.path.dirname(os.path.abspath(path)))):
            check_output_path(path, [item.path for item, _ in pairs], overwrite=True)  # else made with --out-dir
        _refuse_replacing_reads([path], reads)
        if any(output not in (None, "-") and os.path.realpath(output) == os.path.realpath(path) for _, output in pairs):
            raise OutputError("the report would replace an output image; name another report file", path)


def _inside_out_dir(path, options):
    out_dir = options.get("out_dir")
    if not out_dir:
        return False
    out_dir = os.path.abspath(out_dir)
    return os.path.commonpath([out_dir, os.path.abspath(path)]) == out_dir


def _reference_for(item, options):
    if options.get("reference") is not None:
        return options["reference"]
    if options.get("reference_dir") is not None:
        return os.path.join(options["reference_dir"], item.relpath)
    return None


def _format_info(info, prefix=""):
    parts = []
    for key, value in info.items():
        if isinstance(value, dict):
            parts.append(_format_info(value, f"{prefix}{key}."))
        elif isinstance(value, float):
            parts.append(f"{prefix}{key}={value:.6g}")
        elif value is None:  # JSON's null, in the words the line uses elsewhere
            parts.append(f"{prefix}{key}=none")
        else:
            parts.append(f"{prefix}{key}={value}")
    return " ".join(part for part in parts if part)


class _ProgressLines:
    """``--progress`` where stderr is not a terminal (a log file, CI): Click draws no bar
    there, so a line ``LABEL: done/total`` at most once a second, and at the end."""

    def __init__(self, label, total):
        self.label, self.total, self.done, self.said = label, total, 0, time.monotonic()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        return False

    def update(self, count):
        self.done += count
        now = time.monotonic()
        if self.done == self.total or now - self.said >= 1:
            click.echo(f"{self.label}: {self.done}/{self.total}", err=True)
            self.said = now


def _execute(name, task, options, *, writes_images, default_suffix):
    from ..batch import expand_inputs, job_count, may_be_several, parse_shard, run_parallel, take_shard
    from ..errors import CheckFailed, InputError, ParameterError, printable
    from ..images import format_extension, remove_partial_writes

    started = time.perf_counter()
    _refuse_conflicts(options)
    in_out_dir = writes_images and options["out_dir"] is not None and options["output"] is None
    items = expand_inputs(options["inputs"], recursive=options["recursive"],
                          skip=options["out_dir"] if in_out_dir else None,
                          output_of=_out_dir_naming(options, default_suffix) if in_out_dir else None)
    if options.get("reference_dir") is not None:
        if items[0].path == "-":
            raise ParameterError("standard input has no relative path to pair in --reference-dir; use --reference FILE")
        if not os.path.isdir(options["reference_dir"]):
            raise InputError("no such --reference-dir directory; check the path", options["reference_dir"])
    shard = parse_shard(options["shard"]) if options["shard"] else None
    if writes_images and options.get("reference") is not None and len(items) > 1:
        raise ParameterError("--reference pairs with one input; use --reference-dir for many")
    reads = _files_read(items, options)
    pairs = _plan(items, options, writes_images, default_suffix, reads)  # all shards: no output may be an input
    if shard:
        mine = set(take_shard(items, *shard))
        pairs = [(item, output) for item, output in pairs if item in mine]
    if writes_images:
        _refuse_existing(pairs, options)
    _check_report_path(options, pairs, reads)
    if not writes_images or options.get("report_path") == "-":  # results are printed
        from ..images import check_stdout_open

        check_stdout_open("the results are printed there: redirect it, or write them with --report FILE")
    if writes_images and options["out_dir"] is not None:
        from ..images import make_output_directory

        make_output_directory(options["out_dir"], "--out-dir")
        report_path = options.get("report_path")
        if report_path not in (None, "-") and _inside_out_dir(report_path, options):
            make_output_directory(os.path.dirname(os.path.abspath(report_path)), "--report's directory")
    quiet, verbose = options["quiet"], options["verbose"]
    if task.warning and not quiet:
        click.echo(f"deblur: warning: {task.warning}", err=True)
    debug = click.get_current_context().find_root().params.get("debug", False)
    # A batch (a summary, exit 1 for failed files) is whatever may name several files, however
    # many it holds: a shard or a directory of one file exits as a larger one would.
    batch = len(pairs) > 1 or shard is not None or may_be_several(options["inputs"])
    records = [None] * len(pairs)
    jobs = []
    for index, (item, output) in enumerate(pairs):
        record = {"input": item.path, "output": output, "status": "pending", "error": None,
                  "parameters": None, "reference": _reference_for(item, options) if writes_images else None,
                  "quality": None, "input_quality": None, "seconds": 0.0}
        records[index] = record
        if writes_images and options["skip_existing"] and output != "-" and os.path.exists(output):
            record["status"] = "skipped"
            continue
        extension = None
        if writes_images:
            extension = format_extension(output, options["fmt"]) or format_extension(item.path) or ".png"
        jobs.append((index, _Job(item.path, item.relpath, output, record["reference"], task, extension,
                                 options.get("bit_depth"), options["max_pixels"],
                                 bool(options.get("overwrite") or options.get("skip_existing")))))

    if writes_images:  # what a run killed outright (SIGKILL, power loss) left
        remove_partial_writes(*(output for _, output in pairs))

    show_progress = options["progress"] if options["progress"] is not None else sys.stderr.isatty()
    bar = None
    if batch and show_progress and not quiet and jobs:
        label = f"deblur {name}"
        bar = (click.progressbar(length=len(jobs), file=sys.stderr, label=label) if sys.stderr.isatty()
               else _ProgressLines(label, len(jobs)))
        bar.__enter__()
    failures = []

    def say(line):
        """A line on stderr; below a terminal's progress bar, which then redraws under it."""
        if bar is not None and sys.stderr.isatty():
            click.echo("", err=True)  # leave the bar's line as it is drawn
        click.echo(line, err=True)

    finished = {index for index, record in enumerate(records) if record["status"] == "skipped"}
    printed = [0]  # commands that write no image print their results in input order

    def flush_results():
        while printed[0] in finished:
            record = records[printed[0]]
            if record["status"] == "done" and not (options.get("as_json") or options.get("report_path") == "-"):
                shown = {key: value for key, value in record["parameters"].items()
                         if task.shown is None or key in task.shown}
                click.echo(f"{printable(record['input'])}: {_format_info(shown)}")
            printed[0] += 1

    def on_result(position, value, error, seconds):
        index, job = jobs[position]
        record = records[index]
        record["seconds"] = round(seconds, 3)
        if error is None:
            record.update(value, status="done")
            if verbose or (task.announce and not quiet):
                target = f" -> {printable(job.output)}" if job.output else ""
                say(f"deblur: {printable(job.input)}{target}: {_format_info(record['parameters'])}")
        else:
            if error.path is None:
                error.path = job.input
            # The message names the file when it is not the input (a missing reference).
            message = error.message if error.path == job.input else str(error)
            record.update(status="failed", error=message, output=None)  # nothing was written
            failures.append(error)
            if debug and getattr(error, "details", None):
                click.echo(error.details, err=True, nl=False)
            if batch:
                say(f"deblur: error: {error}")
        finished.add(index)
        if not writes_images:
            flush_results()
        if bar is not None:
            bar.update(1)

    try:
        run_parallel(_run_job, [job for _, job in jobs], jobs=job_count(options["jobs"]), threads=options["threads"],
                     on_result=on_result, fail_fast=options["fail_fast"])
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if writes_images:
            # A worker stopped or killed in mid-write leaves its temporary file.
            remove_partial_writes(*(job.output for index, job in jobs if records[index]["status"] != "done"))
    for record in records:  # left when --fail-fast stopped the run
        if record["status"] == "pending":
            record.update(status="not run", output=None)
    statuses = [record["status"] for record in records]
    summary = {
        "total": len(records),
        "done": statuses.count("done"),
        "skipped": statuses.count("skipped"),
        "failed": statuses.count("failed"),
        "not_run": statuses.count("not run"),
        "seconds": round(time.perf_counter() - started, 3),
    }
    _write_reports(name, records, summary, options)
    if not batch and failures:
        raise failures[0]
    if batch and not quiet:
        click.echo(
            f"deblur {name}: {summary['done']} done, {summary['skipped']} skipped, {summary['failed']} failed"
            + (f", {summary['not_run']} not run" if summary["not_run"] else "")
            + f" in {summary['seconds']:.1f} s",
            err=True,
        )
    if failures:
        raise CheckFailed(f"{len(failures)} of {len(records)} files failed")


def _write_reports(name, records, summary, options):
    path = options.get("report_path")
    if not (options.get("as_json") or path):
        return
    from .. import report

    if options.get("as_json") or path == "-":
        click.echo(report.to_json(name, records, summary))
    if path and path != "-":
        report.write_report(path, name, records, summary)

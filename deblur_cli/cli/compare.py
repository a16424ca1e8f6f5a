"""``deblur compare``: PSNR/SSIM of images against references, with exit codes for CI."""

import math
import os
import time
from dataclasses import dataclass

import click

from ..choices import QUALITY_CHANNELS
from .options import Number, max_pixels_option, overwrite_option

_OK, _FAILED, _ERROR = "ok", "failed", "error"

_FINITE = Number("a finite number", math.isfinite)
_SSIM = Number("a number from -1 to 1", lambda x: -1 <= x <= 1)
_NOT_NEGATIVE = Number("a finite number >= 0", lambda x: 0 <= x < math.inf)
_POSITIVE = Number("a finite number > 0", lambda x: 0 < x < math.inf)
_COUNT = Number("an integer >= 0", lambda n: n >= 0, int)
_JOBS = Number("an integer >= 1", lambda n: n >= 1, int)


@dataclass(frozen=True)
class _Pair:
    """One comparison: reference A, image B, where its diff goes, or why it cannot run."""

    reference: str
    image: str
    diff: str | None = None
    unpaired: str | None = None


@dataclass(frozen=True)
class _Settings:
    """The options every pair is measured and judged with."""

    channel: str
    crop_border: int
    data_range: float | None
    tolerance: float
    min_psnr: float | None
    min_ssim: float | None
    max_diff: float | None
    diff_gain: float
    overwrite: bool
    max_pixels: int

    def parameters(self):
        return {
            "channel": self.channel,
            "crop_border": self.crop_border,
            "data_range": self.data_range,
            "tolerance": self.tolerance,
        }

    def thresholds(self):
        return {"min_psnr": self.min_psnr, "min_ssim": self.min_ssim, "max_diff": self.max_diff}


def _images_under(directory, *, allow_empty=False):
    from ..batch import expand_inputs
    from ..errors import ParameterError

    try:
        items = expand_inputs([directory], recursive=True)
    except ParameterError:
        if allow_empty and os.path.isdir(directory):
            return {}  # an empty output tree: every reference is then reported missing
        raise
    return {item.relpath.replace(os.sep, "/"): item.path for item in items}


def _inside(path, directory):
    path, directory = os.path.realpath(path), os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory


def _directory_pairs(a, b, diff_dir):
    """Pairs by relative path; a file on one side only is an unpaired (failing) pair."""
    from ..errors import ParameterError

    if diff_dir is not None and (_inside(diff_dir, a) or _inside(diff_dir, b)):
        raise ParameterError(f"--diff directory {diff_dir} is inside {a} or {b}; put it outside both")
    references, images = _images_under(a), _images_under(b, allow_empty=True)
    pairs, diffs = [], {}
    for relpath in sorted(set(references) | set(images)):
        reference = references.get(relpath, os.path.join(a, relpath))
        image = images.get(relpath, os.path.join(b, relpath))
        if relpath not in images:
            pairs.append(_Pair(reference, image, unpaired=f"missing: {b} has no {relpath}"))
            continue
        if relpath not in references:
            pairs.append(_Pair(reference, image, unpaired=f"extra: {relpath} has no reference in {a}"))
            continue
        diff = None
        if diff_dir is not None:
            diff = os.path.join(diff_dir, os.path.splitext(relpath)[0] + ".png")
            if diff in diffs:
                raise ParameterError(
                    f"{diffs[diff]} and {relpath} would share the diff image {diff}; compare them apart"
                )
            diffs[diff] = relpath
        pairs.append(_Pair(reference, image, diff))
    return pairs


def _plan(a, b, diff_path, overwrite):
    from ..errors import InputError, OutputError, ParameterError
    from ..images import check_output_path, format_extension, make_output_directory

    a_dir, b_dir = os.path.isdir(a), os.path.isdir(b)
    if a_dir != b_dir:
        directory, other = (a, b) if a_dir else (b, a)
        if not os.path.exists(other):
            raise InputError(f"no such directory to compare with {directory}; check the path", other)
        raise ParameterError(f"{directory} is a directory but {other} is not; give two files or two directories")
    if not a_dir:
        if diff_path is not None:
            if format_extension(diff_path) is None:
                raise ParameterError(f"cannot tell the format of --diff {diff_path} from its extension; use .png")
            check_output_path(diff_path, [a, b], overwrite=overwrite)
        return [_Pair(a, b, diff_path)]
    if diff_path is not None and os.path.exists(diff_path) and not os.path.isdir(diff_path):
        raise OutputError("--diff must be a directory when comparing directories", diff_path)
    pairs = _directory_pairs(a, b, diff_path)
    existing = [pair.diff for pair in pairs if pair.diff and os.path.lexists(pair.diff)]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise OutputError(f"diff image exists{more}; pass --overwrite to replace", existing[0])
    if diff_path is not None:
        make_output_directory(diff_path, "--diff")
    return pairs


def _heat_map(fraction):
    """A map of values in [0, 1], colour-mapped (inferno: near black (0, 0, 4) = 0)."""
    import cv2
    import numpy as np

    levels = np.rint(fraction * np.float32(255)).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(levels, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _write_diff(path, reference, image, settings):
    import numpy as np

    from ..images import Image, make_output_directory, write_image
    from ..metrics import abs_diff_map

    heat = _heat_map(abs_diff_map(reference, image, data_range=settings.data_range, gain=settings.diff_gain))
    make_output_directory(os.path.dirname(os.path.abspath(path)), "--diff")
    write_image(path, Image(heat.astype(np.float32) / np.float32(255)), overwrite=settings.overwrite)


def _shown(value, spec, threshold):
    """``value`` formatted by ``spec``, or with more digits where that would round it onto the threshold."""
    text = format(value, spec)
    return text if float(text) != threshold else format(value, ".9g")


def _check(quality, settings):
    """Why a measured pair fails the thresholds (empty when it passes)."""
    reasons = []
    psnr = quality["psnr"]
    if settings.min_psnr is not None and not quality["identical"] and not (psnr is not None and psnr >= settings.min_psnr):
        shown = "undefined" if psnr is None else f"{_shown(psnr, '.2f', settings.min_psnr)} dB"
        reasons.append(f"PSNR {shown} < --min-psnr {settings.min_psnr:g}")
    ssim = quality["ssim"]
    if settings.min_ssim is not None and not quality["identical"]:  # identical images pass, as for PSNR
        if ssim is None:
            reasons.append("no SSIM (image smaller than 11x11 after cropping) for --min-ssim")
        elif not ssim >= settings.min_ssim:
            reasons.append(f"SSIM {_shown(ssim, '.4f', settings.min_ssim)} < --min-ssim {settings.min_ssim:g}")
    if settings.max_diff is not None and not quality["max_abs_diff"] <= settings.max_diff:
        reasons.append(f"max diff {quality['max_abs_diff']:g} > --max-diff {settings.max_diff:g}")
    return reasons


def _compare(pair, settings):
    """Measure one pair: (record, outcome) where outcome is ok, failed or error.

    A pair that cannot be measured, because a file cannot be read or the images do not
    fit each other or the options (``--crop-border`` larger than the images), is an error.
    """
    from ..errors import DeblurError
    from ..images import read_image
    from ..metrics import quality

    started = time.perf_counter()
    record = {"input": pair.image, "output": None, "status": "failed", "error": None,
              "parameters": settings.parameters(), "reference": pair.reference,
              "quality": None, "input_quality": None, "seconds": 0.0}
    if pair.unpaired:
        record["error"] = pair.unpaired
        return record, _FAILED
    try:
        reference = read_image(pair.reference, max_pixels=settings.max_pixels)
        image = read_image(pair.image, max_pixels=settings.max_pixels)
        measured = quality(reference, image, channel=settings.channel, crop_border=settings.crop_border,
                           data_range=settings.data_range, tolerance=settings.tolerance)
        record["quality"] = measured  # kept if the diff image then cannot be written
        if pair.diff is not None:
            _write_diff(pair.diff, reference, image, settings)
            record["output"] = pair.diff
    except DeblurError as e:
        if e.path is None:
            e.path = pair.image
        record["error"] = str(e)
        outcome = _ERROR
    else:
        reasons = _check(measured, settings)
        record["error"] = "; ".join(reasons) or None
        record["status"] = "failed" if reasons else "done"
        outcome = _FAILED if reasons else _OK
    record["seconds"] = round(time.perf_counter() - started, 4)
    return record, outcome


def _run(pairs, settings, jobs):
    """Compare every pair, ``jobs`` at a time in threads (decoding and the metrics release the GIL)."""
    if jobs <= 1 or len(pairs) <= 1:
        return [_compare(pair, settings) for pair in pairs]
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(max_workers=jobs)
    try:
        return list(executor.map(lambda pair: _compare(pair, settings), pairs))
    except BaseException:
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        executor.shutdown(wait=True)


def _pairs(count):
    return "1 pair" if count == 1 else f"{count} pairs"


def _conclude(results, single):
    """Exit status: 3 if any pair could not be compared, else 1 if any failed, else 0."""
    from ..errors import CheckFailed, InputError

    errors = [record for record, outcome in results if outcome == _ERROR]
    failures = [record for record, outcome in results if outcome == _FAILED]
    if errors:
        if single:
            raise InputError(errors[0]["error"])
        raise InputError(f"{len(errors)} of {_pairs(len(results))} could not be compared (first: {errors[0]['error']})")
    if failures:
        first = failures[0]
        if single:
            raise CheckFailed(first["error"], first["input"])
        raise CheckFailed(f"{len(failures)} of {_pairs(len(results))} failed (first: {first['input']}: {first['error']})")


@click.command(short_help="PSNR/SSIM of images against references; gate CI on them.")
@click.argument("reference", metavar="A")
@click.argument("image", metavar="B")
@click.option("--min-psnr", type=_FINITE, default=None, metavar="DB",
              help="Fail a pair whose PSNR is below DB, any finite number (identical images pass; "
                   "PSNR is negative where the MSE exceeds R^2).")
@click.option("--min-ssim", type=_SSIM, default=None, metavar="S",
              help="Fail a pair whose SSIM is below S, a number from -1 to 1.")
@click.option("--max-diff", type=_NOT_NEGATIVE, default=None, metavar="D",
              help="Fail a pair whose largest sample difference exceeds D, a finite number >= 0 in the "
                   "reference's units (0..255 for 8-bit); 0 asks for identical images.")
@click.option("--channel", type=click.Choice(QUALITY_CHANNELS, case_sensitive=False), default=QUALITY_CHANNELS[0],
              show_default=True, help="Measure all channels, or the BT.601 luma Y (MATLAB rgb2ycbcr).")
@click.option("--crop-border", type=_COUNT, default=0, show_default=True, metavar="N",
              help="Ignore N pixels on every side, an integer >= 0 (e.g. the scale of an upsampled image).")
@click.option("--data-range", type=_POSITIVE, default=None, metavar="R",
              help="Peak value R of PSNR and SSIM in the reference's units, any finite number > 0: "
                   "both stay finite however large or small R is (PSNR = 20 log10 R - 10 log10 MSE; "
                   "SSIM tends to 1 as R grows far past the samples) "
                   "[default: 255 for 8-bit, 65535 for 16-bit, 1.0 for float references].")
@click.option("--tolerance", type=_NOT_NEGATIVE, default=0.0, show_default=True, metavar="T",
              help="Differences up to T, a finite number >= 0, do not count in differing_pixels.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the report as CSV instead of a table.")
@click.option("--report", "report_path", default=None, metavar="FILE",
              help="Also write the report to FILE (.json or .csv), replacing it.")
@click.option("--diff", "diff_path", default=None, metavar="PATH",
              help="Write an amplified |A-B| heat map per pair: a .png file for two files, "
                   "a directory (mirroring relative paths, .png) for two directories.")
@click.option("--diff-gain", type=_POSITIVE, default=10.0, show_default=True, metavar="G",
              help="Heat-map amplification, a finite number > 0: a difference of 1/G of the range "
                   "is full scale, larger ones saturate.")
@overwrite_option
@click.option("-j", "--jobs", type=_JOBS, default=None,
              help="Pairs read and measured at once, an integer >= 1 [default: number of cores].")
@max_pixels_option
def command(reference, image, min_psnr, min_ssim, max_diff, channel, crop_border, data_range,
            tolerance, as_json, as_csv, report_path, diff_path, diff_gain, overwrite, jobs, max_pixels):
    """Compare image B with reference A, or every image of directory B with the image
    of the same relative path in directory A (all levels).

    Prints PSNR, SSIM and the largest difference of each pair as a table, or as JSON or
    CSV. A file on one side only fails. Exit status: 0 every pair passes; 1 a pair is
    below a threshold or unpaired; 3 a file cannot be read or the sizes differ (3 wins
    over 1). Identical images have PSNR inf (null with "identical": true in JSON).

    \b
    Example (a CI gate):
      deblur compare expected/ actual/ --min-psnr 40 --report compare.json
    """
    from .. import report
    from ..batch import job_count
    from ..errors import ParameterError
    from ..images import check_output_path, check_stdout_open

    started = time.perf_counter()
    if as_json and as_csv:
        raise ParameterError("give --json or --csv, not both")
    check_stdout_open("the results are printed there: redirect it (to /dev/null to keep only the --report)")
    if report_path is not None:
        report.report_format(report_path)
        check_output_path(report_path, [reference, image], overwrite=True)
    settings = _Settings(channel.lower(), crop_border, data_range, tolerance, min_psnr, min_ssim,
                         max_diff, diff_gain, overwrite, max_pixels)
    pairs = _plan(reference, image, diff_path, overwrite)
    import cv2  # noqa: F401  (the codecs load now, not inside the first pair's seconds)
    import imageio.v3  # noqa: F401
    results = _run(pairs, settings, job_count(jobs))
    records = [record for record, _ in results]
    outcomes = [outcome for _, outcome in results]
    errors, failed = outcomes.count(_ERROR), outcomes.count(_FAILED)
    summary = {
        "pairs": len(results),
        "passed": outcomes.count(_OK),
        "failed": failed,
        "errors": errors,
        "exit_code": 3 if errors else 1 if failed else 0,
        "seconds": round(time.perf_counter() - started, 3),
        "thresholds": settings.thresholds(),
    }
    if report_path is not None:  # first: a reader of stdout that leaves early must not cost the report
        report.write_report(report_path, "compare", records, summary)
    render = report.to_json if as_json else report.to_csv if as_csv else report.to_text
    click.echo(render("compare", records, summary), nl=False)
    _conclude(results, single=len(pairs) == 1 and not os.path.isdir(reference))

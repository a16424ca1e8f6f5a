"""Result records of any command as a text table, JSON or CSV: one schema for all.

A report is ``{"version": 1, "command": str, "records": [...], "summary": {...}}``.
Each record has the fields of :data:`RECORD_FIELDS` (README, "Reports", describes each
one); ``quality`` and ``input_quality`` are the dicts of :func:`deblur_cli.metrics.quality`
or null. JSON holds no Infinity or NaN: a non-finite number becomes ``null`` (an
identical pair says so with ``"identical": true``).
"""

import csv
import io
import json
import math
import os

from .errors import ParameterError, printable

__all__ = [
    "SCHEMA_VERSION",
    "RECORD_FIELDS",
    "QUALITY_FIELDS",
    "report_format",
    "document",
    "to_json",
    "to_csv",
    "to_text",
    "write_report",
]

SCHEMA_VERSION = 1
"""Raised when a field changes meaning or goes away; new fields may appear without it."""

RECORD_FIELDS = (
    "input",
    "output",
    "status",
    "error",
    "parameters",
    "reference",
    "quality",
    "input_quality",
    "seconds",
)
"""Fields every record has, in this order (null when they do not apply)."""

QUALITY_FIELDS = ("psnr", "identical", "ssim", "max_abs_diff", "differing_pixels", "data_range")
"""Fields of a quality dict, and the order of their CSV columns."""

_FORMATS = {".json": "json", ".csv": "csv"}


def report_format(path):
    """``"json"`` or ``"csv"`` from a report file's extension.

    Parameters
    ----------
    path : str or os.PathLike
        The report file; the extension is compared case-insensitively.

    Returns
    -------
    str
        ``"json"`` for ``.json``, ``"csv"`` for ``.csv``.

    Raises
    ------
    ParameterError
        Any other extension.
    """
    extension = os.path.splitext(str(path))[1].lower()
    try:
        return _FORMATS[extension]
    except KeyError:
        raise ParameterError(
            f"report file {path} must end in .json or .csv, got {extension or 'no extension'!r}"
        ) from None


def _json_safe(value):
    """Plain JSON types: numpy scalars unwrapped, non-finite floats as None."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if hasattr(value, "tolist"):  # numpy scalars and small arrays
        return _json_safe(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _record(record):
    fields = {name: record.get(name) for name in RECORD_FIELDS}
    fields.update((name, value) for name, value in record.items() if name not in fields)
    return _json_safe(fields)


def document(command, records, summary):
    """The report as plain JSON-safe data.

    Parameters
    ----------
    command : str
        The command that made the records (``compare``, ``deconv`` ...).
    records : iterable of dict
        One per input or pair; missing fields are filled with None.
    summary : dict
        Totals of the run.

    Returns
    -------
    dict
        ``{"version", "command", "records", "summary"}``.
    """
    return {
        "version": SCHEMA_VERSION,
        "command": command,
        "records": [_record(record) for record in records],
        "summary": _json_safe(dict(summary or {})),
    }


def to_json(command, records, summary):
    """The report as JSON text (indented, ending in a newline, no Infinity/NaN).

    Parameters
    ----------
    command, records, summary
        See :func:`document`.

    Returns
    -------
    str
    """
    return json.dumps(document(command, records, summary), indent=2, allow_nan=False) + "\n"


def _extra_keys(dicts, known):
    extra = []
    for item in dicts:
        for key in item or {}:
            if key not in known and key not in extra:
                extra.append(key)
    return extra


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, allow_nan=False, sort_keys=True)
    return str(value)


def to_csv(command, records, summary):
    """The records as CSV, one row each; ``summary`` is not part of it.

    Columns: ``input, output, reference, status, error, seconds``, the quality fields
    (``psnr, identical, ssim, ...``), the same prefixed ``input_`` for the input's
    quality, then ``parameters`` as JSON text, then any fields the records add
    beyond :data:`RECORD_FIELDS`. Empty cells are nulls.

    Parameters
    ----------
    command, records, summary
        See :func:`document`.

    Returns
    -------
    str
        A header row, then one row per record, each line ending in a newline.
    """
    rows = document(command, records, summary)["records"]
    quality_keys = list(QUALITY_FIELDS) + _extra_keys((r["quality"] for r in rows), QUALITY_FIELDS)
    input_keys = list(QUALITY_FIELDS) + _extra_keys((r["input_quality"] for r in rows), QUALITY_FIELDS)
    plain = ["input", "output", "reference", "status", "error", "seconds"]
    extra = _extra_keys(rows, RECORD_FIELDS)
    header = plain + quality_keys + [f"input_{key}" for key in input_keys] + ["parameters"] + extra
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        quality = row["quality"] or {}
        input_quality = row["input_quality"] or {}
        writer.writerow(
            [_csv_cell(row[key]) for key in plain]
            + [_csv_cell(quality.get(key)) for key in quality_keys]
            + [_csv_cell(input_quality.get(key)) for key in input_keys]
            + [_csv_cell(row["parameters"])]
            + [_csv_cell(row.get(key)) for key in extra]
        )
    return buffer.getvalue()


def _psnr_text(quality):
    if not quality:
        return ""
    if quality.get("identical"):
        return "inf"
    value = quality.get("psnr")
    return "" if value is None else f"{value:.2f}"


def _number_text(value, spec):
    return "" if value is None else format(value, spec)


# (header, cell of a JSON-safe record, right-aligned)
_COLUMNS = [
    ("reference", lambda r: printable(r["reference"] or ""), False),
    ("input", lambda r: printable(r["input"] or ""), False),
    ("output", lambda r: printable(r["output"] or ""), False),
    ("status", lambda r: r["status"] or "", False),
    ("PSNR", lambda r: _psnr_text(r["quality"]), True),
    ("SSIM", lambda r: _number_text((r["quality"] or {}).get("ssim"), ".4f"), True),
    ("max diff", lambda r: _number_text((r["quality"] or {}).get("max_abs_diff"), ".6g"), True),
    ("input PSNR", lambda r: _psnr_text(r["input_quality"]), True),
    ("input SSIM", lambda r: _number_text((r["input_quality"] or {}).get("ssim"), ".4f"), True),
    ("seconds", lambda r: _number_text(r["seconds"], ".3f"), True),
    ("error", lambda r: printable(r["error"] or ""), False),
]
_ALWAYS = {"input", "status"}


def _summary_line(summary):
    parts = []
    for key, value in summary.items():
        if value is None or isinstance(value, (dict, list)):
            continue
        parts.append(f"{key.replace('_', ' ')} {value:.3f}" if isinstance(value, float) else f"{key.replace('_', ' ')} {value}")
    return ", ".join(parts)


def to_text(command, records, summary):
    """The records as an aligned table, then one summary line.

    Columns without any value are left out; PSNR of identical images shows ``inf``.

    Parameters
    ----------
    command, records, summary
        See :func:`document`; the summary line starts with ``command``.

    Returns
    -------
    str
        Ends in a newline; the summary line is left out when the summary has no
        plain values.
    """
    report = document(command, records, summary)
    rows = report["records"]
    cells = {header: [cell(row) for row in rows] for header, cell, _ in _COLUMNS}
    shown = [
        (header, right)
        for header, _, right in _COLUMNS
        if header in _ALWAYS or any(cells[header])
    ]
    widths = {header: max([len(header)] + [len(text) for text in cells[header]]) for header, _ in shown}

    def line(texts):
        padded = [
            text.rjust(widths[header]) if right else text.ljust(widths[header])
            for (header, right), text in zip(shown, texts)
        ]
        return "  ".join(padded).rstrip()

    lines = [line([header for header, _ in shown])]
    lines += [line([cells[header][i] for header, _ in shown]) for i in range(len(rows))]
    summary_text = _summary_line(report["summary"])
    if summary_text:
        lines.append(f"{command}: {summary_text}")
    return "\n".join(lines) + "\n"


def write_report(path, command, records, summary, *, overwrite=True):
    """Write a report file atomically, JSON or CSV by its extension.

    Parameters
    ----------
    path : str or os.PathLike
        Ends in ``.json`` or ``.csv``.
    command, records, summary
        See :func:`document`.
    overwrite : bool, optional
        Replace an existing report (the default: a report is rewritten by every run,
        as a log is).

    Raises
    ------
    ParameterError
        The extension is neither ``.json`` nor ``.csv``.
    OutputError
        The file cannot be written.
    """
    from .images import atomic_write_bytes

    render = to_json if report_format(path) == "json" else to_csv
    # A file name that is not UTF-8 (held by Python as lone surrogates) goes back to its own
    # bytes, as it does on standard output; JSON has escaped it already.
    data = render(command, records, summary).encode("utf-8", "surrogateescape")
    atomic_write_bytes(path, data, overwrite=overwrite)

"""Report rendering: one schema, JSON without Infinity/NaN, CSV, aligned text, atomic files."""

import csv
import io
import json
import math
import os

import numpy as np
import pytest

from deblur_cli.errors import OutputError, ParameterError
from deblur_cli.report import (
    RECORD_FIELDS,
    SCHEMA_VERSION,
    report_format,
    to_csv,
    to_json,
    to_text,
    write_report,
)


def strict_loads(text):
    """json.loads that refuses the Infinity/NaN extensions Python would otherwise accept."""

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


IDENTICAL = {"psnr": None, "identical": True, "ssim": 1.0, "max_abs_diff": 0.0,
             "differing_pixels": 0, "data_range": 255.0}
MEASURED = {"psnr": 31.234567, "identical": False, "ssim": 0.912345, "max_abs_diff": 12.0,
            "differing_pixels": 40, "data_range": 255.0}


def records():
    return [
        {"input": "b/x.png", "reference": "a/x.png", "status": "done", "quality": IDENTICAL, "seconds": 0.01},
        {"input": "b/long/name.png", "output": "out/name.png", "reference": "a/long/name.png",
         "status": "failed", "error": "PSNR 31.23 dB < --min-psnr 40", "quality": MEASURED,
         "input_quality": dict(MEASURED, psnr=25.5), "parameters": {"nsr": 0.01, "psf": {"length": 15}},
         "seconds": 1.5},
    ]


def test_json_has_the_schema_with_every_record_field_in_order():
    report = strict_loads(to_json("compare", records(), {"pairs": 2}))
    assert list(report) == ["version", "command", "records", "summary"]
    assert report["version"] == SCHEMA_VERSION == 1
    assert report["command"] == "compare"
    assert report["summary"] == {"pairs": 2}
    for record in report["records"]:
        assert tuple(record) == RECORD_FIELDS
    assert report["records"][0]["output"] is None
    assert report["records"][1]["parameters"] == {"nsr": 0.01, "psf": {"length": 15}}


def test_json_of_identical_images_has_null_psnr_and_identical_true():
    record = strict_loads(to_json("compare", records(), {}))["records"][0]
    assert record["quality"]["psnr"] is None
    assert record["quality"]["identical"] is True


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, np.float32("inf"), np.float64("nan")])
def test_json_never_holds_infinity_or_nan(bad):
    record = {"input": "x.png", "status": "done", "quality": {"psnr": bad}, "parameters": {"nsr": [bad, 1.0]}}
    text = to_json("deconv", [record], {"seconds": bad})
    report = strict_loads(text)
    assert report["records"][0]["quality"]["psnr"] is None
    assert report["records"][0]["parameters"]["nsr"] == [None, 1.0]
    assert report["summary"]["seconds"] is None


def test_json_unwraps_numpy_values():
    record = {"input": "x.png", "status": "done", "seconds": np.float32(0.5),
              "parameters": {"size": np.int64(3), "flag": np.bool_(True), "kernel": np.array([1, 2])}}
    parameters = strict_loads(to_json("blur", [record], {}))["records"][0]["parameters"]
    assert parameters == {"size": 3, "flag": True, "kernel": [1, 2]}


def test_unknown_record_fields_are_kept_after_the_schema_fields():
    record = {"input": "x.png", "status": "done", "note": "extra"}
    assert list(strict_loads(to_json("x", [record], {}))["records"][0]) == [*RECORD_FIELDS, "note"]


def test_csv_has_one_row_per_record_with_flat_quality_columns():
    rows = list(csv.DictReader(io.StringIO(to_csv("deconv", records(), {"pairs": 2}))))
    assert len(rows) == 2
    first, second = rows
    assert first["psnr"] == "" and first["identical"] == "true" and first["output"] == ""
    assert float(second["psnr"]) == MEASURED["psnr"]
    assert float(second["input_psnr"]) == 25.5
    assert second["identical"] == "false"
    assert int(second["differing_pixels"]) == 40
    assert json.loads(second["parameters"]) == {"nsr": 0.01, "psf": {"length": 15}}
    assert second["error"] == "PSNR 31.23 dB < --min-psnr 40"


def test_csv_adds_columns_for_extra_quality_fields():
    record = {"input": "x.png", "status": "done", "quality": dict(MEASURED, gain=3.5)}
    rows = list(csv.DictReader(io.StringIO(to_csv("deconv", [record], {}))))
    assert float(rows[0]["gain"]) == 3.5


def test_text_table_is_aligned_and_shows_inf_for_identical_images():
    lines = to_text("compare", records(), {"pairs": 2, "seconds": 0.25, "thresholds": {"min_psnr": 40}}).splitlines()
    header, first, second, summary = lines
    end = header.index("PSNR") + len("PSNR")  # numbers are right-aligned under their header
    assert first[end - 3:end] == "inf"
    assert second[end - 5:end] == "31.23"
    start = header.index("input ")  # text is left-aligned under its header
    assert first[start:].startswith("b/x.png") and second[start:].startswith("b/long/name.png")
    assert "input PSNR" in header and second.count("25.50") == 1
    assert summary == "compare: pairs 2, seconds 0.250"


def test_text_table_leaves_out_empty_columns():
    header = to_text("convert", [{"input": "x.png", "status": "done", "seconds": 0.1}], {}).splitlines()[0]
    assert header.split() == ["input", "status", "seconds"]


@pytest.mark.parametrize("name, kind", [("r.json", "json"), ("r.CSV", "csv"), ("dir.v2/r.json", "json")])
def test_report_format_is_told_by_the_extension(name, kind):
    assert report_format(name) == kind


@pytest.mark.parametrize("name", ["report.txt", "report", "report.json.bak"])
def test_other_report_extensions_are_refused(name):
    with pytest.raises(ParameterError, match=r"\.json or \.csv"):
        report_format(name)


def test_write_report_writes_json_and_csv_by_extension(tmp_path):
    write_report(tmp_path / "r.json", "compare", records(), {"pairs": 2})
    write_report(tmp_path / "r.csv", "compare", records(), {"pairs": 2})
    assert (tmp_path / "r.json").read_text() == to_json("compare", records(), {"pairs": 2})
    assert (tmp_path / "r.csv").read_text() == to_csv("compare", records(), {"pairs": 2})
    assert sorted(os.listdir(tmp_path)) == ["r.csv", "r.json"]  # no temporary file left


def test_write_report_replaces_a_report_unless_told_not_to(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("old")
    write_report(path, "compare", [], {})
    assert strict_loads(path.read_text())["records"] == []
    with pytest.raises(OutputError, match="exists"):
        write_report(path, "compare", [], {}, overwrite=False)


def test_write_report_into_a_missing_directory_is_an_output_error(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        write_report(tmp_path / "nowhere" / "r.json", "compare", [], {})

"""Report inputs: RobustBench's unaggregated CSV, mapping files, --assign, results' transfer fields."""

from __future__ import annotations

import json
import re

import pytest

from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.report.identity import (
    Assignment,
    ReportMapping,
    identify,
    load_mapping,
    merge_mappings,
    parse_assignment,
)
from evaluator.results import EvalResult
from evaluator.robustbench import read_unaggregated_results
from tests.report_fixtures import make_result, write_robustbench_csv
from zoo.errors import InvalidInputError


def test_robustbench_csv_reads_into_ordered_tables(tmp_path) -> None:
    shuffled = list(reversed(COMMON_CORRUPTIONS))  # RobustBench's column order is not the benchmark's
    path = tmp_path / "unaggregated_results.csv"
    write_robustbench_csv(path, {"Standard_R50": 0.8, "Hendrycks2020Many": 0.9}, order=shuffled)
    tables = read_unaggregated_results(path)
    assert list(tables) == ["Standard_R50", "Hendrycks2020Many"]
    table = tables["Standard_R50"]
    assert list(table) == list(COMMON_CORRUPTIONS)
    # jpeg_compression is the first column group in the reversed file: cells 0..4
    assert table["jpeg_compression"] == pytest.approx(
        {s: 0.8 - 0.05 * s + 0.001 * (s - 1) for s in SEVERITIES}
    )
    assert table["gaussian_noise"][5] == pytest.approx(0.8 - 0.25 + 0.001 * 74)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda lines: lines[:2], "at least one model row"),
        (lambda lines: [lines[0].replace("fog", "smog"), *lines[1:]], ":1: unknown corruption 'smog'"),
        (lambda lines: [lines[0], lines[1].replace(",5", ",6", 1), *lines[2:]], ":2: severity '6'"),
        (lambda lines: [*lines[:2], lines[2] + ",0.5"], ":3: 76 values for 75"),
        (lambda lines: [*lines[:2], lines[2].replace("0.", "x.", 1)], ":3: 'x."),
        (lambda lines: [*lines[:2], lines[2].replace(",0.", ",1.", 1)], "outside [0, 1]"),
        (lambda lines: [*lines, lines[2]], ":4: model 'M' appears twice"),
    ],
)
def test_malformed_robustbench_csv_names_file_and_line(tmp_path, edit, message) -> None:
    path = tmp_path / "rb.csv"
    write_robustbench_csv(path, {"M": 0.8})
    path.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    with pytest.raises(InvalidInputError, match=re.escape(str(path)) + ".*" + re.escape(message)):
        read_unaggregated_results(path)


def test_transfer_fields_round_trip_and_bad_modes_are_refused(tmp_path) -> None:
    result = make_result("cifar10-c", "ft", 0.9, 0.1, base_model="resnet50.tv_in1k", mode="fixed")
    path = result.save(tmp_path / "r.json")
    assert EvalResult.load(path).checkpoint.transfer_mode == "fixed"
    data = json.loads(path.read_text())
    del data["checkpoint"]["base_model"], data["checkpoint"]["transfer_mode"]  # an older file
    path.write_text(json.dumps(data))
    assert EvalResult.load(path).checkpoint.base_model is None
    data["checkpoint"]["transfer_mode"] = "linear-probe"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match="transfer_mode 'linear-probe' is not one of fixed, full"):
        EvalResult.load(path)


def test_identity_precedence_and_zoo_aliases(tmp_path) -> None:
    recorded = make_result("coco-c", "det-1", 0.4, 0.1, base_model="r50", mode="full")
    bare = make_result("coco-c", "swin_t", 0.4, 0.1)
    assert identify(recorded) == identify(recorded, ReportMapping())
    assert (identify(recorded).backbone, identify(recorded).mode) == ("resnet50.tv_in1k", "full")
    assert (
        identify(bare).backbone == "swin_tiny_patch4_window7_224.ms_in1k" and identify(bare).how == "assumed"
    )
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"checkpoints": {"det-1": {"base_model": "swin_t", "mode": "fixed"}}}))
    from_file = load_mapping(path)
    cli = ReportMapping(checkpoints=dict([parse_assignment("det-1=resnet50.tv_in1k:full")]))
    assert identify(recorded, from_file).backbone == "swin_tiny_patch4_window7_224.ms_in1k"
    assert identify(recorded, merge_mappings(from_file, cli)).mode == "full"  # --assign wins


@pytest.mark.parametrize(
    "text, message",
    [
        ("no-equals", "expected CHECKPOINT=BACKBONE"),
        ("a=b:frozen", "transfer mode 'frozen'"),
        ("a=", "expected"),
    ],
)
def test_bad_assignments_are_refused(text, message) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_assignment(text)


def test_bad_mapping_files_are_refused(tmp_path) -> None:
    path = tmp_path / "m.json"
    for content, message in [
        ("{", "not valid JSON"),
        ('{"checkpoint": {}}', "expected an object"),
        ('{"checkpoints": {"x": {"mode": "full"}}}', "needs a 'base_model'"),
        ('{"robustbench": {"x": 3}}', "'robustbench' must map"),
        (
            '{"checkpoints": {"x": {"base_model": "b", "mode": "frozen"}}}',
            "checkpoint 'x': transfer mode 'frozen'",
        ),
    ]:
        path.write_text(content)
        with pytest.raises(InvalidInputError, match=re.escape(str(path)) + ".*" + re.escape(message)):
            load_mapping(path)
    assert Assignment("b").mode is None

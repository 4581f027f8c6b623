"""``rzoo report`` through typer's CliRunner: a full report from files, and clean failures."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.report_fixtures import (
    ZOO_TEST_BACKBONES,
    downstream,
    make_result,
    write_robustbench_csv,
    zoo_test_backbones,  # noqa: F401 (fixture)
)
from zoo.cli import app

runner = CliRunner()
A, B, C, D, _ = ZOO_TEST_BACKBONES


pytestmark = pytest.mark.usefixtures("zoo_test_backbones")


@pytest.fixture
def results_dir(tmp_path):
    folder = tmp_path / "results"
    for i, backbone in enumerate((A, B, C)):
        downstream("cifar10-c", backbone, "full", 0.9, 0.05 + 0.01 * i).save(folder / f"{i}.json")
    make_result("cifar10-c", "mystery-ckpt", 0.9, 0.02).save(folder / "mystery.json")
    return folder


def test_report_from_files_writes_documents_and_prints_tables(tmp_path, results_dir) -> None:
    csv = tmp_path / "unaggregated_results.csv"
    write_robustbench_csv(csv, {"Row_D": 0.7})
    out = tmp_path / "report"
    files = sorted(str(p) for p in results_dir.glob("*.json"))
    result = runner.invoke(
        app,
        ["report", *files, "--imagenet-c", str(csv), "--assign", f"mystery-ckpt={D}:full", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert (out / "report.md").is_file() and (out / "report.html").is_file()
    assert sorted(p.name for p in (out / "figures").iterdir()) == [
        "cifar10-c-heatmap.png",
        "cifar10-c-severity.png",
        "cifar10-c-transfer.png",
    ]
    assert "cifar10-c: top1 (%)" in result.stdout and "full rPC" in result.stdout
    assert "Spearman ρ" in result.stdout and "n = 4" in result.stdout
    # the RobustBench row is reported in the notes as unmatched; D keeps its zoo mCE
    markdown = (out / "report.md").read_text()
    assert "Row\\_D" in markdown and "| 74.0 | 54.0 |" in markdown


def test_folder_input_and_mapping_file(tmp_path, results_dir) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"checkpoints": {"mystery-ckpt": {"base_model": D, "mode": "fixed"}}}))
    out = tmp_path / "r"
    result = runner.invoke(app, ["report", str(results_dir), "--mapping", str(mapping), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "fixed rPC" in result.stdout and "mode not recorded" not in (out / "report.md").read_text()


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda f: f.write_text("{not json"), "not valid JSON"),
        (lambda f: f.write_text(json.dumps({"schema": "other/1"})), "not an rzoo results file"),
    ],
)
def test_bad_input_is_one_error_line_and_no_output_folder(tmp_path, results_dir, corrupt, message) -> None:
    bad = results_dir / "zz-bad.json"
    corrupt(bad)
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(results_dir), "-o", str(out)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0] and message in lines[0]
    assert not out.exists()


def test_bad_options_fail_before_writing(tmp_path, results_dir) -> None:
    out = tmp_path / "report"
    for extra, message in [
        (["--imagenet-c", str(tmp_path / "missing.csv")], "no such RobustBench CSV"),
        (["--assign", "x=y:sideways"], "transfer mode 'sideways'"),
        (["--measure", "auc"], "unknown upstream measure 'auc'"),
    ]:
        result = runner.invoke(app, ["report", str(results_dir), *extra, "-o", str(out)])
        assert result.exit_code == 1 and result.stderr.strip().splitlines() == [
            next(line for line in result.stderr.splitlines() if message in line)
        ]
        assert not out.exists()

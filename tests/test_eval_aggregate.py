"""rzoo aggregate: hand-computed tables, RobustBench's unaggregated CSV, result tables in 4 formats."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from evaluator.aggregate import aggregate_path
from evaluator.baselines import ALEXNET_MEAN_ERRORS
from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity, EvalResult, summarize_metric
from evaluator.tables import render
from zoo.cli import app


def _write_csv(path, rows: dict[str, dict[str, dict[int, float]]]) -> None:
    columns = [(c, s) for c in COMMON_CORRUPTIONS for s in SEVERITIES]
    lines = ["," + ",".join(c for c, _ in columns), "," + ",".join(str(s) for _, s in columns)]
    for model, table in rows.items():
        lines.append(model + "," + ",".join(str(table[c][s]) for c, s in columns))
    path.write_text("\n".join(lines) + "\n")


def test_robustbench_csv_mean_accuracy_and_mce_by_hand(tmp_path) -> None:
    # Model A: accuracy 0.5 everywhere -> mean 0.5; CE_c = 0.5 / AlexNet_c; mCE = mean over c.
    flat = {c: dict.fromkeys(SEVERITIES, 0.5) for c in COMMON_CORRUPTIONS}
    # Model B: accuracy 1 - 0.1 * s -> mean 0.7; CE_c = (0.1 + ... + 0.5) / (5 * AlexNet_c) = 0.3 / AlexNet_c.
    graded = {c: {s: 1 - 0.1 * s for s in SEVERITIES} for c in COMMON_CORRUPTIONS}
    _write_csv(tmp_path / "unaggregated_results.csv", {"A": flat, "B": graded})
    rows = {r.model: r for r in aggregate_path(tmp_path / "unaggregated_results.csv")}
    alex = list(ALEXNET_MEAN_ERRORS.values())
    assert rows["A"].mean_corrupted == pytest.approx(0.5)
    assert rows["A"].mCE == pytest.approx(sum(0.5 / e for e in alex) / 15)
    assert rows["B"].mean_corrupted == pytest.approx(0.7)
    assert rows["B"].mCE == pytest.approx(sum(0.3 / e for e in alex) / 15)
    assert rows["B"].cells == 75 and rows["B"].clean is None

    res = CliRunner().invoke(app, ["aggregate", str(tmp_path / "unaggregated_results.csv"), "--json"])
    assert res.exit_code == 0, res.output
    data = {r["model"]: r for r in json.loads(res.output)}
    assert data["A"]["mean_corrupted"] == pytest.approx(0.5)


def test_results_file_is_reaggregated_from_its_tables(tmp_path) -> None:
    table = {"fog": {1: 0.8, 3: 0.6}, "snow": {1: 0.7, 3: 0.5}, "saturate": {1: 0.9}}
    metric = summarize_metric("top1", 0.9, table)
    result = EvalResult("cifar10-c", CheckpointIdentity(name="m"), "top1", {"top1": metric}, num_images=10)
    data = result.to_dict()
    data["metrics"]["top1"]["mPC"] = 0.123  # a stale aggregate in the file
    (tmp_path / "r.json").write_text(json.dumps(data))
    (row,) = aggregate_path(tmp_path / "r.json")
    assert row.mean_corrupted == pytest.approx((0.8 + 0.6 + 0.7 + 0.5) / 4)
    assert row.rPC == pytest.approx(0.65 / 0.9)
    assert row.holdout_mPC == pytest.approx(0.9)
    assert row.mCE is None  # CIFAR: no AlexNet baseline

    res = CliRunner().invoke(app, ["aggregate", str(tmp_path / "r.json")])
    assert res.exit_code == 0 and "65.00" in res.output
    bad = CliRunner().invoke(app, ["aggregate", str(tmp_path / "missing.json")])
    assert bad.exit_code == 1 and "error:" in bad.output


def test_result_tables_in_every_format() -> None:
    metric = summarize_metric("top1", 0.9, {"fog": {1: 0.8, 5: 0.4}})
    result = EvalResult(
        "cifar10-c", CheckpointIdentity(name="my_model"), "top1", {"top1": metric}, num_images=3
    )
    md = render(result, "markdown")
    assert "| fog | 80.0 | 40.0 | 60.0 |" in md and "| clean |  |  | 90.0 |" in md
    rows = {r[1]: r for r in csv.reader(io.StringIO(render(result, "csv")))}
    assert rows["fog"][0] == "top1" and [float(v) for v in rows["fog"][2:]] == pytest.approx([0.8, 0.4, 0.6])
    latex = render(result, "latex")
    assert r"my\_model" in latex and r"fog & 80.0 & 40.0 & 60.0 \\" in latex and r"\toprule" in latex

"""Aggregates from tables: an rzoo results file or RobustBench's unaggregated CSV (pure over the tables).

- A results file (``rzoo.results/1``): every metric is re-aggregated from its corruption x severity
  tables with :func:`evaluator.results.summarize_metric` (so a hand-edited or older file gets
  consistent numbers): clean, mPC, rPC, mCE and relative mCE (ImageNet-C only), holdout mPC.
- A RobustBench ``unaggregated_results.csv``: per model, the mean accuracy over all cells of the file
  (RobustBench's "corruptions_acc") and mCE vs AlexNet when the 15 corruptions x 5 severities are all
  there (the file has no clean accuracy, so no rPC or relative mCE).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import fmean

from evaluator.metrics import mean_corruption_error
from evaluator.results import EvalResult, summarize_metric


@dataclass(frozen=True)
class AggregateRow:
    model: str
    metric: str
    clean: float | None
    mean_corrupted: float | None  # mPC: mean over the common corruptions' cells
    rPC: float | None
    mCE: float | None
    relative_mCE: float | None
    holdout_mPC: float | None
    cells: int


def aggregate_results_file(result: EvalResult) -> list[AggregateRow]:
    rows = []
    for name, metric in result.metrics.items():
        table = {**metric.corrupted, **(metric.holdout.corrupted if metric.holdout else {})}
        fresh = summarize_metric(name, metric.clean, table, with_mce=result.task == "imagenet-c")
        rows.append(
            AggregateRow(
                model=result.checkpoint.name,
                metric=name,
                clean=fresh.clean,
                mean_corrupted=fresh.mPC,
                rPC=fresh.rPC,
                mCE=fresh.mCE,
                relative_mCE=fresh.relative_mCE,
                holdout_mPC=fresh.holdout.mPC if fresh.holdout else None,
                cells=sum(len(v) for v in table.values()),
            )
        )
    return rows


def aggregate_robustbench_csv(path: Path) -> list[AggregateRow]:
    from evaluator.robustbench import read_unaggregated_results

    rows = []
    for model, table in read_unaggregated_results(path).items():
        cells = [v for by_sev in table.values() for v in by_sev.values()]
        rows.append(
            AggregateRow(
                model=model,
                metric="top1",
                clean=None,
                mean_corrupted=fmean(cells),
                rPC=None,
                mCE=mean_corruption_error(table),
                relative_mCE=None,
                holdout_mPC=None,
                cells=len(cells),
            )
        )
    return rows


def aggregate_path(path: Path) -> list[AggregateRow]:
    """Rows for a ``.json`` results file or a ``.csv`` RobustBench table."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return aggregate_robustbench_csv(path)
    return aggregate_results_file(EvalResult.load(path))

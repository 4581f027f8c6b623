"""``rzoo aggregate results.json | unaggregated_results.csv``: clean / mPC / rPC / mCE from tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def aggregate_command(
    paths: Annotated[
        list[Path], typer.Argument(help="rzoo results JSON files or RobustBench unaggregated CSVs.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")] = False,
) -> None:
    """Mean corrupted performance, rPC, mCE (ImageNet-C tables) per model, recomputed from the tables."""
    from dataclasses import asdict

    from evaluator.aggregate import aggregate_path
    from zoo.cli._common import percent, print_json, print_table

    rows = [row for path in paths for row in aggregate_path(path)]
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    print_table(
        f"{len(rows)} rows (values in %; mCE as % of AlexNet)",
        [
            "model",
            "metric",
            "clean",
            "mean corrupted (mPC)",
            "rPC",
            "mCE",
            "relative mCE",
            "holdout mPC",
            "cells",
        ],
        [
            (
                r.model,
                r.metric,
                percent(r.clean, 2),
                percent(r.mean_corrupted, 2),
                percent(r.rPC, 1),
                percent(r.mCE, 1),
                percent(r.relative_mCE, 1),
                percent(r.holdout_mPC, 2),
                r.cells,
            )
            for r in rows
        ],
    )


def register(root: typer.Typer) -> None:
    root.command("aggregate")(aggregate_command)

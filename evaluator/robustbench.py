"""Reader for RobustBench's unaggregated corruption results (``unaggregated_results.csv``).

RobustBench publishes, per dataset, a CSV with two header rows — the corruption name of each column,
then its severity — and one row per model whose first cell is the model name and whose other cells
are top-1 accuracies in [0, 1]::

    ,shot_noise,shot_noise,...,elastic_transform
    ,1,2,...,5
    Standard_R50,0.5728,0.4276,...,0.1476

:func:`read_unaggregated_results` turns it into ``{model: {corruption: {severity: accuracy}}}`` (the
table shape of :mod:`evaluator.metrics`), with corruptions in the benchmark order. Nothing is
aggregated here: mean accuracy, mCE and friends are computed by the pure functions in
:mod:`evaluator.metrics` (RobustBench's own "corruptions_acc" is the plain mean of these cells). The
file has no clean accuracy. Malformed files raise :class:`~zoo.errors.InvalidInputError` naming the
file and line.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from evaluator.protocol import ALL_CORRUPTIONS, SEVERITIES
from zoo.errors import InvalidInputError

Table = dict[str, dict[int, float]]

ROBUSTBENCH_IMAGENET_NAMES = MappingProxyType(
    {
        "Standard_R50": "resnet50.tv_in1k",
        "Hendrycks2020AugMix": "resnet50.augmix_in1k",
        "Hendrycks2020Many": "resnet50.deepaugment_augmix_in1k",
        "Geirhos2018_SIN": "resnet50.sin_in1k",
        "Geirhos2018_SIN_and_IN": "resnet50.sin_in_in1k",
        "Geirhos2018_SIN_and_IN_then_finetuned_on_IN": "resnet50.sin_in_ft_in1k",
    }
)
"""RobustBench ImageNet model names whose weights are the zoo's (same original release)."""


def read_unaggregated_results(path: str | os.PathLike[str]) -> dict[str, Table]:
    """``{model: {corruption: {severity: accuracy}}}`` from a RobustBench unaggregated CSV, in file order."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = [row for row in csv.reader(fh) if any(cell.strip() for cell in row)]
    except FileNotFoundError as err:
        raise InvalidInputError(f"no such RobustBench CSV: {path}") from err
    except (UnicodeDecodeError, csv.Error) as err:
        raise InvalidInputError(f"{path}: not a readable CSV ({err})") from err
    if len(rows) < 3:
        raise InvalidInputError(
            f"{path}: a RobustBench unaggregated CSV needs two header rows (corruption, severity) "
            "and at least one model row"
        )
    columns = _columns(path, rows[0], rows[1])
    tables: dict[str, Table] = {}
    for line, row in enumerate(rows[2:], start=3):
        model = row[0].strip()
        if not model:
            raise InvalidInputError(f"{path}:{line}: the first cell must name the model")
        if model in tables:
            raise InvalidInputError(f"{path}:{line}: model {model!r} appears twice")
        if len(row) != len(columns) + 1:
            raise InvalidInputError(
                f"{path}:{line}: {len(row) - 1} values for {len(columns)} (corruption, severity) columns"
            )
        table: Table = {}
        for (corruption, severity), cell in zip(columns, row[1:], strict=True):
            table.setdefault(corruption, {})[severity] = _accuracy(path, line, cell)
        tables[model] = _ordered(table)
    return tables


def _columns(path: Path, names: list[str], severities: list[str]) -> list[tuple[str, int]]:
    if len(names) != len(severities):
        raise InvalidInputError(f"{path}: the two header rows differ in length")
    columns: list[tuple[str, int]] = []
    seen: set[tuple[str, int]] = set()
    for name, sev in zip(names[1:], severities[1:], strict=True):
        corruption = name.strip()
        if corruption not in ALL_CORRUPTIONS:
            raise InvalidInputError(f"{path}:1: unknown corruption {corruption!r}")
        try:
            severity = int(sev.strip())
        except ValueError:
            severity = -1
        if severity not in SEVERITIES:
            raise InvalidInputError(f"{path}:2: severity {sev.strip()!r} of {corruption} is not 1..5")
        if (corruption, severity) in seen:
            raise InvalidInputError(f"{path}: column {corruption} severity {severity} appears twice")
        seen.add((corruption, severity))
        columns.append((corruption, severity))
    if not columns:
        raise InvalidInputError(f"{path}: no (corruption, severity) columns")
    return columns


def _accuracy(path: Path, line: int, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise InvalidInputError(f"{path}:{line}: {cell.strip()!r} is not a number") from None
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidInputError(f"{path}:{line}: accuracy {value} is outside [0, 1]")
    return value


def _ordered(table: Mapping[str, Mapping[int, float]]) -> Table:
    return {c: dict(sorted(table[c].items())) for c in ALL_CORRUPTIONS if c in table}

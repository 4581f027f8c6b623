"""The paper's tables: per downstream task, backbone x transfer mode -> clean, mPC, rPC."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import fmean

from evaluator.report.identity import Identified
from evaluator.results import TRANSFER_MODES, EvalResult
from zoo.errors import InvalidInputError

MODE_ORDER: tuple[str | None, ...] = (*TRANSFER_MODES, None)
MODE_LABELS: Mapping[str | None, str] = {
    "fixed": "fixed-feature",
    "full": "full fine-tuning",
    None: "mode not recorded",
}
MODE_SHORT: Mapping[str | None, str] = {"fixed": "fixed", "full": "full", None: "?"}


@dataclass(frozen=True)
class TransferRow:
    """One downstream result placed in the table: a backbone, a transfer mode and one metric."""

    task: str
    metric: str
    backbone: str
    mode: str | None
    checkpoint: str
    identified_by: str
    clean: float | None
    mPC: float | None
    rPC: float | None
    per_corruption: Mapping[str, float] = field(default_factory=dict)
    by_severity: Mapping[int, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.backbone} ({MODE_SHORT[self.mode]})"

    @property
    def relative_per_corruption(self) -> dict[str, float]:
        """P_c / P_clean per corruption (empty when the clean performance is unknown or zero)."""
        if not self.clean:
            return {}
        return {c: v / self.clean for c, v in self.per_corruption.items()}


@dataclass(frozen=True)
class TaskTable:
    """All rows of one task and metric, sorted by backbone, then mode (fixed, full, unknown)."""

    task: str
    metric: str
    rows: tuple[TransferRow, ...]

    @property
    def backbones(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.backbone for r in self.rows))

    @property
    def modes(self) -> tuple[str | None, ...]:
        present = {r.mode for r in self.rows}
        return tuple(m for m in MODE_ORDER if m in present)

    def get(self, backbone: str, mode: str | None) -> TransferRow | None:
        return next((r for r in self.rows if r.backbone == backbone and r.mode == mode), None)


def transfer_row(result: EvalResult, identified: Identified, metric: str) -> TransferRow:
    m = result.metrics[metric]
    severities = sorted({s for by_sev in m.corrupted.values() for s in by_sev})
    by_severity = {s: fmean(by_sev[s] for by_sev in m.corrupted.values() if s in by_sev) for s in severities}
    return TransferRow(
        task=result.task,
        metric=metric,
        backbone=identified.backbone,
        mode=identified.mode,
        checkpoint=result.checkpoint.name,
        identified_by=identified.how,
        clean=m.clean,
        mPC=m.mPC,
        rPC=m.rPC,
        per_corruption=dict(m.per_corruption),
        by_severity=by_severity,
    )


def task_tables(results: Iterable[tuple[EvalResult, Identified]]) -> dict[str, list[TaskTable]]:
    """task -> its tables, the primary metric's first, then every other metric all its results have.

    Two results for the same task, backbone and mode are refused: the table has one cell for them.
    """
    by_task: dict[str, list[tuple[EvalResult, Identified]]] = {}
    for result, ident in results:
        by_task.setdefault(result.task, []).append((result, ident))
    out: dict[str, list[TaskTable]] = {}
    for task in sorted(by_task):
        items = by_task[task]
        _refuse_duplicates(task, items)
        primaries = [r.primary_metric for r, _ in items]
        primary = max(dict.fromkeys(primaries), key=primaries.count)
        shared = set.intersection(*(set(r.metrics) for r, _ in items))
        metrics = [primary, *sorted(shared - {primary})]
        tables = []
        for metric in metrics:
            rows = [transfer_row(r, i, metric) for r, i in items if metric in r.metrics]
            rows.sort(key=lambda row: (row.backbone, MODE_ORDER.index(row.mode)))
            tables.append(TaskTable(task=task, metric=metric, rows=tuple(rows)))
        out[task] = tables
    return out


def _refuse_duplicates(task: str, items: list[tuple[EvalResult, Identified]]) -> None:
    seen: dict[tuple[str, str | None], str] = {}
    for result, ident in items:
        key = (ident.backbone, ident.mode)
        if key in seen:
            raise InvalidInputError(
                f"two {task} results for backbone {ident.backbone} ({MODE_LABELS[ident.mode]}): "
                f"checkpoints {seen[key]!r} and {result.checkpoint.name!r}; pass one of them"
            )
        seen[key] = result.checkpoint.name

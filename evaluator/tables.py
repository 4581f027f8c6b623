"""Printing an :class:`EvalResult`: rich table, markdown, csv or LaTeX (pure text builders).

One row per corruption (severities 1..5 and the mean), then holdout corruptions, then summary rows
(clean, mPC, rPC, mCE, relative mCE where defined). Values are percentages with one decimal, except
in csv (fractions, full precision, for machines).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from evaluator.results import METRIC_LABELS, EvalResult, MetricResult

FORMATS = ("table", "markdown", "csv", "latex")


def metric_rows(metric: MetricResult, as_percent: bool = True) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of one metric's corruption x severity table plus its summary."""
    severities = sorted({s for t in (metric.corrupted, _holdout(metric)) for row in t.values() for s in row})

    def fmt(v: float | None) -> Any:
        if v is None:
            return None
        return f"{100 * v:.1f}" if as_percent else v

    columns = ["corruption", *[f"s{s}" for s in severities], "mean"]
    rows: list[list[Any]] = []
    for table, means, suffix in (
        (metric.corrupted, metric.per_corruption, ""),
        (_holdout(metric), metric.holdout.per_corruption if metric.holdout else {}, " (holdout)"),
    ):
        for name, by_sev in table.items():
            rows.append([name + suffix, *[fmt(by_sev.get(s)) for s in severities], fmt(means.get(name))])
    blanks = [None] * len(severities)
    rows.append(["clean", *blanks, fmt(metric.clean)])
    rows.append(["mPC", *blanks, fmt(metric.mPC)])
    rows.append(["rPC", *blanks, fmt(metric.rPC)])
    if metric.holdout is not None:
        rows.append(["holdout mPC", *blanks, fmt(metric.holdout.mPC)])
    if metric.mCE is not None:
        rows.append(["mCE", *blanks, fmt(metric.mCE)])
        rows.append(["relative mCE", *blanks, fmt(metric.relative_mCE)])
    return columns, rows


def _holdout(metric: MetricResult) -> dict[str, dict[int, float]]:
    return metric.holdout.corrupted if metric.holdout else {}


def title(result: EvalResult, metric: MetricResult) -> str:
    label = METRIC_LABELS.get(metric.name, metric.name)
    return f"{result.checkpoint.name} on {result.task} — {label} (%), {result.num_images} images"


def render(result: EvalResult, fmt: str) -> str:
    """The whole result as text in ``fmt`` (markdown | csv | latex)."""
    parts = []
    for metric in result.metrics.values():
        columns, rows = metric_rows(metric, as_percent=fmt != "csv")
        if fmt == "markdown":
            parts.append(_markdown(title(result, metric), columns, rows))
        elif fmt == "csv":
            parts.append(_csv(metric.name, columns, rows))
        elif fmt == "latex":
            parts.append(_latex(title(result, metric), columns, rows))
        else:
            raise ValueError(f"unknown format {fmt!r}")
    return "\n".join(parts)


def _cell(v: Any) -> str:
    return "" if v is None else str(v)


def _markdown(caption: str, columns: list[str], rows: list[list[Any]]) -> str:
    lines = [f"**{caption}**", "", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv(metric: str, columns: list[str], rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["metric", *columns])
    for row in rows:
        writer.writerow([metric, *(_cell(c) for c in row)])
    return buf.getvalue()


def _latex_escape(text: str) -> str:
    return text.replace("\\", r"\textbackslash{}").replace("_", r"\_").replace("%", r"\%").replace("&", r"\&")


def _latex(caption: str, columns: list[str], rows: list[list[Any]]) -> str:
    spec = "l" + "r" * (len(columns) - 1)
    lines = [
        r"\begin{table}[t]",
        r"\centering",
        rf"\caption{{{_latex_escape(caption)}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_latex_escape(c) for c in columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(_latex_escape(_cell(c)) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"

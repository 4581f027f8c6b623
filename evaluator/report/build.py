"""Compose a transfer report from results (in memory), then write it (atomically, file by file)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluator.report import figures as F
from evaluator.report.correlation import RankCorrelation, rank_correlation
from evaluator.report.identity import Identified, ReportMapping, identify
from evaluator.report.tables import MODE_LABELS, TaskTable, task_tables
from evaluator.report.upstream import (
    UPSTREAM_MEASURES,
    MeasuredImageNet,
    UpstreamMeasure,
    UpstreamMetrics,
    collect_upstream,
    robustbench_rows_by_backbone,
)
from evaluator.results import TASKS, EvalResult, atomic_write_bytes, atomic_write_text
from zoo.errors import InvalidInputError

Table = Mapping[str, Mapping[int, float]]
UPSTREAM_TASK = "imagenet-c"
REPORT_SCHEMA = "rzoo.report/1"
FIGURE_KINDS = ("transfer", "severity", "heatmap")
SIGNIFICANCE = 0.05


@dataclass(frozen=True)
class FigureFile:
    """A rendered figure: where it goes in the report folder and its PNG bytes."""

    path: str  # relative to the report folder, e.g. "figures/cifar10-c-transfer.png"
    kind: str  # "transfer" | "severity" | "heatmap"
    task: str
    title: str
    png: bytes = field(repr=False)
    width: int = F.FIGURE_SIZE_PX[0]
    height: int = F.FIGURE_SIZE_PX[1]


@dataclass(frozen=True)
class TaskSection:
    """One downstream task: its tables (primary metric first), correlations per mode, finding, figures."""

    task: str
    tables: tuple[TaskTable, ...]
    correlations: Mapping[str | None, RankCorrelation]
    sentence: str
    figures: tuple[FigureFile, ...] = ()

    @property
    def table(self) -> TaskTable:
        return self.tables[0]


@dataclass(frozen=True)
class Report:
    sections: tuple[TaskSection, ...]
    upstream: Mapping[str, UpstreamMetrics]
    measure: UpstreamMeasure
    inputs: tuple[str, ...]
    notes: tuple[str, ...] = ()
    markdown: str = field(default="", repr=False)
    html: str = field(default="", repr=False)

    @property
    def missing_upstream(self) -> dict[str, tuple[str, ...]]:
        """backbone -> the upstream metrics this report uses (ImageNet top-1 and the robustness
        measure) that nobody supplied; only backbones missing some are listed."""
        used = ("ImageNet top-1", self.measure.metric_label)
        out = {b: tuple(m for m in u.missing if m in used) for b, u in sorted(self.upstream.items())}
        return {b: m for b, m in out.items() if m}

    @property
    def missing_lines(self) -> list[str]:
        return [f"{b}: {', '.join(m)}" for b, m in self.missing_upstream.items()]

    @property
    def figures(self) -> tuple[FigureFile, ...]:
        return tuple(f for s in self.sections for f in s.figures)

    def section(self, task: str) -> TaskSection:
        return next(s for s in self.sections if s.task == task)

    def to_dict(self) -> dict[str, Any]:
        """The report's numbers as JSON-ready data (``rzoo.report/1``; an unknown mode is "unknown")."""
        return {
            "schema": REPORT_SCHEMA,
            "measure": self.measure.key,
            "inputs": list(self.inputs),
            "upstream": {
                b: {
                    "imagenet_top1": asdict(u.imagenet_top1),
                    "imagenet_c_mce": asdict(u.imagenet_c_mce),
                    "imagenet_c_accuracy": asdict(u.imagenet_c_accuracy),
                }
                for b, u in sorted(self.upstream.items())
            },
            "tasks": {
                s.task: {
                    "finding": s.sentence,
                    "tables": [
                        {
                            "metric": t.metric,
                            "rows": [
                                {
                                    "backbone": r.backbone,
                                    "mode": r.mode or "unknown",
                                    "checkpoint": r.checkpoint,
                                    "clean": r.clean,
                                    "mPC": r.mPC,
                                    "rPC": r.rPC,
                                }
                                for r in t.rows
                            ],
                        }
                        for t in s.tables
                    ],
                    "correlations": {
                        (mode or "unknown"): {k: v for k, v in asdict(c).items() if k != "labels"}
                        | {"backbones": list(c.labels)}
                        for mode, c in s.correlations.items()
                    },
                    "figures": [f.path for f in s.figures],
                }
                for s in self.sections
            },
            "missing_upstream": {b: list(m) for b, m in self.missing_upstream.items()},
            "notes": list(self.notes),
        }

    def write(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write report.md, report.html, report.json and figures/*.png under ``out_dir``.

        Each file lands atomically; figures a previous report left for tasks no longer present
        (rzoo's own ``figures/<task>-<kind>.png`` names only) are removed so the folder stays consistent.
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise InvalidInputError(f"output folder {out} exists and is not a folder")
        for fig in self.figures:
            atomic_write_bytes(out / fig.path, fig.png)
        current = {out / f.path for f in self.figures}
        for task in TASKS:
            for kind in FIGURE_KINDS:
                stale = out / "figures" / f"{task}-{kind}.png"
                if stale not in current:
                    stale.unlink(missing_ok=True)
        atomic_write_text(
            out / "report.json", json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        )
        atomic_write_text(out / "report.md", self.markdown)
        atomic_write_text(out / "report.html", self.html)
        return out


def build_report(
    results: Sequence[EvalResult],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    upstream: Mapping[str, UpstreamMetrics] | None = None,
    robustbench: Mapping[str, Table] | None = None,
    mapping: ReportMapping | None = None,
    measure: str = "mce",
    use_zoo: bool = True,
    with_figures: bool = True,
    inputs: Sequence[str] | None = None,
) -> Report:
    """Answer "does ImageNet robustness transfer?" for ``results``; write it to ``out_dir`` if given.

    ``imagenet-c`` results are upstream measurements of their backbone; every other task is a
    downstream table. ``upstream`` (backbone -> :class:`UpstreamMetrics`) overrides what would be
    collected from the measurements, ``robustbench`` (model -> table, see
    :func:`evaluator.robustbench.read_unaggregated_results`) and the zoo. ``inputs`` names the
    results (file paths) for the report's header and messages. Everything is validated and rendered
    in memory before anything is written.
    """
    if measure not in UPSTREAM_MEASURES:
        raise InvalidInputError(f"unknown upstream measure {measure!r}; use {' or '.join(UPSTREAM_MEASURES)}")
    how = UPSTREAM_MEASURES[measure]
    names = list(inputs) if inputs is not None else [r.checkpoint.name for r in results]
    if len(names) != len(results):
        raise ValueError("inputs must name every result")
    if not results:
        raise InvalidInputError("no results to report on")
    for name, result in zip(names, results, strict=True):
        if result.task not in TASKS:
            raise InvalidInputError(f"{name}: unknown task {result.task!r} (one of {', '.join(TASKS)})")

    identified = [(r, identify(r, mapping)) for r in results]
    measured = _measured_imagenet(identified, names)
    downstream = [(r, i) for r, i in identified if r.task != UPSTREAM_TASK]
    tables = task_tables(downstream)
    backbones = sorted({i.backbone for _, i in identified})
    rb_names = mapping.robustbench if mapping else {}
    collected = collect_upstream(
        backbones, measured=measured, robustbench=robustbench, robustbench_names=rb_names, use_zoo=use_zoo
    )
    collected.update({b: u for b, u in (upstream or {}).items() if b in collected})

    palette = F.backbone_palette(backbones)  # a backbone keeps its colour across tasks
    sections = []
    for task, task_tabs in tables.items():
        correlations = correlate(task_tabs[0], collected, how)
        section = TaskSection(task, tuple(task_tabs), correlations, finding(task, correlations, how))
        if with_figures:
            section = _with_figures(section, collected, measure, palette)
        sections.append(section)

    notes = [
        f"{r.task} result of checkpoint {r.checkpoint.name!r}: no base_model / transfer_mode recorded; "
        f"taken as backbone {i.backbone} with the transfer mode unknown (set them with a mapping file or --assign)"
        for r, i in downstream
        if i.how == "assumed"
    ]
    if robustbench:
        rows_used = robustbench_rows_by_backbone(robustbench, rb_names)
        used = {row for backbone, (row, _) in rows_used.items() if backbone in backbones}
        unused = [row for row in robustbench if row not in used]
        if unused:
            notes.append(f"RobustBench rows matching no backbone in these results: {', '.join(unused)}")

    from evaluator.report.render import render_html, render_markdown

    draft = Report(tuple(sections), collected, how, tuple(names), tuple(notes))
    report = Report(
        draft.sections,
        draft.upstream,
        how,
        draft.inputs,
        draft.notes,
        render_markdown(draft),
        render_html(draft),
    )
    if out_dir is not None:
        report.write(out_dir)
    return report


def correlate(
    table: TaskTable, upstream: Mapping[str, UpstreamMetrics], how: UpstreamMeasure
) -> dict[str | None, RankCorrelation]:
    """Per transfer mode: rank correlation of upstream robustness and downstream rPC over the backbones."""
    out: dict[str | None, RankCorrelation] = {}
    for mode in table.modes:
        pairs = [
            (how.of(upstream[r.backbone]).value, r.rPC, r.backbone)
            for r in table.rows
            if r.mode == mode and r.rPC is not None and how.of(upstream[r.backbone]).value is not None
        ]
        out[mode] = rank_correlation([p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs])
    return out


def finding(task: str, correlations: Mapping[str | None, RankCorrelation], how: UpstreamMeasure) -> str:
    """The one-sentence answer for a task, one clause per transfer mode."""
    clauses = []
    for mode, corr in correlations.items():
        clause = f"{MODE_LABELS[mode]}: {corr.describe()}"
        verdict = _verdict(corr, how)
        clauses.append(f"{clause} — {verdict}" if verdict else clause)
    return (
        f"On {F.task_label(task)}, the rank correlation between {how.label.removesuffix(' (%)')} "
        f"and downstream rPC is, for {'; for '.join(clauses)}."
    )


def _verdict(corr: RankCorrelation, how: UpstreamMeasure) -> str:
    if not corr.defined:
        return ""
    if corr.spearman_p >= SIGNIFICANCE:
        return f"no significant rank correlation at the {SIGNIFICANCE:.0%} level"
    transfers = (corr.spearman < 0) if how.better == "lower" else (corr.spearman > 0)
    return "ImageNet robustness transfers" if transfers else "ImageNet robustness ranks in reverse downstream"


def _measured_imagenet(
    identified: Sequence[tuple[EvalResult, Identified]], names: Sequence[str]
) -> dict[str, MeasuredImageNet]:
    measured: dict[str, MeasuredImageNet] = {}
    origin: dict[str, str] = {}
    for (result, ident), name in zip(identified, names, strict=True):
        if result.task != UPSTREAM_TASK:
            continue
        if "top1" not in result.metrics:
            raise InvalidInputError(f"{name}: an imagenet-c result without top1")
        if ident.backbone in measured:
            raise InvalidInputError(
                f"two imagenet-c results for backbone {ident.backbone}: {origin[ident.backbone]} and {name}"
            )
        metric = result.metrics["top1"]
        measured[ident.backbone] = MeasuredImageNet(metric.clean, metric.corrupted)
        origin[ident.backbone] = name
    return measured


def _with_figures(
    section: TaskSection, upstream: Mapping[str, UpstreamMetrics], measure: str, palette: Mapping
) -> TaskSection:
    table = section.table
    task = F.task_label(section.task)
    specs = (
        (
            "transfer",
            f"{task}: upstream robustness vs downstream rPC",
            lambda: F.transfer_scatter(table, upstream, measure, palette),
        ),
        (
            "severity",
            f"{task}: performance vs corruption severity",
            lambda: F.severity_curves(table, palette),
        ),
        ("heatmap", f"{task}: relative performance per corruption", lambda: F.corruption_heatmap(table)),
    )
    figs = tuple(
        FigureFile(f"figures/{section.task}-{kind}.png", kind, section.task, title, F.png_bytes(draw()))
        for kind, title, draw in specs
    )
    return TaskSection(section.task, section.tables, section.correlations, section.sentence, figs)

"""Transfer report: does ImageNet robustness transfer to downstream tasks?

From any set of rzoo results (``rzoo.results/1`` files) this builds the tables of Otani & Yamada
(CVPR 2022) — per downstream task, backbone x transfer mode (fixed-feature / full fine-tuning) ->
clean, mPC, rPC, next to the backbone's ImageNet top-1 and ImageNet-C mCE — the figures, and the
rank correlation between upstream and downstream robustness, stated in one sentence per task.

Public API (also what the leaderboard server embeds)::

    from evaluator.report import build_report, load_results
    report = build_report(load_results(paths), "report/",       # out_dir optional: None = in memory
                          robustbench=read_unaggregated_results("unaggregated_results.csv"),
                          mapping=load_mapping("mapping.json"), measure="mce")
    report.markdown, report.html                  # the rendered documents
    report.sections[0].table.get("resnet50.tv_in1k", "full").rPC
    report.sections[0].correlations["full"].spearman          # RankCorrelation (n, p-values)
    report.missing_upstream                        # {backbone: ("ImageNet-C mCE", ...)}
    report.to_dict()                               # the numbers as JSON-ready data (report.json)
    for fig in report.figures: fig.path, fig.png   # "figures/coco-c-transfer.png", PNG bytes

    # single figures, as matplotlib Figures (960 x 720 px at 100 dpi), then PNG bytes:
    from evaluator.report import transfer_scatter, severity_curves, corruption_heatmap, png_bytes
    png = png_bytes(transfer_scatter(report.section("coco-c").table, report.upstream))
    # a shared backbone_palette(names) keeps each backbone's colour the same across figures

Where the numbers come from:

- backbone and transfer mode of a result: :mod:`evaluator.report.identity` (a mapping file or
  ``--assign``, else the checkpoint identity's ``base_model`` / ``transfer_mode``, else the checkpoint
  itself with the mode unknown — listed in the report's notes);
- upstream ImageNet numbers: :mod:`evaluator.report.upstream` (an ``imagenet-c`` result among the
  inputs, else a RobustBench ``unaggregated_results.csv`` row, else the zoo's reference numbers; each
  labelled with its source; missing ones are listed, never filled in).

The output folder holds ``report.json``, ``report.md``, ``report.html`` (self-contained: inline CSS, escaped text,
figures as relative ``figures/*.png`` paths) and the PNGs; nothing is written until every input is
validated and everything is rendered.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from evaluator.report.build import FigureFile, Report, TaskSection, build_report, correlate, finding
from evaluator.report.correlation import RankCorrelation, rank_correlation
from evaluator.report.figures import (
    FIGURE_DPI,
    FIGURE_SIZE_PX,
    backbone_palette,
    corruption_heatmap,
    png_bytes,
    severity_curves,
    transfer_scatter,
)
from evaluator.report.identity import Assignment, ReportMapping, identify, load_mapping, parse_assignment
from evaluator.report.tables import TaskTable, TransferRow, task_tables
from evaluator.report.upstream import UPSTREAM_MEASURES, Sourced, UpstreamMetrics, collect_upstream
from evaluator.results import EvalResult
from zoo.errors import InvalidInputError


def expand_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Results files from paths: a folder contributes its ``*.json`` (sorted); an empty folder is an error."""
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(p.glob("*.json"))
            if not found:
                raise InvalidInputError(f"no *.json results files in folder {p}")
            files += found
        else:
            files.append(p)
    return files


def load_results(paths: Iterable[str | Path]) -> list[EvalResult]:
    """Load results files (see :func:`expand_paths`); an error names the offending file."""
    out = []
    for f in expand_paths(paths):
        try:
            out.append(EvalResult.load(f))
        except InvalidInputError as err:
            message = str(err)
            raise InvalidInputError(message if str(f) in message else f"{f}: {message}") from err
    return out


__all__ = [
    "FIGURE_DPI",
    "FIGURE_SIZE_PX",
    "UPSTREAM_MEASURES",
    "Assignment",
    "FigureFile",
    "RankCorrelation",
    "Report",
    "ReportMapping",
    "Sourced",
    "TaskSection",
    "TaskTable",
    "TransferRow",
    "UpstreamMetrics",
    "backbone_palette",
    "build_report",
    "collect_upstream",
    "correlate",
    "corruption_heatmap",
    "expand_paths",
    "finding",
    "identify",
    "load_mapping",
    "load_results",
    "parse_assignment",
    "png_bytes",
    "rank_correlation",
    "severity_curves",
    "task_tables",
    "transfer_scatter",
]

"""The report's figures, drawn headless with matplotlib's object API (no pyplot, no global state).

Every function returns a :class:`matplotlib.figure.Figure` of :data:`FIGURE_SIZE_PX` pixels at
:data:`FIGURE_DPI`; :func:`png_bytes` renders one to PNG (Agg). Safe to call from a web server's
worker threads: nothing touches pyplot's figure manager or the global backend.

- :func:`transfer_scatter` — upstream robustness (ImageNet-C mCE or accuracy) against downstream rPC,
  one labelled point per backbone and transfer mode: the paper's central picture.
- :func:`severity_curves` — performance at severity 0 (clean) to 5, absolute and relative to clean,
  one line per backbone and mode.
- :func:`corruption_heatmap` — corruption x (backbone, mode) grid of P_c / P_clean.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from evaluator.protocol import ALL_CORRUPTIONS
from evaluator.report.tables import MODE_LABELS, TaskTable
from evaluator.report.upstream import UPSTREAM_MEASURES, UpstreamMetrics
from evaluator.results import METRIC_LABELS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_DPI = 100
FIGURE_SIZE_PX = (960, 720)
TASK_LABELS = {
    "cifar10-c": "CIFAR-10-C",
    "imagenet-c": "ImageNet-C",
    "coco-c": "COCO-C",
    "ade20k-c": "ADE20K-C",
}
Color = tuple[float, ...]
_MODE_MARKERS = {"fixed": "o", "full": "s", None: "^"}
_MODE_LINES = {"fixed": "--", "full": "-", None: ":"}


def task_label(task: str) -> str:
    return TASK_LABELS.get(task, task)


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def transfer_scatter(
    table: TaskTable,
    upstream: Mapping[str, UpstreamMetrics],
    measure: str = "mce",
    palette: Mapping[str, Color] | None = None,
) -> Figure:
    """Upstream robustness (x) against downstream rPC (y), one labelled point per backbone and mode.

    Backbones without the upstream number are left out (the report lists them); when nothing can be
    drawn the axes say so instead of being blank.
    """
    how = UPSTREAM_MEASURES[measure]
    fig, ax = _figure()
    colors = palette or backbone_palette(table.backbones)
    drawn = 0
    legend = []
    for mode in table.modes:
        xs, ys, names = [], [], []
        for row in table.rows:
            up = upstream.get(row.backbone)
            x = how.of(up).value if up is not None else None
            if row.mode != mode or x is None or row.rPC is None:
                continue
            xs.append(100 * x)
            ys.append(100 * row.rPC)
            names.append(row.backbone)
        if not xs:
            continue
        ax.scatter(
            xs,
            ys,
            marker=_MODE_MARKERS[mode],
            c=[colors[n] for n in names],
            s=64,
            edgecolors="black",
            linewidths=0.6,
            zorder=3,
        )
        for x, y, name in zip(xs, ys, names, strict=True):
            ax.annotate(name, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8)
        drawn += len(xs)
        legend.append(_mode_handle(mode))
    if drawn:
        ax.margins(x=0.2, y=0.1)  # room for the point labels
        ax.legend(handles=legend, title="transfer", loc="best", fontsize=9)
    else:
        ax.text(
            0.5,
            0.5,
            f"no backbone has both {how.label.removesuffix(' (%)')} and a {task_label(table.task)} rPC",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    ax.set_xlabel(f"{how.label} — {how.better} is more robust")
    ax.set_ylabel(f"{task_label(table.task)} rPC of {metric_label(table.metric)} (%)")
    ax.set_title(f"Does ImageNet robustness transfer to {task_label(table.task)}?")
    ax.grid(True, alpha=0.3)
    return fig


def severity_curves(table: TaskTable, palette: Mapping[str, Color] | None = None) -> Figure:
    """Performance against severity (0 = clean), one line per backbone and mode, in two panels.

    Left: the mean over the corruptions at each severity, in percent. Right: the same divided by
    the clean performance (1 at severity 0), which separates robustness from clean accuracy.
    """
    fig = _figure_only()
    absolute, relative = fig.subplots(1, 2)
    colors = palette or backbone_palette(table.backbones)
    for row in table.rows:
        points = ([(0, row.clean)] if row.clean is not None else []) + sorted(row.by_severity.items())
        style = {
            "linestyle": _MODE_LINES[row.mode],
            "marker": _MODE_MARKERS[row.mode],
            "color": colors[row.backbone],
            "label": row.label,
        }
        if points:
            absolute.plot([s for s, _ in points], [100 * v for _, v in points], **style)
        if points and row.clean:
            relative.plot([s for s, _ in points], [v / row.clean for _, v in points], **style)
    for ax in (absolute, relative):
        ax.set_xticks(range(6))
        ax.set_xlabel("corruption severity (0 = clean)")
        ax.grid(True, alpha=0.3)
    absolute.set_ylabel(f"{metric_label(table.metric)} (%), mean over corruptions")
    absolute.set_title("performance")
    relative.set_ylabel("relative to clean (P_s / P_clean)")
    relative.set_title("robustness")
    if table.rows:
        relative.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{task_label(table.task)}: {metric_label(table.metric)} vs corruption severity")
    return fig


def corruption_heatmap(table: TaskTable) -> Figure:
    """Relative performance P_c / P_clean per corruption (rows) and backbone/mode (columns)."""
    import numpy as np

    fig, ax = _figure()
    columns = [r for r in table.rows if r.relative_per_corruption]
    present = {c for r in columns for c in r.per_corruption}
    corruptions = [c for c in ALL_CORRUPTIONS if c in present] + sorted(present - set(ALL_CORRUPTIONS))
    grid = np.full((len(corruptions), len(columns)), np.nan)
    for j, row in enumerate(columns):
        rel = row.relative_per_corruption
        for i, c in enumerate(corruptions):
            grid[i, j] = rel.get(c, math.nan)
    if columns and corruptions:
        image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0.0, vmax=max(1.0, np.nanmax(grid)))
        colorbar = fig.colorbar(image, ax=ax)
        colorbar.set_label("P_c / P_clean")
        if grid.size <= 15 * 12:
            for (i, j), value in np.ndenumerate(grid):
                if not math.isnan(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color=_ink(value))
    ax.set_xticks(range(len(columns)), [r.label for r in columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(corruptions)), corruptions, fontsize=8)
    ax.set_xlabel("backbone (transfer mode)")
    ax.set_ylabel("corruption")
    ax.set_title(f"{task_label(table.task)}: relative {metric_label(table.metric)} per corruption")
    return fig


def png_bytes(fig: Figure) -> bytes:
    """Render ``fig`` to PNG bytes at :data:`FIGURE_DPI` (exactly :data:`FIGURE_SIZE_PX` pixels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=FIGURE_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _figure_only():
    from matplotlib.figure import Figure

    return Figure(
        figsize=(FIGURE_SIZE_PX[0] / FIGURE_DPI, FIGURE_SIZE_PX[1] / FIGURE_DPI),
        dpi=FIGURE_DPI,
        layout="constrained",
    )


def _figure():
    fig = _figure_only()
    return fig, fig.add_subplot()


def _mode_handle(mode: str | None):
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        marker=_MODE_MARKERS[mode],
        linestyle="none",
        color="grey",
        markeredgecolor="black",
        markersize=8,
        label=MODE_LABELS[mode],
    )


def backbone_palette(backbones: Sequence[str]) -> dict[str, Color]:
    """One colour per backbone; pass the same palette to every figure to keep a backbone's colour."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(backbones) <= 10 else "tab20"]
    return {b: cmap(i % cmap.N) for i, b in enumerate(backbones)}


def _ink(value: float) -> str:
    return "black" if value > 0.6 else "white"

"""Inline SVG charts for the submission page (pure functions; the templates render the shapes).

No JavaScript library and no network: a heatmap of corruption x severity and one severity curve
per corruption, both as plain geometry with values in ``<title>`` tooltips.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# viridis at 5 stops (matplotlib's values), interpolated linearly
_VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
    "#e6550d", "#31a354", "#756bb1",
)  # fmt: skip


def viridis(t: float) -> str:
    t = min(1.0, max(0.0, t)) * (len(_VIRIDIS) - 1)
    i = min(int(t), len(_VIRIDIS) - 2)
    f = t - i
    r, g, b = (round(a + (b - a) * f) for a, b in zip(_VIRIDIS[i], _VIRIDIS[i + 1], strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclass(frozen=True)
class Cell:
    x: float
    y: float
    width: float
    height: float
    fill: str
    text_fill: str
    label: str
    title: str


@dataclass(frozen=True)
class Heatmap:
    width: float
    height: float
    cells: tuple[Cell, ...]
    row_labels: tuple[tuple[float, str], ...]
    col_labels: tuple[tuple[float, str], ...]


def heatmap(table: Mapping[str, Mapping[int, float]], *, cell_w: float = 56, cell_h: float = 22) -> Heatmap:
    """Rows: corruptions; columns: severities; colour scaled over the table's own range."""
    rows = list(table)
    severities = sorted({s for by in table.values() for s in by})
    values = [v for by in table.values() for v in by.values()]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    span = (hi - lo) or 1.0
    left, top = 150.0, 24.0
    cells = []
    for r, corruption in enumerate(rows):
        for c, sev in enumerate(severities):
            value = table[corruption].get(sev)
            if value is None:
                continue
            t = (value - lo) / span
            cells.append(
                Cell(
                    x=left + c * cell_w,
                    y=top + r * cell_h,
                    width=cell_w - 2,
                    height=cell_h - 2,
                    fill=viridis(t),
                    text_fill="#000" if t > 0.6 else "#fff",
                    label=f"{100 * value:.1f}",
                    title=f"{corruption}, severity {sev}: {100 * value:.2f}",
                )
            )
    return Heatmap(
        width=left + len(severities) * cell_w + 10,
        height=top + len(rows) * cell_h + 10,
        cells=tuple(cells),
        row_labels=tuple((top + r * cell_h + cell_h / 2 + 4, name) for r, name in enumerate(rows)),
        col_labels=tuple((left + c * cell_w + cell_w / 2, f"s{s}") for c, s in enumerate(severities)),
    )


@dataclass(frozen=True)
class Curve:
    name: str
    color: str
    points: str  # "x,y x,y ..." for <polyline>
    dots: tuple[tuple[float, float, str], ...]


@dataclass(frozen=True)
class CurveChart:
    width: float
    height: float
    curves: tuple[Curve, ...]
    x_ticks: tuple[tuple[float, str], ...]
    y_ticks: tuple[tuple[float, str], ...]
    clean_y: float | None
    plot: tuple[float, float, float, float]  # left, top, right, bottom


def severity_curves(
    table: Mapping[str, Mapping[int, float]], clean: float | None, *, width: float = 560, height: float = 320
) -> CurveChart:
    """One line per corruption: metric (y, percent) against severity (x); clean as a dashed line."""
    left, top, right, bottom = 50.0, 15.0, width - 160.0, height - 35.0
    severities = sorted({s for by in table.values() for s in by}) or [1]
    values = [v for by in table.values() for v in by.values()] + ([clean] if clean is not None else [])
    lo = min(values, default=0.0)
    hi = max(values, default=1.0)
    lo, hi = max(0.0, lo - 0.05), min(1.0, hi + 0.05)
    span = (hi - lo) or 1.0

    def sx(sev: int) -> float:
        if len(severities) == 1:
            return (left + right) / 2
        return left + (sev - severities[0]) / (severities[-1] - severities[0]) * (right - left)

    def sy(v: float) -> float:
        return bottom - (v - lo) / span * (bottom - top)

    curves = []
    for i, (name, by_sev) in enumerate(table.items()):
        pts = [(sx(s), sy(by_sev[s]), f"{name}, severity {s}: {100 * by_sev[s]:.2f}") for s in sorted(by_sev)]
        curves.append(
            Curve(
                name=name,
                color=PALETTE[i % len(PALETTE)],
                points=" ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts),
                dots=tuple(pts),
            )
        )
    y_ticks = tuple((sy(lo + k * span / 4), f"{100 * (lo + k * span / 4):.0f}") for k in range(5))
    return CurveChart(
        width=width,
        height=height,
        curves=tuple(curves),
        x_ticks=tuple((sx(s), str(s)) for s in severities),
        y_ticks=y_ticks,
        clean_y=None if clean is None else sy(clean),
        plot=(left, top, right, bottom),
    )

"""The robustness-vs-severity plot a card embeds (matplotlib, Agg backend, deterministic PNG).

One panel per results file; per metric a solid line of the mean over the 15 common corruptions at
each severity (severity 0 = clean) and thin dashed lines per corruption family.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from statistics import fmean

from evaluator.protocol import FAMILIES, SEVERITIES
from evaluator.results import METRIC_LABELS, EvalResult, MetricResult

PLOT_FILENAME = "robustness_vs_severity.png"


def severity_curve(metric: MetricResult, corruptions: Sequence[str] | None = None) -> list[float | None]:
    """Mean performance at severities 0..5 over ``corruptions`` (default: every common one present)."""
    names = [c for c in (corruptions or metric.corrupted) if c in metric.corrupted]
    curve: list[float | None] = [metric.clean]
    for s in SEVERITIES:
        values = [metric.corrupted[c][s] for c in names if s in metric.corrupted[c]]
        curve.append(fmean(values) if values else None)
    return curve


def plot_robustness(results: Sequence[EvalResult], path: Path) -> Path | None:
    """Write the plot to ``path``; ``None`` (and no file) when no result has a corruption table."""
    panels = [r for r in results if any(m.corrupted for m in r.metrics.values())]
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6), squeeze=False)
    for ax, result in zip(axes[0], panels, strict=True):
        for i, (name, metric) in enumerate(result.metrics.items()):
            if not metric.corrupted:
                continue
            colour = f"C{i}"
            label = METRIC_LABELS.get(name, name)
            xs, ys = _points(severity_curve(metric))
            ax.plot(xs, ys, marker="o", color=colour, linewidth=2, label=f"{label} (mean)")
            for j, (family, members) in enumerate(FAMILIES.items()):
                fxs, fys = _points(severity_curve(metric, [c for c in members if c in metric.corrupted]))
                if len(fxs) > 1:
                    style = (":", "--", "-.", (0, (1, 3)))[j % 4]
                    ax.plot(fxs, fys, linestyle=style, color=colour, alpha=0.55, linewidth=1, label=family)
        ax.set_title(result.task)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_ylabel("performance (%)")
        ax.set_xticks(range(len(SEVERITIES) + 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp or version in the metadata: the same results give the same bytes (idempotent uploads).
    fig.savefig(path, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path


def _points(curve: list[float | None]) -> tuple[list[int], list[float]]:
    pairs = [(s, 100 * v) for s, v in enumerate(curve) if v is not None]
    return [s for s, _ in pairs], [v for _, v in pairs]

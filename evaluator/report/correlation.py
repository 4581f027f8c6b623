"""Rank correlation between upstream and downstream robustness (Spearman and Kendall, scipy.stats)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

MIN_PAIRS = 3


@dataclass(frozen=True)
class RankCorrelation:
    """Spearman's rho and Kendall's tau with their two-sided p-values over ``n`` (x, y) pairs.

    Coefficients are None when ``n < MIN_PAIRS`` ("not enough data") or when one side is constant
    (ranks are undefined).
    """

    n: int
    spearman: float | None = None
    spearman_p: float | None = None
    kendall: float | None = None
    kendall_p: float | None = None
    labels: tuple[str, ...] = ()

    @property
    def enough_data(self) -> bool:
        return self.n >= MIN_PAIRS

    @property
    def defined(self) -> bool:
        return self.spearman is not None

    def describe(self) -> str:
        """'Spearman ρ = -0.80 (p = 0.200), Kendall τ = -0.67 (p = 0.333), n = 4' or why not."""
        if not self.enough_data:
            return f"not enough data (n = {self.n}; at least {MIN_PAIRS} backbones needed)"
        if not self.defined:
            return f"undefined (n = {self.n}; one side has identical values for every backbone)"
        return (
            f"Spearman ρ = {self.spearman:+.2f} ({format_p(self.spearman_p)}), "
            f"Kendall τ = {self.kendall:+.2f} ({format_p(self.kendall_p)}), n = {self.n}"
        )


def format_p(p: float) -> str:
    """'p = 0.042', or 'p < 0.001' for smaller values (scipy returns exactly 0 for a perfect rho)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def rank_correlation(x: Sequence[float], y: Sequence[float], labels: Sequence[str] = ()) -> RankCorrelation:
    """Spearman and Kendall rank correlation of paired samples (scipy.stats, two-sided p-values)."""
    if len(x) != len(y):
        raise ValueError("x and y must pair up")
    n = len(x)
    if n < MIN_PAIRS or len(set(x)) < 2 or len(set(y)) < 2:
        return RankCorrelation(n=n, labels=tuple(labels))
    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spearman = stats.spearmanr(x, y)
        kendall = stats.kendalltau(x, y)
    values = (spearman.statistic, spearman.pvalue, kendall.statistic, kendall.pvalue)
    if any(not math.isfinite(v) for v in values):
        return RankCorrelation(n=n, labels=tuple(labels))
    return RankCorrelation(n, *(float(v) for v in values), labels=tuple(labels))

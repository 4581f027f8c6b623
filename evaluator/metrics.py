"""Robustness metrics as pure functions over corruption x severity tables.

Conventions: every performance value is a fraction in [0, 1] (top-1 accuracy, AP, mIoU); tables are
``{corruption: {severity: value}}``; errors are ``1 - accuracy``; mCE and relative mCE are ratios
(0.767 prints as 76.7 %).

- Detection / segmentation (Michaelis et al. 2019): mPC = mean over corruptions and severities 1..5
  of P_{c,s}; rPC = mPC / P_clean.
- Classification (Hendrycks & Dietterich 2019): CE_c = sum_s E_{c,s} / sum_s E^AlexNet_{c,s};
  mCE = mean_c CE_c; relative CE_c = sum_s (E_{c,s} - E_clean) / sum_s (E^AlexNet_{c,s} - E^AlexNet_clean).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from statistics import fmean

from evaluator.baselines import ALEXNET_CLEAN_ERROR, ALEXNET_MEAN_ERRORS

Table = Mapping[str, Mapping[int, float]]
SEVERITIES = (1, 2, 3, 4, 5)


def per_corruption_mean(table: Table) -> dict[str, float]:
    """Mean over the severities present, per corruption."""
    return {c: fmean(by_sev.values()) for c, by_sev in table.items() if by_sev}


def mean_corruption_performance(table: Table, corruptions: Iterable[str] | None = None) -> float:
    """mPC: the mean of P_{c,s} over the given corruptions (default: all in the table) and severities."""
    names = list(table) if corruptions is None else list(corruptions)
    values = [v for c in names for v in table[c].values()]
    if not values:
        raise ValueError("mPC of an empty table")
    return fmean(values)


def relative_performance_under_corruption(mpc: float, clean: float) -> float | None:
    """rPC = mPC / P_clean (None when the clean performance is 0)."""
    return None if clean == 0 else mpc / clean


def corruption_error(
    accuracies: Mapping[int, float], baseline_mean_error: float, severities: Iterable[int] = SEVERITIES
) -> float:
    """CE_c = sum_s E_{c,s} / sum_s E^base_{c,s}.

    The published AlexNet baseline is a mean over the five severities, so CE is only defined when all
    five were evaluated; the sum over severities of the baseline is ``5 * baseline_mean_error``.
    """
    sevs = tuple(severities)
    _require_all_severities(accuracies, sevs)
    return sum(1.0 - accuracies[s] for s in sevs) / (len(sevs) * baseline_mean_error)


def relative_corruption_error(
    accuracies: Mapping[int, float],
    clean_accuracy: float,
    baseline_mean_error: float,
    baseline_clean_error: float,
    severities: Iterable[int] = SEVERITIES,
) -> float:
    """Relative CE_c = sum_s (E_{c,s} - E_clean) / sum_s (E^base_{c,s} - E^base_clean)."""
    sevs = tuple(severities)
    _require_all_severities(accuracies, sevs)
    clean_error = 1.0 - clean_accuracy
    numerator = sum((1.0 - accuracies[s]) - clean_error for s in sevs)
    return numerator / (len(sevs) * (baseline_mean_error - baseline_clean_error))


def mean_corruption_error(table: Table, baseline: Mapping[str, float] = ALEXNET_MEAN_ERRORS) -> float | None:
    """mCE over the baseline's corruptions; None when any of them (or a severity) is missing."""
    if not _covers(table, baseline):
        return None
    return fmean(corruption_error(table[c], baseline[c]) for c in baseline)


def relative_mean_corruption_error(
    table: Table,
    clean_accuracy: float,
    baseline: Mapping[str, float] = ALEXNET_MEAN_ERRORS,
    baseline_clean_error: float = ALEXNET_CLEAN_ERROR,
) -> float | None:
    """Relative mCE over the baseline's corruptions; None when the table does not cover them."""
    if not _covers(table, baseline):
        return None
    return fmean(
        relative_corruption_error(table[c], clean_accuracy, baseline[c], baseline_clean_error)
        for c in baseline
    )


def _covers(table: Table, baseline: Mapping[str, float]) -> bool:
    return all(c in table and all(s in table[c] for s in SEVERITIES) for c in baseline)


def _require_all_severities(accuracies: Mapping[int, float], severities: tuple[int, ...]) -> None:
    missing = [s for s in severities if s not in accuracies]
    if missing:
        raise ValueError(f"corruption error needs every severity; missing {missing}")

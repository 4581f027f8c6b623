"""Robustness metrics against hand-computed values."""

from __future__ import annotations

import math

import pytest

from evaluator import metrics as M
from evaluator.baselines import ALEXNET_CLEAN_ERROR, ALEXNET_MEAN_ERRORS
from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES


def test_mpc_and_rpc_by_hand() -> None:
    table = {"fog": {1: 0.5, 2: 0.3}, "snow": {1: 0.4, 2: 0.2}}
    assert M.mean_corruption_performance(table) == pytest.approx(0.35)
    assert M.mean_corruption_performance(table, ["fog"]) == pytest.approx(0.4)
    assert M.relative_performance_under_corruption(0.35, 0.7) == pytest.approx(0.5)
    assert M.relative_performance_under_corruption(0.35, 0.0) is None
    assert M.per_corruption_mean(table) == {"fog": pytest.approx(0.4), "snow": pytest.approx(0.3)}


def test_corruption_error_matches_hendrycks_definition() -> None:
    acc = {1: 0.9, 2: 0.8, 3: 0.7, 4: 0.6, 5: 0.5}  # errors .1 .2 .3 .4 .5, sum 1.5
    assert M.corruption_error(acc, 0.5) == pytest.approx(1.5 / 2.5)
    # relative: sum(E - E_clean) = 1.5 - 5 * 0.05 = 1.25; baseline 5 * (0.5 - 0.25) = 1.25
    assert M.relative_corruption_error(acc, 0.95, 0.5, 0.25) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="every severity"):
        M.corruption_error({1: 0.9}, 0.5)


def test_alexnet_scores_100_percent_mce_against_itself() -> None:
    table = {c: dict.fromkeys(SEVERITIES, 1 - e) for c, e in ALEXNET_MEAN_ERRORS.items()}
    assert M.mean_corruption_error(table) == pytest.approx(1.0)
    rel = M.relative_mean_corruption_error(table, 1 - ALEXNET_CLEAN_ERROR)
    assert rel == pytest.approx(1.0)


def test_mce_undefined_when_table_incomplete() -> None:
    table = {c: dict.fromkeys(SEVERITIES, 0.5) for c in COMMON_CORRUPTIONS[:-1]}
    assert M.mean_corruption_error(table) is None
    table[COMMON_CORRUPTIONS[-1]] = {1: 0.5}
    assert M.mean_corruption_error(table) is None


def test_mce_by_hand_uniform_accuracy() -> None:
    table = {c: dict.fromkeys(SEVERITIES, 0.6) for c in COMMON_CORRUPTIONS}
    expected = sum(0.4 / e for e in ALEXNET_MEAN_ERRORS.values()) / 15
    assert math.isclose(M.mean_corruption_error(table), expected, rel_tol=1e-12)

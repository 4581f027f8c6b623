"""The results schema: aggregation, JSON round trip, and refusal of malformed files."""

from __future__ import annotations

import json

import pytest

from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity, EvalResult, summarize_metric
from zoo.errors import InvalidInputError


def _result(with_mce: bool = True) -> EvalResult:
    table = {c: {s: 0.8 - 0.1 * s for s in SEVERITIES} for c in COMMON_CORRUPTIONS}
    table["saturate"] = {1: 0.7, 2: 0.5}
    metric = summarize_metric("top1", 0.8, table, with_mce=with_mce)
    return EvalResult(
        task="imagenet-c",
        checkpoint=CheckpointIdentity(name="resnet50.tv_in1k", sha256="ab" * 32),
        primary_metric="top1",
        metrics={"top1": metric},
        num_images=10,
    )


def test_summary_splits_holdout_and_aggregates() -> None:
    metric = _result().primary
    assert "saturate" not in metric.corrupted
    assert metric.mPC == pytest.approx(0.5)  # mean of 0.7 .. 0.3
    assert metric.rPC == pytest.approx(0.5 / 0.8)
    assert metric.holdout is not None
    assert metric.holdout.mPC == pytest.approx(0.6)
    assert metric.mCE is not None and metric.relative_mCE is not None


def test_no_mce_unless_asked() -> None:
    assert _result(with_mce=False).primary.mCE is None


def test_json_round_trip(tmp_path) -> None:
    result = _result()
    path = result.save(tmp_path / "r.json")
    data = json.loads(path.read_text())
    assert data["metrics"]["top1"]["corrupted"]["fog"]["3"] == pytest.approx(0.5)
    assert EvalResult.load(path) == result


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.update(schema="other/9"), "not an rzoo results file"),
        (lambda d: d["metrics"]["top1"].update(clean="0.9"), "malformed"),
        (lambda d: d.pop("task"), "malformed"),
    ],
)
def test_malformed_results_are_refused(tmp_path, mutate, message) -> None:
    data = _result().to_dict()
    mutate(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match=message):
        EvalResult.load(path)

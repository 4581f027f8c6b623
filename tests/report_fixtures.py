"""Result sets with known structure for the transfer-report tests.

A downstream result of backbone b in mode m has clean performance ``clean`` and, at every common
corruption c and severity s, ``clean * (1 - k * s)`` with a per-corruption wiggle that averages to 0,
so mPC = clean * (1 - 3k) and rPC = 1 - 3k exactly.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity, EvalResult, summarize_metric
from zoo import DataConfig, HubLocation, Provenance, ReferenceMetrics, Weights, register
from zoo._registry import unregister

PRIMARY = {"cifar10-c": "top1", "coco-c": "box_ap", "ade20k-c": "miou", "imagenet-c": "top1"}

# test backbones registered in the zoo for the duration of a test (name -> (top-1, mCE))
ZOO_TEST_BACKBONES = {
    "resnet50.rtest_a_in1k": (0.76, 0.77),
    "resnet50.rtest_b_in1k": (0.77, 0.65),
    "resnet50.rtest_c_in1k": (0.75, 0.60),
    "resnet50.rtest_d_in1k": (0.74, 0.54),
    "resnet50.rtest_nomce_in1k": (0.80, None),
}


def wiggle(i: int) -> float:
    """Per-corruption offsets summing to zero over the 15 corruptions (pairs +-0.01, the last 0)."""
    return 0.0 if i == len(COMMON_CORRUPTIONS) - 1 else (0.01 if i % 2 == 0 else -0.01)


def table(clean: float, k: float) -> dict[str, dict[int, float]]:
    return {
        c: {s: clean * (1 - k * s) + clean * wiggle(i) for s in SEVERITIES}
        for i, c in enumerate(COMMON_CORRUPTIONS)
    }


def make_result(
    task: str,
    checkpoint: str,
    clean: float,
    k: float,
    *,
    base_model: str | None = None,
    mode: str | None = None,
    extra_metric: str | None = None,
) -> EvalResult:
    primary = PRIMARY[task]
    metrics = {primary: summarize_metric(primary, clean, table(clean, k), with_mce=task == "imagenet-c")}
    if extra_metric:
        metrics[extra_metric] = summarize_metric(extra_metric, clean / 2, table(clean / 2, k))
    return EvalResult(
        task=task,
        checkpoint=CheckpointIdentity(
            name=checkpoint, architecture="resnet50", base_model=base_model, transfer_mode=mode
        ),
        primary_metric=primary,
        metrics=metrics,
        num_images=100,
    )


def downstream(task: str, backbone: str, mode: str, clean: float, k: float, **kw) -> EvalResult:
    return make_result(task, f"{backbone}-{task}-{mode}", clean, k, base_model=backbone, mode=mode, **kw)


def zoo_entry(name: str, top1: float | None, mce: float | None) -> Weights:
    arch = name.split(".", 1)[0]
    return Weights(
        name=name,
        architecture=arch,
        recipe="test entry",
        hub=HubLocation(repo_id=f"test/{name}"),
        provenance=Provenance(
            paper="test", paper_url="https://example.org", bibtex="", license="mit", project_url=""
        ),
        num_params=1,
        metrics=ReferenceMetrics(imagenet_top1=top1, imagenet_c_mce=mce, source="test"),
        data_config=DataConfig(),
    )


@pytest.fixture
def zoo_test_backbones() -> Iterator[None]:
    """ZOO_TEST_BACKBONES registered in the zoo for one test (use with ``pytest.mark.usefixtures``)."""
    for name, (top1, mce) in ZOO_TEST_BACKBONES.items():
        register(zoo_entry(name, top1, mce))
    yield
    for name in ZOO_TEST_BACKBONES:
        unregister(name)


def write_robustbench_csv(path, rows: dict[str, float], order=COMMON_CORRUPTIONS) -> None:
    """RobustBench's layout: corruption header row, severity header row, one row per model."""
    columns = [(c, s) for c in order for s in SEVERITIES]
    lines = ["," + ",".join(c for c, _ in columns), "," + ",".join(str(s) for _, s in columns)]
    for model, base in rows.items():
        values = [base - 0.05 * s + 0.001 * i for i, (_, s) in enumerate(columns)]
        lines.append(model + "," + ",".join(repr(v) for v in values))
    path.write_text("\n".join(lines) + "\n")

"""rzoo results <-> the ``model-index`` block of a model card (huggingface_hub ``EvalResult``).

Each results file (one task: cifar10-c, imagenet-c, coco-c or ade20k-c) becomes one model-index entry
per metric family, holding the clean score and every corruption aggregate that is defined: mPC, rPC,
mCE and relative mCE (ImageNet-C only), and the holdout mPC / rPC. Values are fractions in [0, 1]
exactly as in the results file (mCE as a ratio), so a card parsed back compares equal to its results.

``metric_type`` is ``<metric>`` for the clean score and ``<metric>_<aggregate>`` otherwise
(``top1``, ``top1_mPC``, ``box_ap_rPC``); the source points at the results JSON shipped in the repo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from huggingface_hub import EvalResult as HubEvalResult

from evaluator.results import METRIC_LABELS, EvalResult, MetricResult


@dataclass(frozen=True)
class TaskInfo:
    task_type: str  # the Hub's task id
    task_name: str
    dataset_name: str
    dataset_split: str
    upstream_dataset: str  # the clean dataset's Hub id, for the card's ``datasets``


TASKS: Mapping[str, TaskInfo] = {
    "cifar10-c": TaskInfo("image-classification", "Image Classification", "CIFAR-10-C", "test", "cifar10"),
    "imagenet-c": TaskInfo(
        "image-classification", "Image Classification", "ImageNet-C", "validation", "imagenet-1k"
    ),
    "coco-c": TaskInfo("object-detection", "Object Detection", "COCO-C", "val2017", "coco"),
    "ade20k-c": TaskInfo(
        "image-segmentation", "Semantic Segmentation", "ADE20K-C", "validation", "scene_parse_150"
    ),
}

AGGREGATES: tuple[tuple[str, str], ...] = (
    ("clean", "clean"),
    ("mPC", "mPC (mean under corruption)"),
    ("rPC", "rPC (mPC / clean)"),
    ("mCE", "mCE (vs AlexNet)"),
    ("relative_mCE", "relative mCE (vs AlexNet)"),
    ("holdout_mPC", "holdout mPC"),
    ("holdout_rPC", "holdout rPC"),
)

Summary = dict[str, dict[str, dict[str, float]]]  # task -> metric -> aggregate -> value


def metric_aggregates(metric: MetricResult) -> dict[str, float]:
    """The aggregates of one metric that are defined (``None`` ones are left out)."""
    values = {
        "clean": metric.clean,
        "mPC": metric.mPC,
        "rPC": metric.rPC,
        "mCE": metric.mCE,
        "relative_mCE": metric.relative_mCE,
        "holdout_mPC": None if metric.holdout is None else metric.holdout.mPC,
        "holdout_rPC": None if metric.holdout is None else metric.holdout.rPC,
    }
    return {k: float(v) for k, v in values.items() if v is not None}


def summarize_results(results: Iterable[EvalResult]) -> Summary:
    """What a card's model-index must say about these results (the reference for round trips)."""
    return {
        r.task: {name: metric_aggregates(m) for name, m in r.metrics.items() if metric_aggregates(m)}
        for r in results
    }


def source_name(result: EvalResult) -> str:
    """One line naming the code and settings that produced a result (from its manifest)."""
    m = result.manifest
    if m is None:
        return f"rzoo evaluation ({result.task}, {result.num_images} images)"
    return (
        f"rzoo {m.rzoo_version} evaluation ({result.task}, {result.num_images} images, "
        f"{m.corruption_backend} {m.corruption_params} corruptions, seed {m.seed}, {m.runtime})"
    )


def to_hub_eval_results(result: EvalResult, source_url: str) -> list[HubEvalResult]:
    """The huggingface_hub ``EvalResult`` rows for one rzoo results file."""
    info = TASKS[result.task]
    rows = []
    for metric_name, metric in result.metrics.items():
        label = METRIC_LABELS.get(metric_name, metric_name)
        aggregates = metric_aggregates(metric)
        for aggregate, aggregate_label in AGGREGATES:
            if aggregate not in aggregates:
                continue
            rows.append(
                HubEvalResult(
                    task_type=info.task_type,
                    task_name=info.task_name,
                    dataset_type=result.task,
                    dataset_name=info.dataset_name,
                    dataset_split=info.dataset_split,
                    metric_type=metric_name if aggregate == "clean" else f"{metric_name}_{aggregate}",
                    metric_name=f"{label}, {aggregate_label}",
                    metric_value=aggregates[aggregate],
                    source_name=source_name(result),
                    source_url=source_url,
                )
            )
    return rows


def summary_from_hub_eval_results(rows: Iterable[HubEvalResult]) -> Summary:
    """Parse model-index rows written by :func:`to_hub_eval_results` back into a :data:`Summary`."""
    summary: Summary = {}
    aggregates = {a for a, _ in AGGREGATES}
    for row in rows:
        if row.dataset_type not in TASKS:
            continue
        metric, aggregate = _split_metric_type(row.metric_type, aggregates)
        if metric is None:
            continue
        summary.setdefault(row.dataset_type, {}).setdefault(metric, {})[aggregate] = float(row.metric_value)
    return summary


def _split_metric_type(metric_type: str, aggregates: set[str]) -> tuple[str | None, str]:
    for metric in METRIC_LABELS:
        if metric_type == metric:
            return metric, "clean"
        prefix = f"{metric}_"
        if metric_type.startswith(prefix) and metric_type[len(prefix) :] in aggregates:
            return metric, metric_type[len(prefix) :]
    return None, ""

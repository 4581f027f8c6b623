"""Upstream (ImageNet) numbers of each backbone, each with where it came from.

Three sources, the first that has a value wins, per metric:

1. **measured by rzoo** — an ``imagenet-c`` results file among the report's inputs (clean top-1,
   mCE vs AlexNet, mean corrupted accuracy);
2. **measured by RobustBench** — a row of its ``unaggregated_results.csv`` (mean corrupted accuracy
   and mCE vs AlexNet computed from the 15 x 5 cells with :mod:`evaluator.metrics`; the file has no
   clean accuracy);
3. **the zoo** — the numbers the authors report (:class:`zoo.ReferenceMetrics`).

A metric no source has stays ``None`` and is listed as missing; nothing is interpolated or guessed.
Mean corrupted accuracy and mCE are only taken from complete 15 corruptions x 5 severities tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import fmean

from evaluator import metrics as M
from evaluator.baselines import ALEXNET_MEAN_ERRORS
from evaluator.protocol import COMMON_CORRUPTIONS, SEVERITIES
from evaluator.robustbench import ROBUSTBENCH_IMAGENET_NAMES

Table = Mapping[str, Mapping[int, float]]

SOURCE_RZOO = "measured (rzoo imagenet-c)"
SOURCE_ROBUSTBENCH = "measured (RobustBench)"
SOURCE_ZOO = "zoo (authors' number)"


@dataclass(frozen=True)
class Sourced:
    """A number and where it came from; ``value is None`` means missing (then ``source`` is None too)."""

    value: float | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if (self.value is None) != (self.source is None):
            raise ValueError("a value needs a source and a missing value has none")


MISSING = Sourced()


@dataclass(frozen=True)
class UpstreamMetrics:
    """ImageNet clean top-1, ImageNet-C mCE (ratio vs AlexNet) and ImageNet-C mean top-1 of a backbone."""

    backbone: str
    imagenet_top1: Sourced = MISSING
    imagenet_c_mce: Sourced = MISSING
    imagenet_c_accuracy: Sourced = MISSING

    @property
    def missing(self) -> tuple[str, ...]:
        """Labels of the metrics nobody supplied."""
        return tuple(
            label
            for label, value in (
                ("ImageNet top-1", self.imagenet_top1),
                ("ImageNet-C mCE", self.imagenet_c_mce),
                ("ImageNet-C accuracy", self.imagenet_c_accuracy),
            )
            if value.value is None
        )


@dataclass(frozen=True)
class MeasuredImageNet:
    """ImageNet numbers measured for one backbone (from an rzoo imagenet-c result or a RobustBench row)."""

    top1: float | None
    table: Table


def covers_benchmark(table: Table) -> bool:
    """True when ``table`` has every common corruption at every severity."""
    return all(c in table and all(s in table[c] for s in SEVERITIES) for c in COMMON_CORRUPTIONS)


def corrupted_accuracy(table: Table) -> float | None:
    """Mean top-1 over the 15 x 5 benchmark cells (RobustBench's "corruptions_acc"); None if incomplete."""
    if not covers_benchmark(table):
        return None
    return fmean(table[c][s] for c in COMMON_CORRUPTIONS for s in SEVERITIES)


def collect_upstream(
    backbones: Iterable[str],
    *,
    measured: Mapping[str, MeasuredImageNet] | None = None,
    robustbench: Mapping[str, Table] | None = None,
    robustbench_names: Mapping[str, str] | None = None,
    use_zoo: bool = True,
) -> dict[str, UpstreamMetrics]:
    """Upstream metrics for each backbone, by the precedence in the module docstring.

    ``measured`` maps backbone -> rzoo ImageNet-C measurement; ``robustbench`` maps RobustBench model
    name -> table; ``robustbench_names`` maps RobustBench names to backbones (on top of the built-in
    :data:`~evaluator.robustbench.ROBUSTBENCH_IMAGENET_NAMES`; a row whose name is the backbone's own
    name matches too).
    """
    measured = measured or {}
    rb_by_backbone = robustbench_rows_by_backbone(robustbench or {}, robustbench_names or {})
    out: dict[str, UpstreamMetrics] = {}
    for backbone in backbones:
        candidates_top1: list[Sourced] = []
        candidates_mce: list[Sourced] = []
        candidates_acc: list[Sourced] = []
        if backbone in measured:
            m = measured[backbone]
            candidates_top1.append(_sourced(m.top1, SOURCE_RZOO))
            candidates_mce.append(_sourced(_mce(m.table), SOURCE_RZOO))
            candidates_acc.append(_sourced(corrupted_accuracy(m.table), SOURCE_RZOO))
        if backbone in rb_by_backbone:
            row_name, table = rb_by_backbone[backbone]
            source = f"{SOURCE_ROBUSTBENCH}: {row_name}"
            candidates_mce.append(_sourced(_mce(table), source))
            candidates_acc.append(_sourced(corrupted_accuracy(table), source))
        if use_zoo:
            ref = _zoo_reference(backbone)
            if ref is not None:
                candidates_top1.append(_sourced(ref.imagenet_top1, SOURCE_ZOO))
                candidates_mce.append(_sourced(ref.imagenet_c_mce, SOURCE_ZOO))
        out[backbone] = UpstreamMetrics(
            backbone=backbone,
            imagenet_top1=_first(candidates_top1),
            imagenet_c_mce=_first(candidates_mce),
            imagenet_c_accuracy=_first(candidates_acc),
        )
    return out


def robustbench_rows_by_backbone(
    robustbench: Mapping[str, Table], names: Mapping[str, str]
) -> dict[str, tuple[str, Table]]:
    """backbone -> (RobustBench row name, table), through the explicit names, built-ins, then identity."""
    from evaluator.report.identity import canonical_backbone

    lookup = {**ROBUSTBENCH_IMAGENET_NAMES, **names}
    out: dict[str, tuple[str, Table]] = {}
    for row_name, table in robustbench.items():
        backbone = canonical_backbone(lookup.get(row_name, row_name))
        out.setdefault(backbone, (row_name, table))
    return out


def _mce(table: Table) -> float | None:
    if not covers_benchmark(table):
        return None
    return M.mean_corruption_error({c: table[c] for c in COMMON_CORRUPTIONS}, ALEXNET_MEAN_ERRORS)


def _zoo_reference(backbone: str):
    from zoo import get_weights, is_registered

    return get_weights(backbone).metrics if is_registered(backbone) else None


def _sourced(value: float | None, source: str) -> Sourced:
    return MISSING if value is None else Sourced(float(value), source)


def _first(candidates: list[Sourced]) -> Sourced:
    return next((c for c in candidates if c.value is not None), MISSING)


@dataclass(frozen=True)
class UpstreamMeasure:
    """How upstream robustness is put on the x axis and into the correlation."""

    key: str
    label: str  # axis label
    better: str  # "lower" | "higher"

    @property
    def metric_label(self) -> str:
        """The name :attr:`UpstreamMetrics.missing` uses for this measure."""
        return "ImageNet-C mCE" if self.key == "mce" else "ImageNet-C accuracy"

    def of(self, upstream: UpstreamMetrics) -> Sourced:
        return upstream.imagenet_c_mce if self.key == "mce" else upstream.imagenet_c_accuracy


UPSTREAM_MEASURES: Mapping[str, UpstreamMeasure] = {
    "mce": UpstreamMeasure("mce", "ImageNet-C mCE (%)", "lower"),
    "accuracy": UpstreamMeasure("accuracy", "ImageNet-C top-1 accuracy (%)", "higher"),
}

"""The results schema (``rzoo.results/1``): what ``rzoo eval`` writes and everything else reads.

A results file is one JSON object::

    {
      "schema": "rzoo.results/1",
      "task": "cifar10-c",                      # cifar10-c | imagenet-c | coco-c | ade20k-c
      "checkpoint": {"name", "architecture", "revision", "sha256", "source",
                     "base_model", "transfer_mode"},       # the last two optional, see below
      "primary_metric": "top1",                  # the metric leaderboards rank by
      "num_images": 10000,                       # clean images evaluated (per corruption x severity too)
      "metrics": {
        "top1": {                                # top1 | box_ap | mask_ap | miou, fractions in [0, 1]
          "clean": 0.94,
          "corrupted": {"fog": {"1": 0.91, ..., "5": 0.62}, ...},   # the 15 common corruptions
          "per_corruption": {"fog": 0.80, ...},  # mean over the severities present
          "mPC": 0.75, "rPC": 0.80,              # mean over corrupted; mPC / clean
          "mCE": 0.61, "relative_mCE": 0.83,     # ratios vs AlexNet; null where undefined (CIFAR, COCO, ADE20K)
          "holdout": {"corrupted": {...}, "per_corruption": {...}, "mPC": ..., "rPC": ...} | null
        }
      },
      "manifest": {rzoo/torch/timm versions, corruption backend, parameter set and seed, device,
                   runtime, preprocessing, world size, wall time, start time,
                   "subset": null | "robustbench-imagenet-5000[:N]"}   # see below
    }

Severity keys are strings in JSON and ints in Python. Every number is a float, never a string.

``manifest.subset`` names the fixed selection of images evaluated instead of the whole clean set:
``"robustbench-imagenet-5000[:N]"`` is ImageNet-C's ``--subset N``, the first N images of RobustBench's
5000-image ImageNet list in its order; ``null`` (and files written before the field existed) means the
whole set (or its first ``num_images`` with ``--limit``).

For a downstream result (CIFAR-10-C, COCO-C, ADE20K-C) the checkpoint identity may say where the
evaluated model came from: ``base_model`` is the upstream zoo backbone it was fine-tuned from
(``resnet50.augmix_in1k``) and ``transfer_mode`` how (``"fixed"``: frozen backbone, fixed-feature
transfer; ``"full"``: the whole network fine-tuned). Both default to ``null`` (unknown; files written
before they existed load unchanged); ``rzoo report`` reads them to place a result in its
backbone x mode tables.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluator import metrics as M
from evaluator.baselines import ALEXNET_MEAN_ERRORS
from evaluator.protocol import COMMON_CORRUPTIONS, HOLDOUT_CORRUPTIONS
from zoo.errors import InvalidInputError

SCHEMA = "rzoo.results/1"
TASKS = ("cifar10-c", "imagenet-c", "coco-c", "ade20k-c")
TRANSFER_MODES = ("fixed", "full")  # fixed-feature (frozen backbone) | full-network fine-tuning
METRIC_LABELS = {"top1": "top-1 accuracy", "box_ap": "box AP", "mask_ap": "mask AP", "miou": "mIoU"}

Table = dict[str, dict[int, float]]


@dataclass(frozen=True)
class CheckpointIdentity:
    name: str
    architecture: str | None = None
    revision: str | None = None
    sha256: str | None = None
    source: str = "zoo"  # zoo | hf-hub | folder | safetensors | onnx
    base_model: str | None = None  # the upstream backbone a downstream model was fine-tuned from
    transfer_mode: str | None = None  # one of TRANSFER_MODES; None when unknown


@dataclass(frozen=True)
class Manifest:
    rzoo_version: str
    torch_version: str
    timm_version: str
    corruption_backend: str
    corruption_params: str
    seed: int
    device: str
    runtime: str = "torch"
    preprocessing: dict[str, Any] = field(default_factory=dict)
    world_size: int = 1
    wall_time_s: float = 0.0
    started_at: str = ""
    subset: str | None = None  # a named image selection, e.g. "robustbench-imagenet-5000[:5000]"


@dataclass(frozen=True)
class CorruptionSummary:
    corrupted: Table
    per_corruption: dict[str, float]
    mPC: float | None
    rPC: float | None


@dataclass(frozen=True)
class MetricResult:
    name: str
    clean: float | None
    corrupted: Table
    per_corruption: dict[str, float]
    mPC: float | None
    rPC: float | None
    mCE: float | None = None
    relative_mCE: float | None = None
    holdout: CorruptionSummary | None = None


@dataclass(frozen=True)
class EvalResult:
    task: str
    checkpoint: CheckpointIdentity
    primary_metric: str
    metrics: dict[str, MetricResult]
    num_images: int
    manifest: Manifest | None = None
    schema: str = SCHEMA

    @property
    def primary(self) -> MetricResult:
        return self.metrics[self.primary_metric]

    # ---- serialization --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _stringify_severities(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write atomically: a crash never leaves a half-written results file."""
        return atomic_write_text(Path(path), self.to_json() + "\n")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvalResult:
        if data.get("schema") != SCHEMA:
            raise InvalidInputError(
                f"not an rzoo results file (schema {data.get('schema')!r}, want {SCHEMA!r})"
            )
        try:
            metrics = {name: _metric_from_dict(m) for name, m in data["metrics"].items()}
            manifest = Manifest(**data["manifest"]) if data.get("manifest") else None
            result = cls(
                task=data["task"],
                checkpoint=CheckpointIdentity(**data["checkpoint"]),
                primary_metric=data["primary_metric"],
                metrics=metrics,
                num_images=int(data["num_images"]),
                manifest=manifest,
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidInputError(f"malformed rzoo results: {err!r}") from err
        mode = result.checkpoint.transfer_mode
        if mode is not None and mode not in TRANSFER_MODES:
            raise InvalidInputError(
                f"malformed rzoo results: transfer_mode {mode!r} is not one of {', '.join(TRANSFER_MODES)}"
            )
        if result.primary_metric not in result.metrics:
            raise InvalidInputError(f"malformed rzoo results: no metric {result.primary_metric!r}")
        return result

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> EvalResult:
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError as err:
            raise InvalidInputError(f"no such results file: {path}") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InvalidInputError(f"{path}: not valid JSON ({err})") from err
        return cls.from_dict(data)


def summarize_metric(
    name: str,
    clean: float | None,
    table: Mapping[str, Mapping[int, float]],
    *,
    with_mce: bool = False,
) -> MetricResult:
    """Aggregate a raw corruption x severity table into a :class:`MetricResult` (pure).

    Holdout corruptions in ``table`` are split off and summarised separately. mCE and relative mCE
    are computed only when ``with_mce`` (ImageNet-C) and the table covers all 15 x 5 cells.
    """
    common = {c: dict(table[c]) for c in table if c not in HOLDOUT_CORRUPTIONS}
    held = {c: dict(table[c]) for c in table if c in HOLDOUT_CORRUPTIONS}
    common_summary = _summary(common, clean)
    holdout = _summary(held, clean) if held else None
    mce = rel_mce = None
    if with_mce and clean is not None:
        mce = M.mean_corruption_error(common, ALEXNET_MEAN_ERRORS)
        rel_mce = M.relative_mean_corruption_error(common, clean)
    return MetricResult(
        name=name,
        clean=clean,
        corrupted=common_summary.corrupted,
        per_corruption=common_summary.per_corruption,
        mPC=common_summary.mPC,
        rPC=common_summary.rPC,
        mCE=mce,
        relative_mCE=rel_mce,
        holdout=holdout,
    )


def _summary(table: Table, clean: float | None) -> CorruptionSummary:
    order = [c for c in (*COMMON_CORRUPTIONS, *HOLDOUT_CORRUPTIONS) if c in table] + sorted(
        c for c in table if c not in COMMON_CORRUPTIONS and c not in HOLDOUT_CORRUPTIONS
    )
    ordered = {c: {s: float(table[c][s]) for s in sorted(table[c])} for c in order if table[c]}
    if not ordered:
        return CorruptionSummary({}, {}, None, None)
    mpc = M.mean_corruption_performance(ordered)
    rpc = None if clean is None else M.relative_performance_under_corruption(mpc, clean)
    return CorruptionSummary(ordered, M.per_corruption_mean(ordered), mpc, rpc)


def _metric_from_dict(m: Mapping[str, Any]) -> MetricResult:
    holdout = m.get("holdout")
    return MetricResult(
        name=m["name"],
        clean=_opt_float(m.get("clean")),
        corrupted=_table_from_json(m.get("corrupted", {})),
        per_corruption={k: float(v) for k, v in m.get("per_corruption", {}).items()},
        mPC=_opt_float(m.get("mPC")),
        rPC=_opt_float(m.get("rPC")),
        mCE=_opt_float(m.get("mCE")),
        relative_mCE=_opt_float(m.get("relative_mCE")),
        holdout=None
        if holdout is None
        else CorruptionSummary(
            corrupted=_table_from_json(holdout.get("corrupted", {})),
            per_corruption={k: float(v) for k, v in holdout.get("per_corruption", {}).items()},
            mPC=_opt_float(holdout.get("mPC")),
            rPC=_opt_float(holdout.get("rPC")),
        ),
    )


def _opt_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")
    return float(value)


def _table_from_json(data: Mapping[str, Mapping[str, Any]]) -> Table:
    return {c: {int(s): float(_opt_float(v)) for s, v in by_sev.items()} for c, by_sev in data.items()}


def _stringify_severities(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k) if isinstance(k, int) else k: _stringify_severities(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_stringify_severities(v) for v in obj]
    return obj


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    return _atomic_write(path, text, "w")


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    return _atomic_write(path, data, "wb")


def _atomic_write(path: Path, data: str | bytes, mode: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path

"""The task contract and the classification metric state shared by CIFAR-10-C and ImageNet-C."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from evaluator.preprocessing import ClassifierPreprocessing
from zoo.errors import InvalidInputError

State = dict[str, Any]


class NonFiniteOutputError(InvalidInputError):
    """The model produced NaN or Inf: that is an error, never a score."""


class Dataset(Protocol):
    """The clean evaluation images of a task, plus released corrupted copies when present."""

    def __len__(self) -> int: ...

    def image_id(self, index: int) -> int:
        """A stable id of image ``index`` (seeds its corruptions)."""
        ...

    def load(self, index: int) -> tuple[Any, Any]:
        """(uint8 tensor (3, H, W) RGB, target) of clean image ``index``."""
        ...

    def load_precomputed(self, index: int, corruption: str, severity: int) -> Any | None:
        """The released corrupted image (uint8 (3, H, W)), or None to corrupt on the fly."""
        ...

    def has_precomputed(self, corruption: str, severity: int) -> bool: ...

    def describe(self) -> dict[str, Any]: ...


class GeneratedCorruptionsDataset:
    """The Dataset members of a task with no released corrupted copies (COCO-C, ADE20K-C).

    Every corruption is generated on the fly; subclasses define ``__len__``, ``image_id`` and ``load``.
    """

    def has_precomputed(self, corruption: str, severity: int) -> bool:
        return False

    def load_precomputed(self, index: int, corruption: str, severity: int) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"num_images": len(self)}


class Task(Protocol):
    name: str
    param_set: str  # the corruption parameter set ("imagenet-c" | "cifar10-c")
    metric_names: tuple[str, ...]
    primary_metric: str
    with_mce: bool
    model_kind: str  # "classifier" | "detector" | "segmenter"
    stackable: bool  # images of one batch all have the same size

    def open(self, data_root: Path, limit: int | None, subset: int | None) -> Dataset: ...

    def make_prepare(self, data_config: Any) -> Any:
        """A function: list (or stacked tensor) of uint8 (3, H, W) images -> model input."""
        ...

    def describe_preprocessing(self, data_config: Any) -> dict[str, Any]: ...

    def new_state(self) -> State: ...

    def update(
        self, state: State, outputs: Any, targets: Sequence[Any], image_ids: Sequence[int]
    ) -> None: ...

    def merge(self, states: Sequence[State]) -> State: ...

    def scores(self, state: State, dataset: Dataset) -> dict[str, float]: ...


def check_finite(tensor: Any, what: str) -> None:
    import torch

    if not bool(torch.isfinite(tensor).all()):
        raise NonFiniteOutputError(f"the model produced NaN/Inf {what}; refusing to score it")


@dataclass
class ClassificationMetric:
    """Top-1 as a merged (correct, total) count; the state is ``{"correct": int, "total": int}``."""

    num_classes: int

    def new_state(self) -> State:
        return {"correct": 0, "total": 0}

    def update(self, state: State, outputs: Any, targets: Sequence[Any], image_ids: Sequence[int]) -> None:
        import torch

        logits = torch.as_tensor(outputs)
        if logits.ndim != 2 or logits.shape[0] != len(targets):
            raise InvalidInputError(f"expected logits of shape (batch, classes), got {tuple(logits.shape)}")
        if logits.shape[1] != self.num_classes:
            raise InvalidInputError(
                f"the checkpoint outputs {logits.shape[1]} classes but this task has {self.num_classes} "
                "(fine-tune it on the task first)"
            )
        check_finite(logits, "logits")
        predicted = logits.argmax(dim=1)
        truth = torch.as_tensor([int(t) for t in targets])
        state["correct"] += int((predicted == truth).sum())
        state["total"] += len(targets)

    def merge(self, states: Sequence[State]) -> State:
        return {
            "correct": sum(int(s["correct"]) for s in states),
            "total": sum(int(s["total"]) for s in states),
        }

    def top1(self, state: State) -> float:
        if state["total"] == 0:
            raise InvalidInputError("no images were evaluated")
        return state["correct"] / state["total"]


class ClassifierTask:
    """The Task methods CIFAR-10-C and ImageNet-C share: timm-style preprocessing and top-1 scoring.

    Subclasses are dataclasses with a ``metric`` field (a :class:`ClassificationMetric`) and define ``open``.
    """

    metric: ClassificationMetric

    def make_prepare(self, data_config: Any) -> ClassifierPreprocessing:
        return ClassifierPreprocessing.from_data_config(data_config)

    def describe_preprocessing(self, data_config: Any) -> dict[str, Any]:
        return self.make_prepare(data_config).describe()

    def new_state(self) -> State:
        return self.metric.new_state()

    def update(self, state: State, outputs: Any, targets: Sequence[Any], image_ids: Sequence[int]) -> None:
        self.metric.update(state, outputs, targets, image_ids)

    def merge(self, states: Sequence[State]) -> State:
        return self.metric.merge(states)

    def scores(self, state: State, dataset: Any) -> dict[str, float]:
        return {"top1": self.metric.top1(state)}

"""The benchmarks, one module each, over the shared engine (``evaluator.engine``).

A task knows its data layout (clean set, precomputed corrupted copies if released), the corruption
parameter set, how to turn corrupted uint8 images into model inputs, and its metric *state*: a small
JSON-serialisable record (counts, a confusion matrix, detections) that merges exactly across ranks
and shards, and from which the scores are computed.
"""

from __future__ import annotations

import dataclasses
import importlib

from evaluator.tasks._base import Task
from zoo.errors import unknown_name

_MODULES = {
    "cifar10-c": "evaluator.tasks.cifar10_c",
    "imagenet-c": "evaluator.tasks.imagenet_c",
    "coco-c": "evaluator.tasks.coco_c",
    "ade20k-c": "evaluator.tasks.ade20k_c",
}
TASK_NAMES: tuple[str, ...] = tuple(_MODULES)


def get_task(name: str) -> Task:
    """A fresh instance of the task (a run may configure it, e.g. COCO's category ids)."""
    if name not in _MODULES:
        raise unknown_name("task", name, TASK_NAMES)
    return dataclasses.replace(importlib.import_module(_MODULES[name]).TASK)


__all__ = ["TASK_NAMES", "Task", "get_task"]

"""CIFAR-10-C (Hendrycks & Dietterich 2019): top-1, mPC and rPC; no mCE (there is no AlexNet baseline).

Data under ``data_root`` (what ``rzoo data download cifar10-c --root DIR`` writes)::

    cifar-10-batches-py/test_batch     # the CIFAR-10 test set, python pickle layout (read safely)
    CIFAR-10-C/<corruption>.npy        # optional: the official release, uint8 (50000, 32, 32, 3),
    CIFAR-10-C/labels.npy              #   severities 1..5 in blocks of 10000 rows (the size of the
                                       #   test set); labels uint8 (50000,)

Corruptions whose ``.npy`` is present are read from it (``np.load(allow_pickle=False, mmap_mode="r")``);
the others are generated on the fly with the ``cifar10-c`` parameter set. ``limit`` keeps the first N
test images (and the same rows of every severity block).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evaluator.safe_pickle import load_cifar_batch
from evaluator.tasks._base import ClassificationMetric, ClassifierTask
from zoo.errors import DatasetNotFoundError, InvalidInputError

DOWNLOAD_HINT = "rzoo data download cifar10-c --root {root}"


@dataclass
class Cifar10CDataset:
    images: Any  # uint8 (N, 32, 32, 3)
    labels: Any  # int64 (N,)
    corrupted_dir: Path | None
    block: int  # rows per severity in the .npy files: the size of the full test set
    _npy: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def image_id(self, index: int) -> int:
        return index

    def load(self, index: int) -> tuple[Any, int]:
        import torch

        return torch.from_numpy(self.images[index]).permute(2, 0, 1), int(self.labels[index])

    def load_many(self, indices: Sequence[int]) -> tuple[Any, list[int]]:
        import torch

        idx = list(indices)
        return torch.from_numpy(self.images[idx]).permute(0, 3, 1, 2), [int(self.labels[i]) for i in idx]

    def has_precomputed(self, corruption: str, severity: int) -> bool:
        return self._array(corruption) is not None

    def load_precomputed_many(self, indices: Sequence[int], corruption: str, severity: int) -> Any:
        import numpy as np
        import torch

        array = self._array(corruption)
        rows = [(severity - 1) * self.block + i for i in indices]
        return torch.from_numpy(np.ascontiguousarray(array[rows])).permute(0, 3, 1, 2)

    def load_precomputed(self, index: int, corruption: str, severity: int) -> Any:
        return self.load_precomputed_many([index], corruption, severity)[0]

    def _array(self, corruption: str) -> Any | None:
        if corruption in self._npy:
            return self._npy[corruption]
        array = None
        if self.corrupted_dir is not None:
            path = self.corrupted_dir / f"{corruption}.npy"
            if path.is_file():
                array = _load_npy(path, (5 * self.block, 32, 32, 3))
        self._npy[corruption] = array
        return array

    def describe(self) -> dict[str, Any]:
        present = sorted(c for c, a in self._npy.items() if a is not None)
        return {"num_images": len(self), "precomputed": present}


def _load_npy(path: Path, shape: tuple[int, ...]) -> Any:
    import numpy as np

    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except ValueError as err:
        raise InvalidInputError(f"{path}: not a plain .npy array ({err})") from err
    if array.dtype != np.uint8 or tuple(array.shape) != shape:
        raise InvalidInputError(f"{path}: expected uint8 {shape}, got {array.dtype} {tuple(array.shape)}")
    return array


@dataclass
class Cifar10C(ClassifierTask):
    name: str = "cifar10-c"
    param_set: str = "cifar10-c"
    metric_names: tuple[str, ...] = ("top1",)
    primary_metric: str = "top1"
    with_mce: bool = False
    model_kind: str = "classifier"
    stackable: bool = True
    metric: ClassificationMetric = field(default_factory=lambda: ClassificationMetric(10))

    def open(self, data_root: Path, limit: int | None, subset: int | None = None) -> Cifar10CDataset:
        import numpy as np

        if subset is not None:
            raise InvalidInputError("--subset applies to imagenet-c only (use --limit)")
        root = Path(data_root)
        test_batch = root / "cifar-10-batches-py" / "test_batch"
        if not test_batch.is_file():
            raise DatasetNotFoundError(
                f"CIFAR-10 test set not found at {test_batch}; run `{DOWNLOAD_HINT.format(root=root)}`"
            )
        images, labels = load_cifar_batch(test_batch)
        corrupted_dir = root / "CIFAR-10-C"
        if not corrupted_dir.is_dir():
            corrupted_dir = None
        elif (corrupted_dir / "labels.npy").is_file():
            released = _load_npy(corrupted_dir / "labels.npy", (5 * len(labels),))
            if not np.array_equal(np.asarray(released[: len(labels)]), labels):
                raise InvalidInputError(f"{corrupted_dir}/labels.npy does not match the CIFAR-10 test labels")
        block = len(labels)
        if limit is not None:
            images, labels = images[:limit], labels[:limit]
        return Cifar10CDataset(images, labels, corrupted_dir, block)


TASK = Cifar10C()

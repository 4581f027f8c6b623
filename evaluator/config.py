"""What one evaluation run is: :class:`EvalConfig` (no torch import here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evaluator.protocol import ALL_CORRUPTIONS, COMMON_CORRUPTIONS, HOLDOUT_CORRUPTIONS, SEVERITIES
from zoo.errors import InvalidInputError, unknown_name

RUNTIMES = ("torch", "onnx")


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: a checkpoint on a corrupted benchmark.

    - ``checkpoint``: a zoo name, ``hf-hub:ORG/NAME[@REV]``, a folder (config.json + model.safetensors),
      a ``.safetensors`` file (with ``arch``) or an ``.onnx`` file.
    - ``task``: ``cifar10-c`` | ``imagenet-c`` | ``coco-c`` | ``ade20k-c``; ``data_root`` its data.
    - ``limit``: evaluate only the first N images of the (clean) evaluation set.
    - ``corruptions``: default the 15 common ones, plus the 4 holdout ones when ``holdout``.
    - ``work_dir``: where finished shards are persisted; with ``resume`` they are reused.
    - ``seed``: the benchmark seed of on-the-fly corruptions (per image, see ``evaluator.corruptions``).
    - ``subset``: ImageNet-C only, evaluate the first N (1..5000) images of RobustBench's ImageNet-C
      list, exactly its evaluation set (needs ``pip install --no-deps robustbench==1.1.1``).
    - ``num_workers``: threads that decode, corrupt and preprocess ahead of the model. ``None`` (the
      default): 0 on the CPU, where the model's forward pass already uses every core and batches are
      prepared between forward passes (with every core, see :func:`prefetch_workers`); 2 on a GPU.
    """

    checkpoint: str
    task: str
    data_root: Path
    arch: str | None = None
    limit: int | None = None
    corruptions: tuple[str, ...] | None = None
    severities: tuple[int, ...] = SEVERITIES
    holdout: bool = False
    batch_size: int = 64
    device: str = "cpu"
    runtime: str = "torch"
    work_dir: Path | None = None
    resume: bool = False
    seed: int = 0
    progress: bool = True
    subset: int | None = None
    num_workers: int | None = None

    def __post_init__(self) -> None:
        from evaluator.tasks import TASK_NAMES

        if self.task not in TASK_NAMES:
            raise unknown_name("task", self.task, TASK_NAMES)
        object.__setattr__(self, "data_root", Path(self.data_root).expanduser())
        if self.work_dir is not None:
            object.__setattr__(self, "work_dir", Path(self.work_dir).expanduser())
        if self.runtime not in RUNTIMES:
            raise unknown_name("runtime", self.runtime, RUNTIMES)
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError(f"--limit must be >= 1, got {self.limit}")
        if self.batch_size < 1:
            raise InvalidInputError(f"--batch-size must be >= 1, got {self.batch_size}")
        bad = [s for s in self.severities if s not in SEVERITIES]
        if bad or not self.severities:
            raise InvalidInputError(f"severities must be among 1..5, got {list(self.severities)}")
        object.__setattr__(self, "severities", tuple(sorted(set(self.severities))))
        if self.corruptions is not None:
            for name in self.corruptions:
                if name not in ALL_CORRUPTIONS:
                    raise unknown_name("corruption", name, ALL_CORRUPTIONS)
            object.__setattr__(self, "corruptions", tuple(dict.fromkeys(self.corruptions)))
        if self.num_workers is not None and self.num_workers < 0:
            raise InvalidInputError(f"--workers must be >= 0, got {self.num_workers}")
        if self.resume and self.work_dir is None:
            raise InvalidInputError("--resume needs a work directory (--work-dir)")

    @property
    def prefetch_workers(self) -> int:
        """Threads preparing batches ahead of the model (0: prepared in the model's thread, in turn).

        On the CPU the forward pass runs on torch's (or ONNX Runtime's) threads, one per core: a
        thread preparing the next batch at the same time takes a core from one of them, and the whole
        parallel region waits for the slowest thread. Measured with resnet18 at 32 px on 2 cores
        (benchmarks/eval_throughput.py): end-to-end / bare forward 0.71 with 2 prefetching threads,
        0.89 preparing in turn. A GPU runs the model asynchronously: the CPU threads are free."""
        if self.num_workers is not None:
            return self.num_workers
        return 0 if self.device == "cpu" else 2

    @property
    def selected_corruptions(self) -> tuple[str, ...]:
        """The corruptions this run evaluates, in protocol order."""
        if self.corruptions is not None:
            chosen = set(self.corruptions)
            if self.holdout:
                chosen |= set(HOLDOUT_CORRUPTIONS)
            return tuple(c for c in ALL_CORRUPTIONS if c in chosen)
        return COMMON_CORRUPTIONS + (HOLDOUT_CORRUPTIONS if self.holdout else ())

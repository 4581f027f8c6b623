"""Deterministic, resumable batching across processes and gradient-accumulation steps.

Epoch ``e`` visits the samples in ``randperm(n)`` drawn from a generator seeded with
``(seed, e)``; every full global batch of ``batch_size`` keys is split between ranks (rank r takes
positions r, r + W, ...) and then into ``accumulation_steps`` equal micro-batches. The union over
ranks of one step's micro-batches is the same global batch whatever the world size, which is what
makes a 2-process run equal a 1-process run. Each key carries the sample's augmentation seed, a pure
function of (seed, epoch, index). Resuming at (epoch, step) just skips ahead: nothing is replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zoo.errors import InvalidInputError


def sample_seed(seed: int, epoch: int, index: int) -> int:
    return ((seed * 1_000_003 + epoch) * 10_000_019 + index) % (2**63 - 1)


@dataclass(frozen=True)
class StepBatches:
    """The global batches of one epoch, seen from one rank."""

    num_samples: int
    batch_size: int
    world_size: int = 1
    rank: int = 0
    accumulation_steps: int = 1
    seed: int = 0
    shuffle: bool = True

    def __post_init__(self) -> None:
        if self.batch_size % (self.world_size * self.accumulation_steps):
            raise InvalidInputError(
                f"global batch {self.batch_size} is not divisible by world size {self.world_size} "
                f"x accumulation steps {self.accumulation_steps}"
            )
        if self.steps_per_epoch == 0:
            raise InvalidInputError(
                f"the dataset has {self.num_samples} samples, fewer than one global batch of {self.batch_size}"
            )

    @property
    def steps_per_epoch(self) -> int:
        return self.num_samples // self.batch_size

    @property
    def micro_batch_size(self) -> int:
        return self.batch_size // (self.world_size * self.accumulation_steps)

    def order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.num_samples))
        generator = torch.Generator().manual_seed(self.seed * 7919 + epoch)
        return torch.randperm(self.num_samples, generator=generator).tolist()

    def micro_batches(self, epoch: int, start_step: int = 0) -> list[list[tuple[int, int]]]:
        """This rank's micro-batches of keys from global step ``start_step`` of ``epoch`` to its end."""
        order = self.order(epoch)
        out = []
        for step in range(start_step, self.steps_per_epoch):
            global_batch = order[step * self.batch_size : (step + 1) * self.batch_size]
            mine = global_batch[self.rank :: self.world_size]
            m = self.micro_batch_size
            for a in range(self.accumulation_steps):
                out.append([(i, sample_seed(self.seed, epoch, i)) for i in mine[a * m : (a + 1) * m]])
        return out

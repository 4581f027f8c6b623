"""torch.distributed glue: which part of a shard this rank evaluates, and merging metric states.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the evaluator initialises a process group (NCCL on CUDA,
gloo otherwise), every rank takes the images ``rank, rank + world, ...`` of each shard, and the
per-rank metric states are gathered on every rank with ``all_gather_object`` and merged by the task
(sums of counts, sums of confusion matrices, concatenation of detections). Merging is exact, so the
numbers equal those of a single process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def split(self, n: int) -> range:
        """This rank's indices into a shard of ``n`` images (strided, so the split is balanced)."""
        return range(self.rank, n, self.world_size)

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (just ``[obj]`` without a process group)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()


def init_from_env(device: str = "cpu") -> DistContext:
    """A :class:`DistContext` for this process; joins the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext()
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size())

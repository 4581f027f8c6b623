"""How the evaluator corrupts images on the fly: rzoo's torch corruption engine, seeded per image.

Images travel as uint8 tensors (3, H, W), RGB. :meth:`Corruptor.apply` corrupts a batch (a stacked
(N, 3, H, W) tensor or a list of differently sized images) with one corruption and severity on the
inference device; image ``i`` gets the seed ``image_seed(benchmark_seed, image_ids[i], corruption,
severity)`` (``evaluator.corruptions.seeding``), so the result does not depend on batch composition,
rank or device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

BACKEND = "rzoo-torch"


@dataclass(frozen=True)
class Corruptor:
    param_set: str  # "imagenet-c" | "cifar10-c"
    seed: int
    device: str = "cpu"

    @property
    def backend(self) -> str:
        return BACKEND

    def apply(self, images: Any, corruption: str, severity: int, image_ids: Sequence[Any]) -> Any:
        from evaluator.corruptions import corrupt_batch, image_seed

        seeds = [image_seed(self.seed, i, corruption, severity) for i in image_ids]
        out = corrupt_batch(images, corruption, severity, seeds, params=self.param_set, device=self.device)
        if isinstance(out, list):
            return [o.cpu() for o in out]
        return out.cpu()

"""How the evaluator corrupts images on the fly: the rzoo corruption engine, seeded per image.

Images travel as uint8 tensors (3, H, W), RGB. ``Corruptor.apply`` corrupts a batch (a stacked
(N, 3, H, W) tensor or a list of differently sized images) with one corruption and severity; image
``i`` gets the seed ``image_seed(benchmark_seed, image_ids[i], corruption, severity)``, so the result
does not depend on batch composition, rank or device.

The backend is ``evaluator.corruptions.corrupt_batch`` (rzoo's torch engine, run on the inference
device). Only if that engine is not importable does the evaluator fall back to the reference NumPy
implementation (``imagecorruptions``, ImageNet-C parameters only), and says so in the manifest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zoo.errors import InvalidInputError


def _engine() -> tuple[Any, Any] | None:
    try:
        from evaluator.corruptions import corrupt_batch, image_seed
    except ImportError:
        return None
    return corrupt_batch, image_seed


def _fallback_seed(benchmark_seed: int, image_id: Any, corruption: str, severity: int) -> int:
    key = f"{benchmark_seed}/{image_id}/{corruption}/{severity}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little")


@dataclass(frozen=True)
class Corruptor:
    param_set: str  # "imagenet-c" | "cifar10-c"
    seed: int
    device: str = "cpu"

    @property
    def backend(self) -> str:
        return "rzoo-torch" if _engine() is not None else "imagecorruptions (numpy reference)"

    def apply(self, images: Any, corruption: str, severity: int, image_ids: Sequence[Any]) -> Any:
        engine = _engine()
        if engine is not None:
            corrupt_batch, image_seed = engine
            seeds = [image_seed(self.seed, i, corruption, severity) for i in image_ids]
            out = corrupt_batch(
                images, corruption, severity, seeds, params=self.param_set, device=self.device
            )
            if isinstance(out, list):
                return [o.cpu() for o in out]
            return out.cpu()
        return self._reference(images, corruption, severity, image_ids)

    def _reference(self, images: Any, corruption: str, severity: int, image_ids: Sequence[Any]) -> Any:
        import numpy as np
        import torch
        from imagecorruptions import corrupt

        if self.param_set != "imagenet-c":
            raise InvalidInputError(
                f"the {self.param_set} parameter set needs rzoo's corruption engine (evaluator.corruptions)"
            )
        out = []
        for img, image_id in zip(images, image_ids, strict=True):
            hwc = img.permute(1, 2, 0).numpy()
            seed = _fallback_seed(self.seed, image_id, corruption, severity)
            res = np.uint8(corrupt(hwc, corruption_name=corruption, severity=severity, seed=seed))
            out.append(torch.from_numpy(np.ascontiguousarray(res[..., :3])).permute(2, 0, 1))
        return torch.stack(out) if isinstance(images, torch.Tensor) else out

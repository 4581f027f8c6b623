"""The contract between the corruption engine and the family modules.

A family module (``noise.py``, ``blur.py``, ``weather.py``, ``digital.py``) keeps its parameter tables
at the top and exports ``SPECS: tuple[CorruptionSpec, ...]``. A corruption function takes a batch of
same-sized images and returns the corrupted batch:

    fn(images, param, generators) -> images

- ``images``: float32 tensor (N, 3, H, W), RGB, values in [0, 255], on any device.
- ``param``: the entry of the parameter table for the requested parameter set and severity.
- ``generators``: one CPU ``torch.Generator`` per image, already seeded by the engine. Every random
  draw for image ``i`` comes from ``generators[i]`` on the CPU (then moves to the images' device),
  so the output does not depend on batch composition, order or device.
- returns float32 (N, 3, H, W) on the same device, in [0, 255] (the engine clamps and truncates to
  uint8 the way imagecorruptions' ``np.uint8(...)`` does).
- ``uint8_io=True`` (optional): the function takes the uint8 batch and returns uint8 itself (codecs and
  resamplers that are exact on integers: no float round trip, no quantization by the engine).

On the CPU the engine hands a family a few pictures at a time (up to about 8 MB of float32 per call, as
many calls as a multiple of torch's thread count: bounded temporaries, which the allocator recycles
(see ``evaluator.allocator``), in as few calls as the threads allow). The chunks run concurrently on a
pool of ``torch.get_num_threads()`` threads (one torch thread each; ``spread="ops"``: in turn on torch's
threads), so a corruption function must be thread safe: cached tensors (``lru_cache``) are read, never
modified in place, and no state is shared between calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from evaluator.protocol import HOLDOUT_CORRUPTIONS

PARAM_SETS = ("imagenet-c", "cifar10-c")

CorruptionFn = Callable[[Any, Any, Sequence[Any]], Any]  # (Tensor, param, [Generator]) -> Tensor


@dataclass(frozen=True)
class CorruptionSpec:
    name: str
    family: str
    fn: CorruptionFn
    params: Mapping[str, tuple[Any, ...]]  # parameter set -> one entry per severity 1..5
    random: bool  # False: a pure function of the image (must match the reference within 1 grey level)
    uint8_io: bool = False  # True: fn takes and returns uint8 batches
    # CPU parallelism: "pictures" (chunks on parallel one-thread workers) or "ops" (chunks in turn,
    # each torch op on all threads: for corruptions made of large torch kernels that scale well)
    spread: Literal["pictures", "ops"] = "pictures"

    @property
    def holdout(self) -> bool:
        return self.name in HOLDOUT_CORRUPTIONS

    def param(self, param_set: str, severity: int) -> Any:
        return self.params[param_set][severity - 1]

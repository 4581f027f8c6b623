"""The torch backend: validation, grouping by size, seeding and uint8 quantization around the families.

A family function sees float32 (N, 3, H, W) in [0, 255]; the engine turns its output back into uint8
the way ``imagecorruptions.corrupt`` does (``np.uint8(np.clip(x, 0, 255))``: clip, then truncate).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from evaluator.corruptions import _ops, seeding
from evaluator.corruptions._spec import PARAM_SETS, CorruptionSpec
from evaluator.protocol import SEVERITIES
from zoo.errors import InvalidInputError, unknown_name

MIN_SIDE = {"imagenet-c": 32, "cifar10-c": 32}  # imagecorruptions and make_cifar_c need >= 32 px


def get_spec(corruptions: Mapping[str, CorruptionSpec], name: str) -> CorruptionSpec:
    if not isinstance(name, str) or name not in corruptions:
        raise unknown_name("corruption", str(name), tuple(corruptions))
    return corruptions[name]


def check_severity(severity: int) -> int:
    if isinstance(severity, bool) or not isinstance(severity, int) or severity not in SEVERITIES:
        raise InvalidInputError(f"severity must be an integer in 1..5, got {severity!r}")
    return severity


def check_params(params: str) -> str:
    if params not in PARAM_SETS:
        raise unknown_name("parameter set", str(params), PARAM_SETS)
    return params


def check_size(height: int, width: int, params: str) -> None:
    side = MIN_SIDE[params]
    if height < side or width < side:
        raise InvalidInputError(
            f"images must be at least {side}x{side} px for {params}, got {height}x{width}"
        )


def _check_seeds(seeds: Sequence[int], n: int) -> list[int]:
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    if len(seeds) != n:
        raise InvalidInputError(f"need one seed per image: {n} images, {len(seeds)} seeds")
    for s in seeds:
        if isinstance(s, bool) or (
            not isinstance(s, int) and not (isinstance(s, torch.Tensor) and s.numel() == 1)
        ):
            raise InvalidInputError(f"seeds must be integers, got {s!r}")
    return [int(s) for s in seeds]


def quantize(x: torch.Tensor) -> torch.Tensor:
    """float [0, 255] -> uint8 by clipping and truncating, like ``np.uint8(np.clip(x, 0, 255))``.

    The float -> uint8 cast truncates toward zero, which after clipping is the floor."""
    out = torch.empty(x.shape, dtype=torch.uint8, device=x.device)
    store_uint8(out, x.clamp(0, 255))
    return out


def store_uint8(dst: torch.Tensor, src: torch.Tensor) -> None:
    """``dst[...] = src`` for float ``src`` already clipped to [0, 255] (the cast truncates).

    On the CPU NumPy's cast does it: it is vectorized, torch's float -> uint8 copy is not (~7x slower,
    as much as a whole corruption for the cheap ones)."""
    if dst.device.type == "cpu" and src.device.type == "cpu" and not src.requires_grad:
        np.copyto(dst.numpy(), src.numpy(), casting="unsafe")
    else:
        dst.copy_(src)


def _check_batch(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor):
        raise InvalidInputError(f"expected a uint8 tensor or a list of them, got {type(x).__name__}")
    if x.dtype != torch.uint8:
        raise InvalidInputError(f"expected uint8 images, got {x.dtype}")
    if x.ndim != 4 or x.shape[1] != 3:
        raise InvalidInputError(f"expected a (N, 3, H, W) batch, got shape {tuple(x.shape)}")


# float32 bytes per family call on the CPU (see _spec.py). Measured at 224 px, 8 pictures, 2 threads:
# 8 MB (2 chunks of 4) 8.8-9.0x the reference (geometric mean), 2 MB (4 chunks of 2) 6.4-7.6x
CPU_CHUNK_BYTES = 8 << 20


def chunk_bounds(
    n: int, height: int, width: int, device: torch.device, threads: int
) -> list[tuple[int, int]]:
    """The (start, stop) of each family call: the whole batch on a GPU; on the CPU chunks of about
    ``CPU_CHUNK_BYTES`` of float32, as many as a multiple of ``threads`` (equal shares: 3 chunks on 2
    threads would leave one idle a third of the time), their sizes as even as they can be."""
    if device.type != "cpu":
        return [(0, n)]
    by_bytes = max(1, CPU_CHUNK_BYTES // (3 * height * width * 4))
    threads = max(1, min(threads, n))
    chunks = -(-n // by_bytes)
    return _ops.even_bounds(n, min(n, -(-chunks // threads) * threads))


def run_batch(
    spec: CorruptionSpec, x: torch.Tensor, severity: int, seeds: list[int], params: str, device
) -> torch.Tensor:
    """Corrupt one same-sized (N, 3, H, W) uint8 batch; returns uint8 on ``x``'s device.

    On the CPU the chunks run on ``torch.get_num_threads()`` pool threads at once, one torch thread
    each (``_ops.map_pictures``): whole pictures in parallel, no thread waits on another between two
    ops. Per-picture work inside a chunk (random fills, codecs, OpenCV, Numba kernels) then runs
    inline. A corruption whose cost is one large torch kernel that spreads well over torch's own
    threads (``spread="ops"``: zoom_blur's resampling) runs its chunks in turn instead, each op on
    all of torch's threads. Every picture draws only from its own generator, so the output does not
    depend on the chunking or on the thread count."""
    check_size(x.shape[2], x.shape[3], params)
    work = _ops.planar_uint8(x.to(device) if device is not None else x)
    param = spec.param(params, severity)
    gens = seeding.generators(seeds)
    out = torch.empty_like(work)

    def run_chunk(bounds: tuple[int, int]) -> None:
        start, stop = bounds
        chunk = work[start:stop]
        if spec.uint8_io:
            out[start:stop] = spec.fn(chunk.contiguous(), param, gens[start:stop])
            return
        floats = chunk.to(torch.float32, memory_format=torch.contiguous_format)
        result = spec.fn(floats, param, gens[start:stop]).clamp_(0, 255)
        store_uint8(out[start:stop], result)

    threads = torch.get_num_threads()
    bounds = chunk_bounds(work.shape[0], x.shape[2], x.shape[3], work.device, threads)
    if work.device.type == "cpu" and spec.spread == "pictures" and len(bounds) > 1:
        _ops.map_pictures(run_chunk, bounds, _ops.PARALLEL_MIN_VALUES)
    else:
        for chunk in bounds:
            run_chunk(chunk)
    return out.to(x.device)


def corrupt_batch(
    corruptions: Mapping[str, CorruptionSpec],
    x: torch.Tensor | Sequence[torch.Tensor],
    name: str,
    severity: int,
    seeds: Sequence[int],
    params: str = "imagenet-c",
    device=None,
):
    spec = get_spec(corruptions, name)
    check_severity(severity)
    check_params(params)
    if isinstance(x, torch.Tensor):
        _check_batch(x)
        seeds = _check_seeds(seeds, x.shape[0])
        if x.shape[0] == 0:
            return x.clone()
        return run_batch(spec, x, severity, seeds, params, device)
    images = list(x)
    seeds = _check_seeds(seeds, len(images))
    for img in images:
        _check_batch(img.unsqueeze(0) if isinstance(img, torch.Tensor) and img.ndim == 3 else img)
    groups: dict[tuple, list[int]] = {}
    for i, img in enumerate(images):
        groups.setdefault((tuple(img.shape), img.device), []).append(i)
    out: list[torch.Tensor | None] = [None] * len(images)
    for members in groups.values():
        batch = torch.stack([images[i] for i in members])
        result = run_batch(spec, batch, severity, [seeds[i] for i in members], params, device)
        for j, i in enumerate(members):
            out[i] = result[j]
    return out

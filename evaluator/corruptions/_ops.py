"""Torch building blocks shared by the corruption families: per-image randomness and SciPy-style filters.

Everything works on float tensors (N, C, H, W) on any device. Random draws follow the contract of
``_spec.py``: image ``i`` draws only from ``generators[i]`` on the CPU, then the result moves to the
images' device, so an image's corruption does not depend on its batch neighbours or the device. Bulk
draws (:func:`rand`, :func:`randn`, :func:`randint`) come from a stream keyed by one draw of the
picture's generator (:func:`picture_keys`, ``_random_kernel``): 3-10x faster than torch's CPU
generator, and compiled code can draw and use the numbers in one pass.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")
R = TypeVar("R")

# Per-picture work smaller than this many values runs in the calling thread: a hand-off to a pool
# thread costs tens of microseconds, as much as a random fill of a 32 px picture.
PARALLEL_MIN_VALUES = 1 << 14


def _one_torch_thread() -> None:
    # OpenMP's thread count is per calling thread: a pool thread keeps to one, so that the pool's
    # threads and torch's intra-op threads do not both try to use every core.
    torch.set_num_threads(1)


@functools.lru_cache(maxsize=8)
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="rzoo-corrupt", initializer=_one_torch_thread
    )


# A forked child (a DataLoader worker, say) inherits the pool objects but not their threads: it
# starts its own pools.
os.register_at_fork(after_in_child=_pool.cache_clear)


def map_pictures(fn: Callable[[T], R], items: Iterable[T], values_per_picture: int) -> list[R]:
    """``[fn(item) for item in items]``, spread over ``torch.get_num_threads()`` threads when each call
    handles at least ``PARALLEL_MIN_VALUES`` values.

    For per-picture work that torch's intra-op threads cannot spread: a random fill from one
    picture's generator is sequential, and Pillow's resamplers work on one picture at a time. All of
    them release the GIL. ``fn`` must only touch its own item's data: the results are the same, in
    the same order, whatever the thread count. Inside a pool thread (one torch thread) the calls run
    inline, so nested use cannot deadlock."""
    items = list(items)
    workers = min(torch.get_num_threads(), len(items))
    if workers <= 1 or values_per_picture < PARALLEL_MIN_VALUES:
        return [fn(item) for item in items]
    # one contiguous share per thread; the caller takes the first itself (on one torch thread) while
    # the pool threads wake up: on a VM an idle thread takes 0.2-0.5 ms to start running
    shares = [items[a:b] for a, b in even_bounds(len(items), workers)]
    pending = [_pool(workers - 1).submit(_run_share, fn, share) for share in shares[1:]]
    with _torch_threads(1):
        results = _run_share(fn, shares[0])
    for future in pending:
        results.extend(future.result())
    return results


def even_bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """The (start, stop) of ``parts`` contiguous shares of ``range(n)``, their sizes as even as can be."""
    edges = [n * k // parts for k in range(parts + 1)]
    return list(itertools.pairwise(edges))


def _run_share(fn: Callable[[T], R], share: list[T]) -> list[R]:
    return [fn(item) for item in share]


@contextlib.contextmanager
def _torch_threads(count: int):
    """torch's intra-op thread count for the calling thread only (OpenMP's setting is per thread)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def planar_uint8(x: torch.Tensor) -> torch.Tensor:
    """A contiguous (N, 3, H, W) copy of a CPU uint8 batch that is a view of (N, H, W, 3) pixels (as
    decoded pictures and dataset arrays are), else ``x.contiguous()``. torch's strided uint8 copy
    takes ~1 ns per byte (1.6 ms for 8 pictures of 224 px); NumPy's transpose copy is ~4x faster,
    OpenCV's SIMD channel split ~6x on pictures of 64 x 64 px and more."""
    if x.is_contiguous() or x.device.type != "cpu" or x.dtype != torch.uint8 or x.ndim != 4:
        return x.contiguous()
    pixels = x.permute(0, 2, 3, 1)
    if not pixels.is_contiguous():
        return x.contiguous()
    pixels = pixels.numpy()
    if x.shape[2] * x.shape[3] < 64 * 64:
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)))
    import cv2

    out = np.empty(x.shape, dtype=np.uint8)
    for picture, target in zip(pixels, out, strict=True):
        for plane, channel in zip(target, cv2.split(picture), strict=True):
            plane[...] = channel
    return torch.from_numpy(out)


def picture_keys(generators: Sequence[torch.Generator]):
    """One 64-bit key per picture, drawn from its generator: the start of its stream in
    ``_random_kernel`` (uint64 NumPy array)."""
    keys = [torch.randint(-(1 << 63), (1 << 63) - 1, (), generator=g, dtype=torch.int64) for g in generators]
    return np.array([int(k) for k in keys], dtype=np.int64).view(np.uint64)


def map_row_groups(fn: Callable[[slice], None], rows: int, values_per_row: int) -> None:
    """``fn(slice)`` over contiguous groups of ``rows`` rows, one group per thread: for kernels that
    loop over pictures themselves (see :func:`map_pictures`; inline when the whole work is small)."""
    workers = min(torch.get_num_threads(), rows)
    if workers <= 1 or rows * values_per_row < 2 * PARALLEL_MIN_VALUES:
        workers = 1
    map_pictures(fn, [slice(a, b) for a, b in even_bounds(rows, workers)], PARALLEL_MIN_VALUES)


def _fill(generators, shape: Sequence[int], device, kernel_name: str, dtype=None, *args) -> torch.Tensor:
    from evaluator.corruptions import _random_kernel

    kernel = getattr(_random_kernel, kernel_name)
    keys = picture_keys(generators)
    out = np.empty((len(generators), math.prod(shape)), dtype=dtype or np.float32)
    map_row_groups(lambda rows: kernel(keys[rows], *args, out[rows]), out.shape[0], out.shape[1])
    return torch.from_numpy(out).reshape(len(generators), *shape).to(device, non_blocking=True)


def randn(generators, shape: Sequence[int], device) -> torch.Tensor:
    """Standard normal samples, one tensor of ``shape`` per image: (N, *shape), float32, from each
    picture's stream (``_random_kernel.normal_fill``)."""
    return _fill(generators, shape, device, "normal_fill")


def rand(generators, shape: Sequence[int], device) -> torch.Tensor:
    """Uniform [0, 1) samples (multiples of 2**-24), one tensor of ``shape`` per image: (N, *shape),
    float32, from each picture's stream (``_random_kernel.uniform_fill``)."""
    return _fill(generators, shape, device, "uniform_fill")


def randint(generators, bound: int, shape: Sequence[int], device) -> torch.Tensor:
    """Integers in [0, bound) (``bound <= 256``), one uint8 tensor of ``shape`` per image: (N, *shape),
    from each picture's stream (``_random_kernel.integer_fill``)."""
    if not 1 <= bound <= 256:
        raise ValueError(f"bound must be in 1..256, got {bound}")
    return _fill(generators, shape, device, "integer_fill", np.uint8, int(bound))


def gaussian_kernel1d(sigma: float, truncate: float = 4.0, dtype=torch.float32, device=None) -> torch.Tensor:
    """``scipy.ndimage.gaussian_filter1d``'s kernel: radius ``int(truncate * sigma + 0.5)``, sums to 1."""
    radius = int(truncate * float(sigma) + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / float(sigma)) ** 2)
    return (weights / weights.sum()).to(dtype=dtype, device=device)


def _pad_index(size: int, pad: int, mode: str, device) -> torch.Tensor:
    """Source indices of a padded axis, in SciPy's boundary modes."""
    idx = torch.arange(-pad, size + pad, device=device)
    if mode == "nearest":  # a a a | a b c d | d d d
        return idx.clamp(0, size - 1)
    if mode == "reflect":  # b a | a b c d | d c  (half-sample symmetric)
        period = 2 * size
        idx = idx % period
        return torch.where(idx >= size, period - 1 - idx, idx)
    if mode == "mirror":  # c b | a b c d | c b  (whole-sample symmetric)
        if size == 1:
            return torch.zeros_like(idx)
        period = 2 * size - 2
        idx = idx % period
        return torch.where(idx >= size, period - idx, idx)
    raise ValueError(f"unknown boundary mode {mode!r}")


def pad_axis(x: torch.Tensor, pad: int, dim: int, mode: str) -> torch.Tensor:
    """Pad one axis of ``x`` by ``pad`` on both sides with a SciPy boundary mode."""
    if pad == 0:
        return x
    size = x.shape[dim]
    if pad < size:  # slices and flips: cheaper than a gather
        if mode == "nearest":
            left, right = x.narrow(dim, 0, 1), x.narrow(dim, size - 1, 1)
            shape = list(x.shape)
            shape[dim] = pad
            return torch.cat([left.expand(shape), x, right.expand(shape)], dim=dim)
        if mode == "reflect":
            left, right = x.narrow(dim, 0, pad), x.narrow(dim, size - pad, pad)
            return torch.cat([left.flip(dim), x, right.flip(dim)], dim=dim)
    return x.index_select(dim, _pad_index(size, pad, mode, x.device))


def convolve1d(x: torch.Tensor, kernel: torch.Tensor, dim: int, mode: str = "nearest") -> torch.Tensor:
    """Correlate ``x`` along ``dim`` with an odd 1D ``kernel`` (SciPy's ``correlate1d`` with a boundary mode).

    A sum of shifted slices: on the CPU much faster than ``conv2d`` with one channel, for the kernel
    sizes used here (up to a few dozen taps)."""
    radius = kernel.numel() // 2
    size = x.shape[dim]
    padded = pad_axis(x, radius, dim, mode)
    weights = kernel.tolist()
    out = padded.narrow(dim, 0, size) * weights[0]
    for tap in range(1, len(weights)):
        out.add_(padded.narrow(dim, tap, size), alpha=weights[tap])
    return out


# SciPy boundary modes -> OpenCV border types
_OPENCV_BORDERS = {
    "nearest": "BORDER_REPLICATE",
    "reflect": "BORDER_REFLECT",  # half-sample symmetric
    "mirror": "BORDER_REFLECT_101",  # whole-sample symmetric (torch's "reflect" padding)
}
TORCH_PAD_TO_SCIPY = {"replicate": "nearest", "reflect": "mirror"}


def opencv_can_filter(x: torch.Tensor, radius: int) -> bool:
    """Whether :func:`separable_filter_opencv` takes ``x``: CPU float planes larger than the kernel."""
    return (
        x.device.type == "cpu"
        and x.dtype in (torch.float32, torch.float64)
        and not x.requires_grad
        and radius < min(x.shape[-2:])
    )


def separable_filter_opencv(x: torch.Tensor, taps_rows, taps_cols, mode: str) -> torch.Tensor:
    """Correlate every (H, W) plane of a CPU tensor (N, C, H, W) with ``taps_rows`` along H and
    ``taps_cols`` along W: ``cv2.sepFilter2D`` per plane (SIMD, about 2x torch's shifted sums for the
    kernels used here), the pictures spread over :func:`map_pictures`' threads (OpenCV releases the
    GIL). ``mode``: a SciPy boundary mode."""
    import cv2

    dtype = np.float32 if x.dtype == torch.float32 else np.float64
    rows = np.asarray(taps_rows, dtype=dtype)
    cols = np.asarray(taps_cols, dtype=dtype)
    border = getattr(cv2, _OPENCV_BORDERS[mode])
    src = x.contiguous().numpy()
    out = np.empty_like(src)

    def one(i: int) -> None:
        for c in range(src.shape[1]):
            cv2.sepFilter2D(src[i, c], -1, cols, rows, dst=out[i, c], borderType=border)

    map_pictures(one, range(src.shape[0]), src[0].size)
    return torch.from_numpy(out)


def gaussian_filter(
    x: torch.Tensor, sigma: float | tuple[float, float], truncate: float = 4.0, mode: str = "nearest"
) -> torch.Tensor:
    """``scipy.ndimage.gaussian_filter`` over the two spatial axes of (N, C, H, W) (sigma 0: no blur).

    ``skimage.filters.gaussian(..., channel_axis=-1)`` is this with ``mode="nearest"``, truncate 4.
    On the CPU OpenCV filters (see :func:`separable_filter_opencv`), elsewhere torch.
    """
    sigma_h, sigma_w = (sigma, sigma) if isinstance(sigma, int | float) else sigma
    taps = {
        dim: gaussian_kernel1d(sd, truncate, torch.float64)
        for dim, sd in ((2, sigma_h), (3, sigma_w))
        if sd > 0
    }
    if len(taps) == 2 and opencv_can_filter(x, max(t.numel() for t in taps.values()) // 2):
        return separable_filter_opencv(x, taps[2].numpy(), taps[3].numpy(), mode)
    out = x
    for dim, kernel in taps.items():
        out = convolve1d(out, kernel.to(dtype=x.dtype, device=x.device), dim, mode)
    return out


def pixel_to_grid(coord: torch.Tensor, size: int) -> torch.Tensor:
    """Pixel coordinates -> ``grid_sample``'s normalized coordinates (``align_corners=False``)."""
    return (2.0 * coord + 1.0) / size - 1.0


def next_power_of_two(n: int) -> int:
    return 1 if n <= 1 else 1 << math.ceil(math.log2(n))

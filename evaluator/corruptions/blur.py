"""The blur family: defocus_blur, glass_blur, motion_blur, zoom_blur and gaussian_blur (holdout).

Torch ports of imagecorruptions (``imagenet-c``) with the make_cifar_c tables (``cifar10-c``).
Random draws come from the per-image CPU generators (see ``_spec``): motion_blur draws its angle,
glass_blur its pixel displacements. Deterministic corruptions match the reference within one grey
level. glass_blur reproduces the reference's sequential pixel-swapping loop exactly (for given
offsets) with a few batched gathers, resolving its chains of copies by pointer jumping (see
``glass_sources``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from evaluator.corruptions import _ops
from evaluator.corruptions._filters import (
    filter2d,
    gaussian_filter,
    motion_blur,
    uniform,
    zoom_crop,
)
from evaluator.corruptions._spec import CorruptionSpec


@dataclass(frozen=True)
class Defocus:
    radius: float
    alias_blur: float


@dataclass(frozen=True)
class Glass:
    sigma: float
    max_delta: int
    iterations: int


@dataclass(frozen=True)
class Motion:
    radius: int
    sigma: float


@dataclass(frozen=True)
class Zoom:
    stop: float  # zoom factors are np.arange(1, stop, step), exactly as the reference builds them
    step: float
    centre_trim: bool  # make_cifar_c trims the zoomed layer around the centre, imagecorruptions top-left


# ---- parameter tables (severity 1..5) -------------------------------------------------------------

DEFOCUS_BLUR = {
    "imagenet-c": (Defocus(3, 0.1), Defocus(4, 0.5), Defocus(6, 0.5), Defocus(8, 0.5), Defocus(10, 0.5)),
    "cifar10-c": (
        Defocus(0.3, 0.4),
        Defocus(0.4, 0.5),
        Defocus(0.5, 0.6),
        Defocus(1, 0.2),
        Defocus(1.5, 0.1),
    ),
}
GLASS_BLUR = {
    "imagenet-c": (Glass(0.7, 1, 2), Glass(0.9, 2, 1), Glass(1, 2, 3), Glass(1.1, 3, 2), Glass(1.5, 4, 2)),
    "cifar10-c": (
        Glass(0.05, 1, 1),
        Glass(0.25, 1, 1),
        Glass(0.4, 1, 1),
        Glass(0.25, 1, 2),
        Glass(0.4, 1, 2),
    ),
}
MOTION_BLUR = {
    "imagenet-c": (Motion(10, 3), Motion(15, 5), Motion(15, 8), Motion(15, 12), Motion(20, 15)),
    "cifar10-c": (Motion(6, 1), Motion(6, 1.5), Motion(6, 2), Motion(8, 2), Motion(9, 2.5)),
}
ZOOM_BLUR = {
    "imagenet-c": (
        Zoom(1.11, 0.01, False),
        Zoom(1.16, 0.01, False),
        Zoom(1.21, 0.02, False),
        Zoom(1.26, 0.02, False),
        Zoom(1.31, 0.03, False),
    ),
    "cifar10-c": (
        Zoom(1.06, 0.01, True),
        Zoom(1.11, 0.01, True),
        Zoom(1.16, 0.01, True),
        Zoom(1.21, 0.01, True),
        Zoom(1.26, 0.01, True),
    ),
}
GAUSSIAN_BLUR = {
    "imagenet-c": (1.0, 2.0, 3.0, 4.0, 6.0),
    "cifar10-c": (0.4, 0.6, 0.7, 0.8, 1.0),
}
MOTION_ANGLE_RANGE = (-45.0, 45.0)
ZOOM_MATMUL_MAX_SIDE = 64  # zoom_blur: interpolation matrices up to this side, torch's kernel above


# ---- helpers --------------------------------------------------------------------------------------


def _disk_parts(radius: float, alias_blur: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """imagecorruptions' ``disk`` before its smoothing: the coordinates along each axis of its array,
    the aliased disk on them (bool) and the taps of cv2.getGaussianKernel(ksize, alias_blur), ksize 3
    up to radius 8, then 5."""
    if radius <= 8:
        coords = np.arange(-8, 8 + 1)
        ksize = 3
    else:
        coords = np.arange(-radius, radius + 1)
        ksize = 5
    xx, yy = np.meshgrid(coords, coords)
    t = np.arange(ksize, dtype=np.float64) - (ksize - 1) / 2
    g = np.exp(-(t**2) / (2 * alias_blur**2))
    return coords, (xx**2 + yy**2) <= radius**2, g / g.sum()


@lru_cache(maxsize=32)
def disk_kernel(radius: float, alias_blur: float) -> torch.Tensor:
    """imagecorruptions' ``disk``: a normalised aliased disk smoothed by cv2.GaussianBlur."""
    _, inside, g = _disk_parts(radius, alias_blur)
    aliased = inside.astype(np.float32)
    aliased /= np.sum(aliased)
    # cv2.getGaussianKernel(ksize, sigma) applied separably with BORDER_REFLECT_101
    ksize = g.size
    r = ksize // 2
    padded = np.pad(aliased.astype(np.float64), r, mode="reflect")
    rows = sum(g[i] * padded[i : i + aliased.shape[0], :] for i in range(ksize))
    smooth = sum(g[i] * rows[:, i : i + aliased.shape[1]] for i in range(ksize))
    return torch.from_numpy(smooth.astype(np.float32))


@dataclass(frozen=True)
class DiskRuns:
    """``disk_kernel`` as a disk of row runs, then a separable Gaussian (``_defocus_kernel``)."""

    half: int  # the kernel array's half size: the reflect-101 padding filter2D uses
    row_offsets: np.ndarray
    run_starts: np.ndarray
    run_stops: np.ndarray
    scale: float  # each disk pixel's weight (1 / area)
    taps: np.ndarray  # the Gaussian's taps (float32)


@lru_cache(maxsize=32)
def disk_runs(radius: float, alias_blur: float) -> DiskRuns | None:
    """The row-run form of ``disk_kernel(radius, alias_blur)``, or None where the Gaussian smoothing
    reaches the edge of the kernel's array (there the kernel is not exactly Gaussian * disk)."""
    coords, inside, g = _disk_parts(radius, alias_blur)
    if not np.array_equal(coords, np.round(coords)):  # offsets of whole pixels only
        return None
    coords = coords.astype(np.int64)
    half, ksize = int(coords[-1]), g.size
    reach = ksize // 2
    rows = np.flatnonzero(inside.any(axis=1))
    if np.abs(coords[rows]).max() + reach > half or np.abs(coords[inside.any(axis=0)]).max() + reach > half:
        return None
    starts, stops = [], []
    for row in rows:
        cols = np.flatnonzero(inside[row])
        assert cols[-1] - cols[0] + 1 == cols.size, "a disk row is one run"
        starts.append(coords[cols[0]])
        stops.append(coords[cols[-1]])
    runs = DiskRuns(
        half=half,
        row_offsets=coords[rows].astype(np.int64),
        run_starts=np.array(starts, dtype=np.int64),
        run_stops=np.array(stops, dtype=np.int64),
        scale=1.0 / float(inside.sum()),
        taps=g.astype(np.float32),
    )
    # the promise: Gaussian * disk is the kernel the reference builds
    full = np.zeros((2 * half + 1 + 2 * reach,) * 2)
    full[reach:-reach, reach:-reach] = inside * runs.scale
    smooth = sum(
        g[i] * g[j] * full[i : i + 2 * half + 1, j : j + 2 * half + 1]
        for i in range(ksize)
        for j in range(ksize)
    )
    assert np.allclose(smooth, disk_kernel(radius, alias_blur).numpy(), rtol=0, atol=1e-6)
    return runs


def _defocus_cpu(images: torch.Tensor, runs: DiskRuns) -> torch.Tensor:
    """defocus_blur on CPU float32 pictures through ``_defocus_kernel``, one plane per call."""
    import torch.nn.functional as F

    from evaluator.corruptions._defocus_kernel import disk_then_gaussian

    n, c, h, w = images.shape
    padded = F.pad(images.reshape(n * c, 1, h, w), (runs.half,) * 4, mode="reflect").reshape(
        n * c, h + 2 * runs.half, -1
    )
    planes = padded.numpy()
    out = torch.empty(n * c, h, w)
    target = out.numpy()
    scale = np.float32(runs.scale)
    _ops.map_pictures(
        lambda i: disk_then_gaussian(
            planes[i],
            runs.half,
            runs.row_offsets,
            runs.run_starts,
            runs.run_stops,
            scale,
            runs.taps,
            target[i],
        ),
        range(n * c),
        h * w,
    )
    return out.reshape(n, c, h, w)


def zoom_factors(param: Zoom) -> tuple[float, ...]:
    return tuple(float(z) for z in np.arange(1, param.stop, param.step))


def glass_offsets(h: int, w: int, param: Glass, generators) -> torch.Tensor:
    """(N, iterations, H*W) uint8: per picture and iteration the code of every pixel's offset,
    dy, dx = divmod(code, 2d) - d, uniform in [-d, d) each (one draw per pixel)."""
    span = 2 * param.max_delta
    codes = _ops.randint(generators, span * span, (param.iterations * h * w,), "cpu")
    return codes.reshape(len(generators), param.iterations, h * w)


@lru_cache(maxsize=32)
def _glass_grid(
    n: int, h: int, w: int, d: int, device: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Global pixel index of a flattened (N, H*W) batch, the pixels the loop visits, flat step per code."""
    index = torch.arange(n * h * w, device=device)
    pixel = index % (h * w)
    rows, cols = pixel // w, pixel % w
    visited = (rows > d) & (rows <= h - d) & (cols > d) & (cols <= w - d)
    span = 2 * d
    code_step = torch.tensor(
        [(c // span - d) * w + (c % span - d) for c in range(span * span)], device=device
    )
    return index, visited, code_step


def glass_sources(h: int, w: int, max_delta: int, offsets: torch.Tensor) -> torch.Tensor:
    """(N, H*W) flat source index of every output pixel after the reference's pixel-"swapping" loop.

    The reference visits (h, w) from the bottom-right to the top-left (h in (d, H-d], w in (d, W-d])
    and runs ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` with (h', w') = (h + dy, w + dx), dy, dx
    uniform in [-d, d). On an (H, W, 3) array both sides are views, so this copies x[h', w'] into
    x[h, w] and leaves x[h', w'] unchanged (the original ImageNet-C code behaves the same way).
    The value copied is the current one: if (h', w') was already visited in this pass (it comes
    later in row-major order), it holds what it copied itself. So the pass is
    ``out[p] = prev[end of the chain p -> p + offset(p) -> ...]``, the chain following offsets while
    they point to already-visited pixels. We resolve every chain at once by pointer jumping; the
    result equals the sequential loop for the same offsets (``glass_offsets``' codes), in
    O(log chain length) gathers.
    """
    n, device = offsets.shape[0], offsets.device
    index, visited, code_step = _glass_grid(n, h, w, max_delta, str(device))
    sources = index
    for offset in offsets.unbind(1):
        step = code_step.index_select(0, offset.reshape(-1).to(torch.int64))
        target = torch.where(visited, index + step, index)
        follows = visited & (step > 0) & visited.index_select(0, target)
        # pointer jumping over the pixels still following a chain (a shrinking set): a resolved
        # pixel's answer is final; a following one takes its pointer's answer once that is resolved
        answer, pointer = target, target.clone()  # answer is updated in place
        active = follows.nonzero().squeeze(1)
        while active.numel():
            ahead = pointer.index_select(0, active)
            settled = ~follows.index_select(0, ahead)
            done, ahead_done = active[settled], ahead[settled]
            answer.index_copy_(0, done, answer.index_select(0, ahead_done))
            follows.index_fill_(0, done, False)
            active, ahead = active[~settled], ahead[~settled]
            pointer.index_copy_(0, active, pointer.index_select(0, ahead))
        sources = sources.index_select(0, answer)
    return (sources % (h * w)).reshape(n, h * w)


# ---- corruptions ----------------------------------------------------------------------------------


def gaussian_blur(images: torch.Tensor, sigma: float, generators) -> torch.Tensor:
    """skimage.filters.gaussian(x / 255, sigma) per channel, borders 'nearest'."""
    return gaussian_filter(images, sigma).clamp_(0, 255)  # linear: no need to scale to [0, 1]


def defocus_blur(images: torch.Tensor, param: Defocus, generators) -> torch.Tensor:
    """cv2.filter2D of each channel with the anti-aliased disk (reflect-101 borders)."""
    runs = disk_runs(float(param.radius), float(param.alias_blur))
    if runs is not None and images.device.type == "cpu" and min(images.shape[-2:]) > runs.half:
        return _defocus_cpu(images, runs).clamp_(0, 255)
    kernel = disk_kernel(float(param.radius), float(param.alias_blur))
    return filter2d(images, kernel, "reflect").clamp_(0, 255)  # linear: no need to scale to [0, 1]


def motion_blur_images(images: torch.Tensor, param: Motion, generators) -> torch.Tensor:
    """Blur along a random angle in [-45, 45) degrees with a one-sided Gaussian (edges replicated)."""
    angles = [uniform(g, *MOTION_ANGLE_RANGE) for g in generators]
    return apply_motion_blur(images, param, angles)


def apply_motion_blur(images: torch.Tensor, param: Motion, angles: list[float]) -> torch.Tensor:
    """motion_blur given its draw: an angle in degrees per image."""
    return motion_blur(images, param.radius, param.sigma, angles).clamp_(0, 255)


def zoom_blur(images: torch.Tensor, param: Zoom, generators) -> torch.Tensor:
    """Average of the image and its centre zooms by each factor (bilinear, top-left/centre crop).

    Each zoom is two products with small cached interpolation matrices (rows, then columns) that
    hold torch's bilinear ``align_corners=True`` weights for just the output rows and columns kept:
    a few BLAS calls instead of a resampling kernel on a strided crop (the same result as
    ``F.interpolate`` up to float rounding). The dense products cost O(side) per pixel: larger
    pictures keep torch's kernel.
    """
    x = images
    h, w = x.shape[-2:]
    device = _device_key(x.device)
    out = x.clone()
    factors = zoom_factors(param)
    for z in factors:
        if max(h, w) > ZOOM_MATMUL_MAX_SIDE:
            out += zoom_crop(x, z, param.centre_trim)[..., :h, :w]
            continue
        top, rows = _zoom_matrix(h, z, param.centre_trim, device)
        left, cols = _zoom_matrix(w, z, param.centre_trim, device)
        crop = x[..., top : top + rows.shape[1], left : left + cols.shape[1]]
        out += rows @ (crop @ cols.T)
    return out.mul_(1.0 / (len(factors) + 1)).clamp_(0, 255)


def _device_key(device: torch.device) -> str:
    return str(torch.device(device))


@lru_cache(maxsize=256)
def _zoom_matrix(side: int, zoom: float, centre_trim: bool, device: str) -> tuple[int, torch.Tensor]:
    """``zoom_crop`` along one axis as (first input index, (side, crop) matrix): crop the centre
    ceil(side / zoom) pixels, resample them bilinearly to round(crop * zoom) (align_corners=True,
    float32 source positions as torch computes them) and keep ``side`` outputs (top-left, or the
    centre with ``centre_trim``)."""
    crop = math.ceil(side / zoom)
    start = (side - crop) // 2
    size = round(crop * zoom)
    first = (size - side) // 2 if centre_trim else 0
    m = np.zeros((side, crop), dtype=np.float32)
    scale = np.float32((crop - 1) / (size - 1)) if size > 1 else np.float32(0)
    for i in range(min(side, size - first)):
        src = np.float32(scale * np.float32(first + i))
        i0 = min(int(src), crop - 1)
        lam1 = np.float32(src - np.float32(i0))
        i1 = i0 + (1 if i0 < crop - 1 else 0)
        m[i, i0] += np.float32(1) - lam1
        m[i, i1] += lam1
    return start, torch.from_numpy(m).to(device)


def glass_blur(images: torch.Tensor, param: Glass, generators) -> torch.Tensor:
    """Gaussian blur, truncate to uint8, the reference's local pixel shuffle, Gaussian blur again."""
    n, c, h, w = images.shape
    x = torch.floor_(gaussian_filter(images, param.sigma))  # np.uint8(gaussian(x / 255) * 255)
    offsets = glass_offsets(h, w, param, generators)
    if images.device.type == "cpu":
        from evaluator.corruptions._glass_kernel import glass_shuffle_sources, take_pixels

        codes, pixels = offsets.numpy(), x.reshape(n, c, h * w).numpy()
        shuffled = torch.empty_like(x)
        target = shuffled.reshape(n, c, h * w).numpy()
        _ops.map_pictures(
            lambda i: take_pixels(
                pixels[i], glass_shuffle_sources(h, w, param.max_delta, codes[i]), target[i]
            ),
            range(n),
            codes[0].size,
        )
    else:
        sources = glass_sources(h, w, param.max_delta, offsets.to(images.device))
        shuffled = torch.gather(x.reshape(n, c, h * w), 2, sources[:, None, :].expand(n, c, h * w))
    return gaussian_filter(shuffled.reshape(n, c, h, w), param.sigma).clamp_(0, 255)


SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec("defocus_blur", "blur", defocus_blur, DEFOCUS_BLUR, random=False),
    CorruptionSpec("glass_blur", "blur", glass_blur, GLASS_BLUR, random=True),
    CorruptionSpec("motion_blur", "blur", motion_blur_images, MOTION_BLUR, random=True),
    # zoom_blur is a dozen large resampling kernels: they spread best over torch's threads
    CorruptionSpec("zoom_blur", "blur", zoom_blur, ZOOM_BLUR, random=False, spread="ops"),
    CorruptionSpec("gaussian_blur", "blur", gaussian_blur, GAUSSIAN_BLUR, random=False),
)

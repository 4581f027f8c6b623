"""Noise corruptions: gaussian_noise, shot_noise, impulse_noise, speckle_noise.

All four work on intensities in [0, 1] and clip back to [0, 1] (as imagecorruptions and make_cifar_c do):

- gaussian_noise: ``x + N(0, sigma)``
- shot_noise: ``Poisson(x * rate) / rate`` (exact Poisson sampling, see :func:`poisson_counts`)
- impulse_noise: salt & pepper: each value is replaced with probability ``amount``, by 1 or 0 with equal odds
  (``skimage.util.random_noise(mode="s&p")``)
- speckle_noise: ``x + x * N(0, sigma)``

Every draw comes from the picture's own stream (``_random_kernel``: SplitMix64, ziggurat normals).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from evaluator.corruptions import _ops
from evaluator.corruptions._spec import CorruptionSpec

# Parameter tables, severities 1..5.
GAUSSIAN_SIGMA = {"imagenet-c": (0.08, 0.12, 0.18, 0.26, 0.38), "cifar10-c": (0.04, 0.06, 0.08, 0.09, 0.10)}
SHOT_RATE = {"imagenet-c": (60, 25, 12, 5, 3), "cifar10-c": (500, 250, 100, 75, 50)}
IMPULSE_AMOUNT = {"imagenet-c": (0.03, 0.06, 0.09, 0.17, 0.27), "cifar10-c": (0.01, 0.02, 0.03, 0.05, 0.07)}
SPECKLE_SIGMA = {"imagenet-c": (0.15, 0.2, 0.35, 0.45, 0.6), "cifar10-c": (0.06, 0.1, 0.12, 0.16, 0.2)}


def _fused(kernel_name: str, images: torch.Tensor, generators, *args) -> torch.Tensor:
    """A CPU uint8 batch through one of ``_random_kernel``'s noise kernels (draw and apply in one pass),
    the pictures split over threads."""
    from evaluator.corruptions import _random_kernel

    kernel = getattr(_random_kernel, kernel_name)
    keys = _ops.picture_keys(generators)
    flat = images.contiguous().reshape(images.shape[0], -1).numpy()
    out = np.empty_like(flat)
    _ops.map_row_groups(
        lambda rows: kernel(flat[rows], keys[rows], *args, out[rows]), flat.shape[0], flat.shape[1]
    )
    return torch.from_numpy(out).reshape(images.shape)


def _quantized(values: torch.Tensor) -> torch.Tensor:
    """The engine's quantization (clip, truncate), for the formulas on other devices."""
    return values.clamp_(0, 255).to(torch.uint8)


# Each noise has a fused CPU kernel and a torch formula (any device) that draw the same numbers and
# round the same float32 operations in the same order: the same bytes (tested).


def gaussian_noise(images: torch.Tensor, sigma: float, generators) -> torch.Tensor:
    """uint8 in, uint8 out: ``clip(x / 255 + n sigma, 0, 1) * 255 == clip(x + n * (255 sigma), 0, 255)``."""
    scale = np.float32(255.0 * sigma)
    if images.device.type == "cpu":
        return _fused("normal_noise", images, generators, scale, False)
    return gaussian_noise_formula(images, scale, generators)


def gaussian_noise_formula(images: torch.Tensor, scale: float, generators) -> torch.Tensor:
    noise = _ops.randn(generators, images.shape[1:], images.device)
    return _quantized(noise.mul_(float(scale)).add_(images))


def speckle_noise(images: torch.Tensor, sigma: float, generators) -> torch.Tensor:
    """uint8 in, uint8 out: ``x + x * sigma n == x * (n * sigma + 1)``."""
    if images.device.type == "cpu":
        return _fused("normal_noise", images, generators, np.float32(sigma), True)
    return speckle_noise_formula(images, sigma, generators)


def speckle_noise_formula(images: torch.Tensor, sigma: float, generators) -> torch.Tensor:
    noise = _ops.randn(generators, images.shape[1:], images.device)
    return _quantized(noise.mul_(float(sigma)).add_(1.0).mul_(images))


def impulse_noise(images: torch.Tensor, amount: float, generators) -> torch.Tensor:
    """uint8 in, uint8 out. skimage's s&p: every value is flipped with p = amount, a flipped value becomes
    255 (salt) or 0 (pepper) with equal odds: one uniform u per value, ``u < amount / 2`` salt,
    ``amount / 2 <= u < amount`` pepper."""
    if images.device.type == "cpu":
        return _fused("impulse_noise", images, generators, np.float32(amount), np.float32(amount / 2))
    return impulse_noise_formula(images, amount, generators)


def impulse_noise_formula(images: torch.Tensor, amount: float, generators) -> torch.Tensor:
    u = _ops.rand(generators, images.shape[1:], images.device)
    salt_or_pepper = (u < amount / 2).to(torch.uint8).mul_(255)
    return torch.where(u < amount, salt_or_pepper, images)


_GUIDE_PER_COUNT = 4  # guide-table buckets per possible count: almost every lookup lands on the answer


@functools.lru_cache(maxsize=32)
def _poisson_tables(rate: float) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """For the 256 means ``v / 255 * rate``: their CDFs (256 * K, float32) and guide tables (256 * T, int64)
    where ``guide[v, j]`` is the smallest count k with ``CDF_v(k) > j / T``."""
    k_max = math.ceil(rate + 12 * math.sqrt(rate) + 30)
    k = torch.arange(k_max, dtype=torch.float64)
    lam = torch.arange(256, dtype=torch.float64)[:, None] / 255.0 * rate
    pmf = torch.exp(k * torch.log(lam.clamp_min(1e-300)) - lam - torch.lgamma(k + 1))
    pmf[0] = 0.0
    pmf[0, 0] = 1.0  # Poisson(0) is always 0
    cdf = torch.cumsum(pmf, dim=1).clamp_(max=1.0)
    cdf[:, -1] = 1.0  # the tail beyond K (< 1e-20) is folded into the last count
    buckets = _GUIDE_PER_COUNT * k_max
    thresholds = (torch.arange(buckets, dtype=torch.float64) / buckets).expand(256, buckets).contiguous()
    guide = torch.searchsorted(cdf, thresholds, right=True).clamp_(max=k_max - 1)
    return cdf.float().reshape(-1), guide.reshape(-1), k_max, buckets


def poisson_counts(levels: torch.Tensor, rate: float, uniforms: torch.Tensor) -> torch.Tensor:
    """Exact Poisson(level / 255 * rate) samples by inversion, for flat int32 grey levels 0..255.

    Pictures come from uint8, so there are only 256 distinct means: their CDFs are tabulated once per
    rate. The sample for a uniform ``u`` is the smallest k with ``CDF(k) > u``; a guide table indexed by
    ``u`` gives a lower bound that is almost always the answer, and the few others step up from it.
    Much faster than ``torch.poisson`` on the CPU, and device agnostic. Returns int32 counts.
    """
    cdf, guide, k_max, buckets = _poisson_tables(rate)
    cdf, guide = cdf.to(levels.device), guide.to(levels.device, torch.int32)
    bucket = uniforms.mul(buckets).to(torch.int32).clamp_(max=buckets - 1)
    counts = guide.index_select(0, bucket.add_(levels * buckets))
    base = levels.mul_(k_max)  # (levels is consumed)
    behind = (cdf.index_select(0, base + counts) <= uniforms).nonzero().squeeze(1)  # the answer is further
    while behind.numel():
        at = counts.index_select(0, behind).add_(1)
        counts.index_copy_(0, behind, at)
        still = (
            cdf.index_select(0, base.index_select(0, behind) + at) <= uniforms.index_select(0, behind)
        ) & (at < k_max - 1)
        behind = behind[still]
    return counts


_SHOT_BUCKETS = 1024  # uniform buckets per grey level of the shot-noise lookup table (a power of two)


@functools.lru_cache(maxsize=32)
def _shot_table(rate: float) -> torch.Tensor:
    """The shot-noise output for (grey level ``v``, uniform bucket ``j``), flat (256 * B) int16, where the
    bucket ``[j / B, (j + 1) / B)`` maps to a single Poisson count; -1 where it straddles a step of the CDF.

    Entry values are what :func:`shot_noise` would compute from that count (``k * 255 / rate``, clipped and
    truncated), so a pure bucket needs no search at all; about 1 % of the draws land in a mixed one."""
    cdf, _, k_max, _ = _poisson_tables(rate)
    cdf = cdf.double().reshape(256, k_max)  # the float32 CDF poisson_counts compares against, exactly
    steps = torch.arange(_SHOT_BUCKETS + 1, dtype=torch.float64) / _SHOT_BUCKETS
    lows, highs = (steps.expand(256, -1).contiguous() for steps in (steps[:-1], steps[1:]))
    first = torch.searchsorted(cdf, lows, right=True).clamp_(max=k_max - 1)  # the count at u = j / B
    last = torch.searchsorted(cdf, highs, right=False).clamp_(max=k_max - 1)  # >= every count below (j+1) / B
    values = _count_values(rate, k_max).to(torch.int16)[first]
    return torch.where(first == last, values, torch.full_like(values, -1)).reshape(-1)


def _count_values(rate: float, k_max: int) -> torch.Tensor:
    """uint8 output for each Poisson count: ``clip(k / rate, 0, 1) * 255``, truncated (float32, as before)."""
    return torch.arange(k_max, dtype=torch.float32).mul_(255.0 / rate).clamp_(0, 255).to(torch.uint8)


def shot_noise(images: torch.Tensor, rate: float, generators) -> torch.Tensor:
    """uint8 in, uint8 out: one uniform per value, mapped to its Poisson(level / 255 * rate) count by
    inversion (:func:`poisson_counts`), the count to its output level. The 256 levels make a table of
    (level, uniform bucket) -> output; the draws in the few buckets that straddle two counts are inverted
    exactly."""
    rate = float(rate)
    if images.device.type != "cpu":
        return shot_noise_formula(images, rate, generators)
    cdf, _, k_max, _ = _poisson_tables(rate)
    tables = (_shot_table(rate).numpy(), _SHOT_BUCKETS, cdf.reshape(256, k_max).numpy())
    return _fused("shot_noise", images, generators, *tables, _count_values(rate, k_max).numpy())


def shot_noise_formula(images: torch.Tensor, rate: float, generators) -> torch.Tensor:
    table = _shot_table(rate).to(images.device)
    u = _ops.rand(generators, images.shape[1:], images.device).reshape(-1)
    levels = images.reshape(-1).to(torch.int32)
    index = u.mul(_SHOT_BUCKETS).to(torch.int32)  # exact (B is a power of two): j / B <= u < (j + 1) / B
    index.add_(levels, alpha=_SHOT_BUCKETS)
    out = table.index_select(0, index)
    mixed = (out < 0).nonzero().squeeze(1)
    if mixed.numel():
        counts = poisson_counts(levels.index_select(0, mixed), rate, u.index_select(0, mixed))
        values = _count_values(rate, _poisson_tables(rate)[2]).to(images.device, torch.int16)
        out.index_copy_(0, mixed, values.index_select(0, counts))
    return out.to(torch.uint8).reshape(images.shape)


SPECS = (
    CorruptionSpec("gaussian_noise", "noise", gaussian_noise, GAUSSIAN_SIGMA, random=True, uint8_io=True),
    CorruptionSpec("shot_noise", "noise", shot_noise, SHOT_RATE, random=True, uint8_io=True),
    CorruptionSpec("impulse_noise", "noise", impulse_noise, IMPULSE_AMOUNT, random=True, uint8_io=True),
    CorruptionSpec("speckle_noise", "noise", speckle_noise, SPECKLE_SIGMA, random=True, uint8_io=True),
)

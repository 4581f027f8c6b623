"""Noise corruptions: gaussian_noise, shot_noise, impulse_noise, speckle_noise.

All four work on intensities in [0, 1] and clip back to [0, 1] (as imagecorruptions and make_cifar_c do):

- gaussian_noise: ``x + N(0, sigma)``
- shot_noise: ``Poisson(x * rate) / rate`` (exact Poisson sampling, see :func:`poisson_counts`)
- impulse_noise: salt & pepper: each value is replaced with probability ``amount``, by 1 or 0 with equal odds
  (``skimage.util.random_noise(mode="s&p")``)
- speckle_noise: ``x + x * N(0, sigma)``
"""

from __future__ import annotations

import functools
import math

import torch

from evaluator.corruptions import _ops
from evaluator.corruptions._spec import CorruptionSpec

# Parameter tables, severities 1..5.
GAUSSIAN_SIGMA = {"imagenet-c": (0.08, 0.12, 0.18, 0.26, 0.38), "cifar10-c": (0.04, 0.06, 0.08, 0.09, 0.10)}
SHOT_RATE = {"imagenet-c": (60, 25, 12, 5, 3), "cifar10-c": (500, 250, 100, 75, 50)}
IMPULSE_AMOUNT = {"imagenet-c": (0.03, 0.06, 0.09, 0.17, 0.27), "cifar10-c": (0.01, 0.02, 0.03, 0.05, 0.07)}
SPECKLE_SIGMA = {"imagenet-c": (0.15, 0.2, 0.35, 0.45, 0.6), "cifar10-c": (0.06, 0.1, 0.12, 0.16, 0.2)}


def gaussian_noise(images: torch.Tensor, sigma: float, generators) -> torch.Tensor:
    noise = _ops.randn(generators, images.shape[1:], images.device)
    return (images / 255.0 + noise.mul_(sigma)).clamp_(0, 1).mul_(255)


def speckle_noise(images: torch.Tensor, sigma: float, generators) -> torch.Tensor:
    x = images / 255.0
    noise = _ops.randn(generators, images.shape[1:], images.device)
    return (x + x * noise.mul_(sigma)).clamp_(0, 1).mul_(255)


def impulse_noise(images: torch.Tensor, amount: float, generators) -> torch.Tensor:
    # One uniform per value: u < amount/2 -> salt (1), amount/2 <= u < amount -> pepper (0): the same
    # distribution as skimage's two Bernoulli draws (flipped with p=amount, salted with p=0.5).
    u = _ops.rand(generators, images.shape[1:], images.device)
    out = images / 255.0
    out = torch.where(u < amount, (u < amount / 2).to(out.dtype), out)
    return out.clamp_(0, 1).mul_(255)


@functools.lru_cache(maxsize=32)
def _poisson_cdf_table(rate: float) -> torch.Tensor:
    """CDFs of Poisson(v / 255 * rate) for v = 0..255, row v shifted by +v so that all rows, flattened,
    form one non-decreasing sequence (searched at once by :func:`poisson_counts`). float64, (256 * K,)."""
    lam_max = float(rate)
    k_max = math.ceil(lam_max + 12 * math.sqrt(lam_max) + 30)
    k = torch.arange(k_max, dtype=torch.float64)
    lam = torch.arange(256, dtype=torch.float64)[:, None] / 255.0 * rate
    log_pmf = k * torch.log(lam.clamp_min(1e-300)) - lam - torch.lgamma(k + 1)
    pmf = torch.exp(log_pmf)
    pmf[0] = 0.0
    pmf[0, 0] = 1.0  # Poisson(0) is always 0
    cdf = torch.cumsum(pmf, dim=1).clamp_(max=1.0)
    return (cdf + torch.arange(256, dtype=torch.float64)[:, None]).reshape(-1)


def poisson_counts(levels: torch.Tensor, rate: float, uniforms: torch.Tensor) -> torch.Tensor:
    """Exact Poisson(level / 255 * rate) samples by inversion, for integer grey levels 0..255.

    Inputs come from uint8 pictures, so there are only 256 distinct means: their CDFs are tabulated once
    per rate and each sample is ``#{k : CDF(k) <= u}``, found with one ``searchsorted`` over all rows
    (row ``v`` offset by ``+v``). Much faster than ``torch.poisson`` on the CPU, and device agnostic.
    """
    table = _poisson_cdf_table(float(rate)).to(levels.device)
    k_max = table.numel() // 256
    v = levels.to(torch.float64)
    idx = torch.searchsorted(table, v + uniforms.to(torch.float64), right=True)
    return (idx - v.long() * k_max).to(torch.float32)


def shot_noise(images: torch.Tensor, rate: float, generators) -> torch.Tensor:
    levels = images.round().clamp_(0, 255)
    if torch.equal(levels, images):
        u = _ops.rand(generators, images.shape[1:], images.device)
        counts = poisson_counts(levels, rate, u)
    else:  # non-integer input (not from a uint8 picture): the generic sampler, image by image
        counts = torch.stack(
            [
                torch.poisson((img.cpu() / 255.0 * rate).double(), generator=gen).float()
                for img, gen in zip(images, generators, strict=True)
            ]
        ).to(images.device)
    return (counts / rate).clamp_(0, 1).mul_(255)


SPECS = (
    CorruptionSpec("gaussian_noise", "noise", gaussian_noise, GAUSSIAN_SIGMA, random=True),
    CorruptionSpec("shot_noise", "noise", shot_noise, SHOT_RATE, random=True),
    CorruptionSpec("impulse_noise", "noise", impulse_noise, IMPULSE_AMOUNT, random=True),
    CorruptionSpec("speckle_noise", "noise", speckle_noise, SPECKLE_SIGMA, random=True),
)

"""The per-picture random streams (``_random_kernel``) and the noise corruptions fused with them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import special, stats

from evaluator.corruptions import _ops, noise, seeding


def _z_score(count: int, n: int, p: float) -> float:
    return (count - n * p) / np.sqrt(n * p * (1 - p))


def test_normals_follow_the_standard_normal_law_into_the_tails():
    # 4 pictures x 1M values: the ziggurat's rectangles, wedges (|x| up to R = 3.65) and tail (beyond R)
    normals = _ops.randn(seeding.generators([1, 2, 3, 4]), (1 << 20,), "cpu")
    assert normals.dtype == torch.float32 and normals.shape == (4, 1 << 20)
    draws = normals.double().flatten().numpy()
    n = draws.size
    assert abs(draws.mean()) < 5 / np.sqrt(n)
    assert abs(draws.var() - 1) < 5 * np.sqrt(2 / n)
    for t in (0.5, 1.0, 2.0, 3.0, 3.5, 3.65, 4.0, 4.5):
        p = special.erfc(t / np.sqrt(2))
        assert abs(_z_score(int((np.abs(draws) > t).sum()), n, p)) < 5, t
    assert abs(_z_score(int((draws > 0).sum()), n, 0.5)) < 5  # both signs
    assert stats.kstest(draws, "norm").pvalue > 1e-4
    assert np.isfinite(draws).all()


def test_uniforms_are_24_bit_float32_in_the_unit_interval():
    draws = _ops.rand(seeding.generators([5, 6]), (1 << 19,), "cpu")
    assert draws.dtype == torch.float32 and draws.min() >= 0 and draws.max() < 1
    steps = draws.double() * 2**24
    assert torch.equal(steps, steps.round())  # multiples of 2**-24, as torch.rand's
    assert stats.kstest(draws.double().flatten().numpy(), "uniform").pvalue > 1e-4
    # consecutive values are independent
    flat = draws.double().flatten().numpy()
    assert abs(np.corrcoef(flat[:-1], flat[1:])[0, 1]) < 5 / np.sqrt(flat.size)


def test_streams_depend_only_on_the_pictures_generator():
    both = _ops.randn(seeding.generators([7, 8]), (1000,), "cpu")
    alone = _ops.randn(seeding.generators([8]), (1000,), "cpu")
    assert torch.equal(both[1], alone[0]) and not torch.equal(both[0], both[1])
    longer = _ops.randn(seeding.generators([8]), (5000,), "cpu")  # crosses several blocks
    assert torch.equal(longer[0, :1000], alone[0])


@pytest.mark.parametrize(
    ("name", "param", "formula_param"),
    [
        ("gaussian_noise", 0.38, np.float32(255 * 0.38)),
        ("gaussian_noise", 0.08, np.float32(255 * 0.08)),
        ("speckle_noise", 0.6, 0.6),
        ("impulse_noise", 0.27, 0.27),
        ("impulse_noise", 0.01, 0.01),
        ("shot_noise", 3, 3.0),
        ("shot_noise", 60, 60.0),
        ("shot_noise", 500, 500.0),
    ],
)
def test_fused_cpu_kernels_give_the_torch_formulas_bytes(name, param, formula_param):
    # The CPU kernel draws and applies in one pass; the torch formula (run on GPUs) draws the same
    # numbers and rounds the same float32 operations: the outputs must be the same bytes
    x = torch.randint(0, 256, (3, 3, 67, 45), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    x[0, :, :8] = 0  # black and white areas: clipping on both sides
    x[1, :, :8] = 255
    seeds = [11, 12, 13]
    fused = getattr(noise, name)(x, param, seeding.generators(seeds))
    formula = getattr(noise, f"{name}_formula")(x, formula_param, seeding.generators(seeds))
    assert fused.dtype == torch.uint8 and fused.shape == x.shape
    assert torch.equal(fused, formula)
    assert not torch.equal(fused, x)


def test_impulse_noise_flips_the_right_share_to_salt_and_pepper():
    x = torch.full((2, 3, 200, 200), 128, dtype=torch.uint8)
    out = noise.impulse_noise(x, 0.09, seeding.generators([1, 2]))
    n = x.numel()
    assert abs(_z_score(int((out == 255).sum()), n, 0.045)) < 5
    assert abs(_z_score(int((out == 0).sum()), n, 0.045)) < 5
    assert int(((out != 0) & (out != 255) & (out != 128)).sum()) == 0

"""How faithful the torch backend is to the reference backend, and the criterion each corruption must meet.

Measured on real photos (``skimage.data``: astronaut, chelsea, coffee, rocket; centre-cropped square,
resized to 224 px for imagenet-c and 32 px for cifar10-c), per (corruption, parameter set, severity):

- ``exact`` (corruptions without randomness): mean absolute difference between the torch and the reference
  outputs, in grey levels, over all photos: at most ``max_mad`` (1 grey level).
- ``distribution`` (random corruptions; the two backends draw from different generators, so only the
  distribution can match): with the residual ``r = corrupted - clean`` (grey levels), average over photos
  and ``seeds`` seeds, for each backend, of mean(r), std(r) and SSIM(clean, corrupted). Criterion:
  ``|mean_t - mean_ref| <= 5 % of std_ref``, ``|std_t - std_ref| <= 5 % of std_ref`` and
  ``|SSIM_t - SSIM_ref| <= 0.02``. Where a corruption's random parameters make single draws differ a
  lot (motion_blur's angle, frost's texture, fog's fractal, spatter's drops), a handful of seeds cannot
  resolve a 5 % gap: each bound is then widened to three standard errors of the measured gap
  (``noise``), so a failure means a real difference, not sampling luck. Those corruptions are also
  compared draw by draw (the same random numbers replayed into both) in
  tests/test_corruptions_blur_weather.py.

``CRITERIA`` lists every corruption of the protocol; the tests (tests/test_corruptions_fidelity.py) and
``benchmarks/corruption_fidelity.py`` (which prints the table) both run :func:`measure` over it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from evaluator.protocol import ALL_CORRUPTIONS

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
SIZE_OF = {"imagenet-c": 224, "cifar10-c": 32}


@dataclass(frozen=True)
class Criterion:
    kind: Literal["exact", "distribution"]
    max_mad: float = 1.0  # exact: grey levels
    max_shift: float = 0.05  # distribution: |mean residual gap| / reference residual std
    max_spread: float = 0.05  # distribution: |residual std gap| / reference residual std
    max_ssim_gap: float = 0.02  # distribution: |SSIM-to-clean gap|
    seeds: dict[str, int] = field(default_factory=lambda: {"imagenet-c": 3, "cifar10-c": 12})
    note: str = ""

    def describe(self) -> str:
        if self.kind == "exact":
            return f"MAD <= {self.max_mad:g}"
        return (
            f"shift <= {self.max_shift:.0%}, spread <= {self.max_spread:.0%}, dSSIM <= {self.max_ssim_gap:g}"
        )


EXACT = Criterion("exact")
DISTRIBUTION = Criterion("distribution")

_RANDOM = {
    "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur", "motion_blur",
    "snow", "frost", "fog", "spatter", "elastic_transform",
}  # fmt: skip

# One draw decides much of the picture (an angle, one of six textures, a fractal, the drops): more seeds.
WIDE_DRAWS = Criterion(
    "distribution",
    seeds={"imagenet-c": 8, "cifar10-c": 24},
    note="high variance from draw to draw; also replayed draw by draw in test_corruptions_blur_weather.py",
)

CRITERIA: dict[str, Criterion] = {
    name: DISTRIBUTION if name in _RANDOM else EXACT for name in ALL_CORRUPTIONS
}
CRITERIA.update({name: WIDE_DRAWS for name in ("motion_blur", "frost", "fog", "spatter")})


@dataclass(frozen=True)
class Measurement:
    corruption: str
    params: str
    severity: int
    criterion: Criterion
    mad: float | None = None
    shift: float | None = None
    spread: float | None = None
    ssim_gap: float | None = None
    noise: tuple[float, float, float] = (0.0, 0.0, 0.0)  # 3 standard errors of shift, spread, ssim_gap

    @property
    def passed(self) -> bool:
        c = self.criterion
        if c.kind == "exact":
            return self.mad is not None and self.mad <= c.max_mad
        return (
            self.shift is not None
            and self.shift <= max(c.max_shift, self.noise[0])
            and self.spread <= max(c.max_spread, self.noise[1])
            and self.ssim_gap <= max(c.max_ssim_gap, self.noise[2])
        )

    def describe(self) -> str:
        c = self.criterion
        if c.kind == "exact":
            return f"MAD {self.mad:.3f}"
        text = f"shift {self.shift:.1%}, spread {self.spread:.1%}, dSSIM {self.ssim_gap:.4f}"
        if any(n > m for n, m in zip(self.noise, (c.max_shift, c.max_spread, c.max_ssim_gap), strict=True)):
            text += f" (3 s.e.: {self.noise[0]:.1%}, {self.noise[1]:.1%}, {self.noise[2]:.4f})"
        return text


@functools.lru_cache(maxsize=8)
def photos(size: int) -> tuple[np.ndarray, ...]:
    """The test photos, centre-cropped square and resized (PIL bicubic, antialiased) to ``size`` px."""
    from PIL import Image
    from skimage import data

    out = []
    for name in PHOTOS:
        img = getattr(data, name)()
        h, w = img.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = Image.fromarray(img[top : top + side, left : left + side, :3])
        resized = np.asarray(square.resize((size, size), Image.BICUBIC, reducing_gap=None))
        out.append(np.ascontiguousarray(resized))
    return tuple(out)


def _ssim(clean: np.ndarray, corrupted: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(clean, corrupted, channel_axis=2, data_range=255))


def measure(
    name: str,
    params: str,
    severity: int,
    criterion: Criterion | None = None,
    num_photos: int = len(PHOTOS),
    seeds: int | None = None,
) -> Measurement:
    """Compare the torch backend with the reference for one corruption, parameter set and severity,
    on the first ``num_photos`` photos and (random corruptions) ``seeds`` seeds (default: the criterion's)."""
    import torch

    from evaluator.corruptions import corrupt, corrupt_batch

    criterion = criterion or CRITERIA[name]
    pictures = photos(SIZE_OF[params])[:num_photos]
    batch = torch.stack([torch.from_numpy(p.copy()).permute(2, 0, 1) for p in pictures])
    if criterion.kind == "exact":
        ours = corrupt_batch(batch, name, severity, [0] * len(pictures), params).permute(0, 2, 3, 1).numpy()
        ref = np.stack([corrupt(p, name, severity, 0, params, backend="reference") for p in pictures])
        mad = float(np.abs(ours.astype(np.float64) - ref).mean())
        return Measurement(name, params, severity, criterion, mad=mad)
    stats = {"torch": [], "reference": []}
    for seed in range(seeds or criterion.seeds[params]):
        picture_seeds = [1000 * seed + i for i in range(len(pictures))]
        ours = corrupt_batch(batch, name, severity, picture_seeds, params).permute(0, 2, 3, 1).numpy()
        refs = [
            corrupt(p, name, severity, s, params, backend="reference")
            for p, s in zip(pictures, picture_seeds, strict=True)
        ]
        for backend, outs in (("torch", ours), ("reference", refs)):
            for clean, out in zip(pictures, outs, strict=True):
                residual = out.astype(np.float64) - clean
                stats[backend].append((residual.mean(), residual.std(), _ssim(clean, out)))
    t = np.mean(stats["torch"], axis=0)
    r = np.mean(stats["reference"], axis=0)
    scale = max(r[1], 1e-6)
    # standard error of the gap, photo by photo (the photos are shared, so their spread cancels)
    n_seeds = len(stats["torch"]) // len(pictures)
    if n_seeds > 1:
        per_photo = [np.reshape(stats[b], (n_seeds, len(pictures), 3)) for b in ("torch", "reference")]
        variance = sum(np.var(s, axis=0, ddof=1).sum(axis=0) for s in per_photo) / n_seeds
        noise = 3 * np.sqrt(variance) / len(pictures) / np.array([scale, scale, 1.0])
    else:
        noise = np.zeros(3)
    return Measurement(
        name,
        params,
        severity,
        criterion,
        shift=float(abs(t[0] - r[0]) / scale),
        spread=float(abs(t[1] - r[1]) / scale),
        ssim_gap=float(abs(t[2] - r[2])),
        noise=tuple(float(v) for v in noise),
    )

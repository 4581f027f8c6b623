"""Per-image seeds: every random draw is a pure function of (benchmark seed, image, corruption, severity).

The evaluator never hands a corruption a "running" random state. Instead each image gets its own seed::

    seed = image_seed(benchmark_seed, image_id, corruption, severity)

which is the first 8 bytes (big endian, top bit cleared: a non-negative 63-bit int) of
``blake2b("rzoo.corruption-seed/1|<benchmark_seed>|<image_id>|<corruption>|<severity>")``. Python's
``hash()`` is salted per process and is never used. ``image_id`` is the dataset's stable id for the image
(a CIFAR test index, a COCO image id, an ADE20K file stem), so the same image gets the same corruption
whatever the batch composition, the order, the number of workers or the device.

The torch backend seeds one CPU ``torch.Generator`` per image with that seed (:func:`generators`); bulk
draws come from a SplitMix64 stream keyed by one draw of that generator (``_ops.picture_keys``,
``_random_kernel``). The reference backend seeds NumPy's global RNG with :func:`numpy_seed` (NumPy
wants 32 bits).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SEED_SCHEME = "rzoo.corruption-seed/1"
_MASK_63 = (1 << 63) - 1


def image_seed(benchmark_seed: int, image_id: int | str, corruption: str, severity: int) -> int:
    """The seed of one (image, corruption, severity) cell of a benchmark run: a 63-bit non-negative int."""
    key = f"{SEED_SCHEME}|{int(benchmark_seed)}|{image_id}|{corruption}|{int(severity)}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") & _MASK_63


def numpy_seed(seed: int) -> int:
    """A 32-bit seed for ``np.random.seed`` derived from any int seed (identity below 2**32)."""
    seed = int(seed)
    if 0 <= seed < 2**32:
        return seed
    digest = hashlib.blake2b(f"{SEED_SCHEME}|numpy|{seed}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def generators(seeds: Sequence[int]):
    """One seeded CPU ``torch.Generator`` per image."""
    import torch

    out = []
    for seed in seeds:
        gen = torch.Generator(device="cpu")
        gen.manual_seed(int(seed) & ((1 << 64) - 1))
        out.append(gen)
    return out

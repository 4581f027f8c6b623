"""defocus_blur's disk filter on the CPU as a sum of row boxes, compiled by Numba.

imagecorruptions' defocus kernel is an aliased disk ``D`` (normalised), smoothed by a small separable
Gaussian ``G`` (3 or 5 taps). Wherever the smoothing does not reach the edge of the kernel's array
(radius + Gaussian radius <= the array's half size: every imagenet-c severity up to 3 and every
cifar10-c one), ``K = G * D`` exactly, and filtering with ``K`` is filtering with ``D`` then ``G``.
Each row of ``D`` is one run of equal weights, so with running sums along the picture's rows the disk
costs two reads per disk row and pixel (13 rows at radius 6) instead of a 2D FFT, and ``G`` is two
short passes. float32 throughout: within 1e-3 grey levels of OpenCV's ``filter2D`` (tested).
Imported on first use (Numba compiles once, cached on disk).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def disk_then_gaussian(
    padded: np.ndarray,
    pad: int,
    row_offsets: np.ndarray,
    run_starts: np.ndarray,
    run_stops: np.ndarray,
    scale: np.float32,
    taps: np.ndarray,
    out: np.ndarray,
) -> None:
    """``out`` (H, W) = the picture filtered with the disk, then with ``taps`` along both axes.

    ``padded``: the picture (H + 2 pad, W + 2 pad) with reflect-101 borders; disk row ``k`` covers
    row offset ``row_offsets[k]`` and column offsets ``run_starts[k] .. run_stops[k]`` (inclusive),
    each pixel weighing ``scale``."""
    height, width = out.shape
    reach = taps.shape[0] // 2
    rows, cols = height + 2 * reach, width + 2 * reach  # the disk's output, wide enough for the taps
    sums = np.empty((padded.shape[0], padded.shape[1] + 1), dtype=np.float32)
    for y in range(padded.shape[0]):
        running = np.float32(0)
        sums[y, 0] = running
        source, target = padded[y], sums[y]
        for x in range(padded.shape[1]):
            running += source[x]
            target[x + 1] = running
    disk = np.empty((rows, cols), dtype=np.float32)
    first = pad - reach  # padded index of the disk output's first row / column
    for y in range(rows):
        target = disk[y]
        target[:] = 0
        for k in range(row_offsets.shape[0]):
            line = sums[first + y + row_offsets[k]]
            right = line[first + run_stops[k] + 1 : first + run_stops[k] + 1 + cols]
            left = line[first + run_starts[k] : first + run_starts[k] + cols]
            for x in range(cols):
                target[x] += right[x] - left[x]
    across = np.empty((rows, width), dtype=np.float32)
    for y in range(rows):
        source, target = disk[y], across[y]
        for x in range(width):
            target[x] = 0
        for t in range(taps.shape[0]):
            weight = taps[t] * scale
            shifted = source[t : t + width]
            for x in range(width):
                target[x] += weight * shifted[x]
    for y in range(height):
        target = out[y]
        for x in range(width):
            target[x] = 0
        for t in range(taps.shape[0]):
            weight, shifted = taps[t], across[y + t]
            for x in range(width):
                target[x] += weight * shifted[x]

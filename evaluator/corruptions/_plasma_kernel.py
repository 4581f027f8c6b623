"""fog's diamond-square height map on the CPU, compiled by Numba: one picture per call, no GIL.

The same float32 arithmetic, in the same order, as ``weather.plasma_fractal`` (the batched torch
formulation a GPU runs), which itself follows imagecorruptions' ``plasma_fractal``: a test checks the
two are equal. In torch each level is a dozen strided whole-map ops; compiled, a level is one pass over
its cells. Imported on first use (Numba compiles once, cached on disk).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def plasma_map(mapsize: int, wibble_decay: float, draws: np.ndarray) -> np.ndarray:
    """(mapsize, mapsize) float32 map in [0, 1] from ``draws``: U[0, 1) float32 numbers, per level the
    squares' noise, then the two diamond grids' (each row-major), as ``weather.plasma_draws`` counts."""
    grid = np.zeros((mapsize, mapsize), dtype=np.float32)
    two, one, quarter = np.float32(2.0), np.float32(1.0), np.float32(0.25)
    step, wibble, used = mapsize, 100.0, 0
    while step >= 2:
        k, half = mapsize // step, step // 2
        amplitude = np.float32(wibble * wibble)
        squares, lefts, tops = used, used + k * k, used + 2 * k * k
        for i in range(k):  # squares: mean of the 4 corners (wrapping) + noise
            i1 = i + 1 if i + 1 < k else 0  # (no % in the loops: an integer division is ~30 cycles)
            for j in range(k):
                j1 = j + 1 if j + 1 < k else 0
                corners = (grid[i * step, j * step] + grid[i1 * step, j * step]) + (
                    grid[i * step, j1 * step] + grid[i1 * step, j1 * step]
                )
                noise = amplitude * (draws[squares + i * k + j] * two - one)
                grid[i * step + half, j * step + half] = corners * quarter + noise
        for i in range(k):  # diamonds on the corner rows: centres above and below, corners left and right
            i0 = i - 1 if i > 0 else k - 1
            for j in range(k):
                j1 = j + 1 if j + 1 < k else 0
                total = grid[i * step + half, j * step + half] + grid[i0 * step + half, j * step + half]
                total = (total + grid[i * step, j * step]) + grid[i * step, j1 * step]
                noise = amplitude * (draws[lefts + i * k + j] * two - one)
                grid[i * step, j * step + half] = total * quarter + noise
        for i in range(k):  # diamonds on the corner columns: centres left and right, corners above and below
            i1 = i + 1 if i + 1 < k else 0
            for j in range(k):
                j0 = j - 1 if j > 0 else k - 1
                total = grid[i * step + half, j * step + half] + grid[i * step + half, j0 * step + half]
                total = (total + grid[i * step, j * step]) + grid[i1 * step, j * step]
                noise = amplitude * (draws[tops + i * k + j] * two - one)
                grid[i * step + half, j * step] = total * quarter + noise
        used += 3 * k * k
        step //= 2
        wibble /= wibble_decay
    low = grid.min()
    grid -= low
    grid /= grid.max()
    return grid

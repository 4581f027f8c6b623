"""motion_blur's sum of shifted copies on the CPU, compiled by Numba: one picture per call, no GIL.

``_filters.shifted_sum`` adds one whole shifted copy of the picture per tap (up to 41 taps: as many
passes over the picture through memory). Here each output row is summed tap by tap while it stays in
the L1 cache, the inner loop running along the row (it vectorizes). The taps are added in the same
order with the same float32 weights; only where torch fuses a multiply-add the last bit may differ
(tested within 1e-4 of the torch form). Imported on first use (Numba compiles once, cached on disk).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def shifted_sum(
    padded: np.ndarray, rows: np.ndarray, cols: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """``out[c, y, x] = sum_t weights[t] * padded[c, y + rows[t], x + cols[t]]`` for (C, H, W) ``out``:
    ``rows``/``cols`` are each tap's offsets into the edge-replicated ``padded`` picture."""
    channels, height, width = out.shape
    row = np.empty(width, dtype=np.float32)
    for c in range(channels):
        for y in range(height):
            row[:] = 0
            for t in range(weights.shape[0]):
                left = cols[t]
                source = padded[c, y + rows[t], left : left + width]  # (a slice: no index arithmetic
                weight = weights[t]  # in the loop, which then vectorizes)
                for x in range(width):
                    row[x] += weight * source[x]
            out[c, y] = row

"""pixelate's two Pillow resizes (8-bit BOX down, NEAREST up) in one compiled pass per picture.

Pillow's 8-bit resampler works in fixed point: every output pixel is a window of input pixels with
integer weights ``int(0.5 + w * 2**22)``; a pass sums ``2**21 + sum(pixel * weight)`` and keeps
``clip(sum >> 22, 0, 255)``, horizontally first (into uint8), then vertically. A BOX window's weights
are all equal, so a window's sum is a difference of prefix sums times one weight. This reproduces
Pillow bit for bit (tests compare with Pillow at many sizes) on the (3, H, W) planes the engine holds
(no interleaving into Pillow's RGBX layout and back), without the GIL, so pictures run in parallel.
Pillow runs tall pictures (about twice as tall as wide) vertically first: ``digital.pixelate`` leaves
those to Pillow. Imported on first use (Numba compiles once, cached on disk).
"""

from __future__ import annotations

import functools

import numba
import numpy as np

PRECISION_BITS = 32 - 8 - 2  # Pillow's Resample.c


@functools.lru_cache(maxsize=128)
def box_coefficients(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pillow's ``precompute_coeffs`` (BOX filter) and ``normalize_coeffs_8bpc``: per output pixel the
    first input pixel of its window, the window's size and its (common) fixed-point weight."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 0.5 * filterscale
    starts = np.zeros(out_size, dtype=np.int64)
    sizes = np.zeros(out_size, dtype=np.int64)
    weights = np.zeros(out_size, dtype=np.int64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        inside = [-0.5 < (x + xmin - center + 0.5) * (1.0 / filterscale) <= 0.5 for x in range(xmax)]
        # Pillow keeps the window [xmin, xmin + xmax) and gives its pixels outside the box weight 0:
        # the box is one run of pixels, so the window shrinks to that run
        first, count = inside.index(True), sum(inside)
        assert all(inside[first : first + count]), "a BOX window is one run of pixels"
        starts[xx], sizes[xx] = xmin + first, count
        weights[xx] = int(0.5 + (1.0 / count) * (1 << PRECISION_BITS))  # C's (int) truncates
    return starts, sizes, weights


@numba.njit(cache=True, nogil=True)
def box_then_nearest(
    planes: np.ndarray,
    col_starts: np.ndarray,
    col_sizes: np.ndarray,
    col_weights: np.ndarray,
    row_starts: np.ndarray,
    row_sizes: np.ndarray,
    row_weights: np.ndarray,
    rows_up: np.ndarray,
    cols_up: np.ndarray,
) -> np.ndarray:
    """(C, H, W) uint8 -> BOX to (C, len(row_starts), len(col_starts)), then NEAREST back to the
    output size (``rows_up``, ``cols_up``: the source pixel of every output row / column)."""
    channels, height, width = planes.shape
    small_w, small_h = col_starts.shape[0], row_starts.shape[0]
    half = 1 << (PRECISION_BITS - 1)
    wide = np.empty((channels, height, small_w), dtype=np.uint8)
    prefix = np.empty(width + 1, dtype=np.int64)
    prefix[0] = 0
    for c in range(channels):
        for y in range(height):
            row = planes[c, y]
            for x in range(width):
                prefix[x + 1] = prefix[x] + row[x]
            for x in range(small_w):
                start = col_starts[x]
                total = prefix[start + col_sizes[x]] - prefix[start]
                wide[c, y, x] = min((half + total * col_weights[x]) >> PRECISION_BITS, 255)
    small = np.empty((channels, small_h, small_w), dtype=np.uint8)
    columns = np.zeros((height + 1, small_w), dtype=np.int64)
    for c in range(channels):
        for y in range(height):
            for x in range(small_w):
                columns[y + 1, x] = columns[y, x] + wide[c, y, x]
        for y in range(small_h):
            start, stop, weight = row_starts[y], row_starts[y] + row_sizes[y], row_weights[y]
            for x in range(small_w):
                total = columns[stop, x] - columns[start, x]
                small[c, y, x] = min((half + total * weight) >> PRECISION_BITS, 255)
    out = np.empty((channels, rows_up.shape[0], cols_up.shape[0]), dtype=np.uint8)
    for c in range(channels):
        for y in range(rows_up.shape[0]):
            source, target = small[c, rows_up[y]], out[c, y]
            for x in range(cols_up.shape[0]):
                target[x] = source[cols_up[x]]
    return out

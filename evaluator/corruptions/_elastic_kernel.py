"""elastic_transform's resampling on the CPU, compiled by Numba: one picture per call, no GIL.

The torch form builds a normalised sampling grid (two whole-picture temporaries and a stack) and runs
``grid_sample`` (bilinear, reflection, ``align_corners=False``). Here each output pixel reflects its
source position into the picture (SciPy's half-sample ``reflect``, which that grid_sample setting is)
and interpolates its four neighbours in float32; the result is the torch form's up to float32
rounding (tested). Imported on first use (Numba compiles once, cached on disk).
"""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(inline="always")
def _reflect(position: np.float32, size: int) -> np.float32:
    """Reflect about -0.5 and size - 0.5 (half-sample symmetric), then clip to [0, size - 1]."""
    last = np.float32(size - 1)
    if np.float32(0) <= position <= last:  # inside: nothing to do (almost every pixel)
        return position
    period = 2.0 * size
    t = float(position) + 0.5
    t -= math.floor(t / period) * period
    if t >= size:
        t = period - t
    return np.float32(min(max(t - 0.5, 0.0), size - 1.0))


@numba.njit(cache=True, nogil=True)
def warp(image: np.ndarray, shift_x: np.ndarray, shift_y: np.ndarray, out: np.ndarray) -> None:
    """``out[c, y, x]`` = ``image`` (C, H, W) sampled bilinearly at ``(y + shift_y, x + shift_x)``."""
    channels, height, width = image.shape
    one = np.float32(1)
    for y in range(height):
        for x in range(width):
            sx = _reflect(np.float32(x) + shift_x[y, x], width)
            sy = _reflect(np.float32(y) + shift_y[y, x], height)
            x0, y0 = np.intp(sx), np.intp(sy)  # (non-negative: truncation is the floor)
            fx, fy = sx - np.float32(x0), sy - np.float32(y0)
            x1, y1 = min(x0 + 1, width - 1), min(y0 + 1, height - 1)
            for c in range(channels):
                plane = image[c]
                top = (one - fx) * plane[y0, x0] + fx * plane[y0, x1]
                bottom = (one - fx) * plane[y1, x0] + fx * plane[y1, x1]
                out[c, y, x] = (one - fy) * top + fy * bottom

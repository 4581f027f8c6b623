"""glass_blur's sequential pixel shuffle on the CPU, compiled by Numba.

The reference's loop (see ``blur.glass_sources``) copies, for every visited pixel from the bottom-right
to the top-left, the current value of a neighbour into the pixel. On the CPU the loop itself is the
fastest exact form: one pass over the picture per iteration, on source indices instead of colours.
(On a GPU ``blur.glass_sources`` resolves the same chains by pointer jumping.) Imported on first use:
Numba's import and the first compilation (cached on disk) cost a second or so.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def glass_shuffle_sources(h: int, w: int, max_delta: int, codes: np.ndarray) -> np.ndarray:
    """(H*W,) flat source pixel of every output pixel after ``codes.shape[0]`` passes of the loop.

    ``codes[i, p]`` is pixel ``p``'s offset in pass ``i``: ``dy, dx = divmod(code, 2d) - d``."""
    span = 2 * max_delta
    steps = np.empty(span * span, dtype=np.int64)  # flat offset of each code (no division in the loop)
    for code in range(span * span):
        steps[code] = (code // span - max_delta) * w + code % span - max_delta
    sources = np.arange(h * w).astype(np.int32)
    for i in range(codes.shape[0]):
        for row in range(h - max_delta, max_delta, -1):
            line = codes[i, row * w : (row + 1) * w]
            for col in range(w - max_delta, max_delta, -1):
                p = row * w + col
                sources[p] = sources[p + steps[line[col]]]
    return sources


@numba.njit(cache=True, nogil=True)
def take_pixels(picture: np.ndarray, sources: np.ndarray, out: np.ndarray) -> None:
    """``out[c, p] = picture[c, sources[p]]`` for (C, H*W) planes."""
    for c in range(picture.shape[0]):
        source, target = picture[c], out[c]
        for p in range(sources.shape[0]):
            target[p] = source[sources[p]]

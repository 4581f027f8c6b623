"""Per-picture random streams and the noise corruptions fused with them, compiled by Numba.

Every picture gets a 64-bit key drawn from its own ``torch.Generator`` (see ``_ops.picture_keys``);
its stream is SplitMix64 started at that key (Steele, Lea & Flood 2014: a Weyl sequence through a
64-bit finalizer; passes BigCrush). From the stream:

- uniforms: the top 24 bits of a draw, ``k * 2**-24``: float32 in [0, 1), like ``torch.rand``;
- small integers in [0, bound): the top 32 bits of a draw scaled by ``bound`` (Lemire's method);
- standard normals: Marsaglia & Tsang's ziggurat (256 layers, exact: the rectangles, wedges and the
  tail beyond ``R`` cover the density exactly), rounded to float32. Draw ``j`` of the stream gives value
  ``j``'s candidate, accepted outright 98.5 % of the time; the others are settled in order with draws
  from a second stream of the picture, so the main loop has no data-dependent branch (measured: a
  128-layer variant taking two 32-bit candidates per draw was slower, 3.9 against 2.7 ns per normal).

The fills (``uniform_fill``, ``normal_fill``) feed the torch formulas on any device; on the CPU the
noise kernels (``normal_noise``, ``impulse_noise``, ``shot_noise``) draw and apply
in one pass, uint8 in and out, with the same float32 operations in the same order as those formulas,
so both give the same bytes (tested). One pass instead of a fill plus four or five torch passes over
float32 temporaries: about 5x less memory traffic.

Imported on first use: Numba's import and the first compilation (cached on disk) take a few seconds.
"""

from __future__ import annotations

import math

import numba
import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_UNIFORM_SHIFT = np.uint64(40)  # 64 - 24: the top 24 bits make a float32 uniform
_UNIFORM_STEP = np.float32(2.0**-24)
_MANTISSA_SHIFT = np.uint64(11)  # 64 - 53: the top 53 bits make a float64 uniform
_CANDIDATE_SHIFT = np.uint64(33)  # 64 - 31: a ziggurat candidate's top 31 bits (an int32)
_LAYER_MASK = np.uint64(0xFF)
_SIGN_BIT = np.uint64(0x100)


@numba.njit(inline="always")
def _mix(z: np.uint64) -> np.uint64:
    """SplitMix64's output function."""
    z = (z ^ (z >> _S30)) * _MIX_1
    z = (z ^ (z >> _S27)) * _MIX_2
    return z ^ (z >> _S31)


@numba.njit(inline="always")
def _next(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """SplitMix64: the next state and its 64-bit output."""
    state = state + _GOLDEN
    return state, _mix(state)


@numba.njit(inline="always")
def _uniform(bits: np.uint64) -> np.float32:
    return np.float32(bits >> _UNIFORM_SHIFT) * _UNIFORM_STEP


@numba.njit(inline="always")
def _unit_open(bits: np.uint64) -> float:
    """A float64 uniform in (0, 1]: safe under a logarithm."""
    return (float(np.int64(bits >> _MANTISSA_SHIFT)) + 1.0) * 2.0**-53


# The ziggurat: 256 layers of equal area V under f(x) = exp(-x^2 / 2) (x >= 0). Layer 0 is the base strip
# [0, R] x [0, f(R)] together with the tail beyond R, drawn as a strip of width V / f(R).
_LAYERS = 256
_R = 3.6541528853610088
_V = 0.00492867323399


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(accept, width, height) per layer: ``width[i] * m`` (m the top 31 bits of a draw; plenty for a
    float32 result) is a candidate; it is under the curve outright when ``m < accept[i]``; ``height[i]`` is f at the layer's right edge
    (``height[i + 1]`` at its left one; the top layer's left edge is 0, where f = 1)."""
    edges = np.empty(_LAYERS + 1)
    edges[0] = _V / math.exp(-0.5 * _R * _R)
    edges[1] = _R
    for i in range(1, _LAYERS - 1):
        edges[i + 1] = math.sqrt(-2.0 * math.log(_V / edges[i] + math.exp(-0.5 * edges[i] ** 2)))
    edges[_LAYERS] = 0.0
    accept = np.array([int(2.0**31 * edges[i + 1] / edges[i]) for i in range(_LAYERS)], dtype=np.int32)
    width = edges[:_LAYERS] * 2.0**-31
    height = np.exp(-0.5 * edges**2)
    return accept, width, height


_ACCEPT, _WIDTH, _HEIGHT = _ziggurat_tables()
_REPAIR_STREAM = np.uint64(0x5851F42D4C957F2D)  # a picture's second stream: key ^ this
_BLOCK = 2048  # normals drawn per block: the block's candidates and flags stay in L1


@numba.njit(inline="always")
def _candidate(bits: np.uint64) -> tuple[float, bool]:
    """The ziggurat's candidate for a draw (signed) and whether it is accepted outright."""
    layer = np.int64(bits & _LAYER_MASK)
    mantissa = np.int32(bits >> _CANDIDATE_SHIFT)
    sign = 1.0 - 2.0 * float(np.int32((bits & _SIGN_BIT) >> np.uint64(8)))
    return float(mantissa) * _WIDTH[layer] * sign, mantissa < _ACCEPT[layer]


@numba.njit(nogil=True)
def _settle(bits: np.uint64, repair: np.uint64) -> tuple[np.uint64, np.float32]:
    """Finish a ziggurat draw whose candidate was not accepted outright, with draws from the repair
    stream: the tail beyond R (Marsaglia 1964) for layer 0, else the wedge test; a rejected candidate
    is replaced by a fresh draw. Returns the repair stream's state and the normal."""
    while True:
        x, accepted = _candidate(bits)
        if accepted:
            return repair, np.float32(x)
        layer = np.int64(bits & _LAYER_MASK)
        if layer == 0:
            while True:
                repair, b1 = _next(repair)
                repair, b2 = _next(repair)
                tail = -math.log(_unit_open(b1)) / _R
                if -2.0 * math.log(_unit_open(b2)) > tail * tail:
                    return repair, np.float32(math.copysign(_R + tail, x))
        repair, b = _next(repair)
        y = _HEIGHT[layer] + (_unit_open(b) - 2.0**-53) * (_HEIGHT[layer + 1] - _HEIGHT[layer])
        if y < math.exp(-0.5 * x * x):
            return repair, np.float32(x)
        repair, bits = _next(repair)


@numba.njit(inline="always")
def _normal_block(key: np.uint64, start: int, out: np.ndarray, pending: np.ndarray, repair: np.uint64):
    """Normals ``start .. start + len(out)`` of the stream at ``key`` into ``out`` (float32): draw ``j``
    gives the candidate; the few not accepted outright are settled in order from the repair stream.
    The first loop has no data-dependent branch. Returns the repair stream's state."""
    for k in range(out.shape[0]):
        x, accepted = _candidate(_mix(key + np.uint64(start + k + 1) * _GOLDEN))
        out[k] = np.float32(x)
        pending[k] = not accepted
    for k in range(out.shape[0]):
        if pending[k]:
            repair, out[k] = _settle(_mix(key + np.uint64(start + k + 1) * _GOLDEN), repair)
    return repair


@numba.njit(cache=True, nogil=True)
def uniform_fill(keys: np.ndarray, out: np.ndarray) -> None:
    """``out[i, :]`` (float32) = picture ``i``'s first uniforms."""
    for i in range(out.shape[0]):
        state = keys[i]
        for j in range(out.shape[1]):
            state, bits = _next(state)
            out[i, j] = _uniform(bits)


@numba.njit(cache=True, nogil=True)
def integer_fill(keys: np.ndarray, bound: int, out: np.ndarray) -> None:
    """``out[i, :]`` = picture ``i``'s first integers in [0, bound), ``bound <= 256``: the top 32 bits of
    a draw times ``bound``, shifted down by 32 (Lemire 2019; a bias below ``bound / 2**32``)."""
    scale = np.uint64(bound)
    for i in range(out.shape[0]):
        state = keys[i]
        for j in range(out.shape[1]):
            state, bits = _next(state)
            out[i, j] = ((bits >> np.uint64(32)) * scale) >> np.uint64(32)


@numba.njit(cache=True, nogil=True)
def normal_fill(keys: np.ndarray, out: np.ndarray) -> None:
    """``out[i, :]`` (float32) = picture ``i``'s first standard normals."""
    pending = np.empty(_BLOCK, dtype=np.bool_)
    for i in range(out.shape[0]):
        repair = _mix(keys[i] ^ _REPAIR_STREAM)
        for start in range(0, out.shape[1], _BLOCK):
            stop = min(start + _BLOCK, out.shape[1])
            repair = _normal_block(keys[i], start, out[i, start:stop], pending, repair)


@numba.njit(inline="always")
def _store(value: np.float32) -> np.uint8:
    """Clip to [0, 255] and truncate, as the engine quantizes (branch free: the loops vectorize)."""
    return np.uint8(min(max(value, np.float32(0.0)), np.float32(255.0)))


@numba.njit(cache=True, nogil=True)
def normal_noise(
    images: np.ndarray, keys: np.ndarray, scale: np.float32, multiplicative: bool, out: np.ndarray
) -> None:
    """uint8 (N, V) -> uint8, clipped and truncated: gaussian_noise ``x + n * scale`` or (with
    ``multiplicative``) speckle_noise ``x * (n * scale + 1)``, float32 in that order."""
    one = np.float32(1.0)
    noise = np.empty(_BLOCK, dtype=np.float32)
    pending = np.empty(_BLOCK, dtype=np.bool_)
    for i in range(images.shape[0]):
        repair = _mix(keys[i] ^ _REPAIR_STREAM)
        for start in range(0, images.shape[1], _BLOCK):
            size = min(_BLOCK, images.shape[1] - start)
            repair = _normal_block(keys[i], start, noise[:size], pending, repair)
            source, target = images[i, start : start + size], out[i, start : start + size]
            for k in range(size):  # (slices: no index arithmetic in the loop, which vectorizes)
                if multiplicative:
                    target[k] = _store(np.float32(source[k]) * (noise[k] * scale + one))
                else:
                    target[k] = _store(np.float32(source[k]) + noise[k] * scale)


@numba.njit(cache=True, nogil=True)
def impulse_noise(
    images: np.ndarray, keys: np.ndarray, amount: np.float32, half: np.float32, out: np.ndarray
) -> None:
    """uint8 (N, V) -> uint8, salt and pepper: a uniform below ``half`` makes 255, below ``amount`` 0."""
    for i in range(images.shape[0]):
        state = keys[i]
        for j in range(images.shape[1]):
            state, bits = _next(state)
            u = _uniform(bits)
            value = images[i, j]
            value = np.uint8(0) if u < amount else value
            out[i, j] = np.uint8(255) if u < half else value


@numba.njit(cache=True, nogil=True)
def shot_noise(
    images: np.ndarray,
    keys: np.ndarray,
    table: np.ndarray,
    buckets: int,
    cdf: np.ndarray,
    values: np.ndarray,
    out: np.ndarray,
) -> None:
    """uint8 (N, V) -> uint8: ``table[level * buckets + int(u * buckets)]`` (see ``noise._shot_table``);
    where that is -1 the Poisson count is the smallest k with ``cdf[level, k] > u``, and the output
    ``values[k]``."""
    k_max = cdf.shape[1]
    for i in range(images.shape[0]):
        state = keys[i]
        for j in range(images.shape[1]):
            state, bits = _next(state)
            u = _uniform(bits)
            level = np.int64(images[i, j])
            entry = table[level * buckets + np.int64(u * np.float32(buckets))]
            if entry >= 0:
                out[i, j] = entry
            else:
                count = min(np.searchsorted(cdf[level], u, side="right"), k_max - 1)
                out[i, j] = values[count]

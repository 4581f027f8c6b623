"""The last, per-pixel steps of snow and fog on the CPU, compiled by Numba: one pass per picture.

In torch these steps are a dozen whole-picture float32 ops each (a temporary per op); here every
pixel is read once and written once. Each kernel performs the same float32 operations in the same
order as the torch formula in ``weather.py`` (which a GPU runs), so both give the same floats (tested).
Imported on first use (Numba compiles once, cached on disk).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def snow_blend(
    images: np.ndarray,
    layer: np.ndarray,
    gray_weights: np.ndarray,
    blend: np.float32,
    rest: np.float32,
    out: np.ndarray,
) -> None:
    """``weather.blend_snow`` on (N, 3, H, W) float32 values in [0, 255] and the snow layer (N, H, W):
    whiten ``x -> blend x + rest max(x, 1.5 gray + 0.5)``, add the layer and the layer turned by 180
    degrees, clip to [0, 1], times 255."""
    n, _, h, w = images.shape
    r, g, b = gray_weights[0], gray_weights[1], gray_weights[2]
    full, lift, half, zero, one = (
        np.float32(255.0),
        np.float32(1.5),
        np.float32(0.5),
        np.float32(0),
        np.float32(1),
    )
    for i in range(n):
        for y in range(h):
            for x in range(w):
                red = images[i, 0, y, x] / full
                green = images[i, 1, y, x] / full
                blue = images[i, 2, y, x] / full
                whitened = ((r * red + g * green) + b * blue) * lift + half
                snowflakes = layer[i, y, x]
                turned = layer[i, h - 1 - y, w - 1 - x]
                for c, value in ((0, red), (1, green), (2, blue)):
                    mixed = blend * value + rest * max(value, whitened)
                    total = (mixed + snowflakes) + turned
                    out[i, c, y, x] = min(max(total, zero), one) * full


@numba.njit(cache=True, nogil=True)
def fog_blend(
    images: np.ndarray, plasma: np.ndarray, scales: np.ndarray, gain: np.float32, out: np.ndarray
) -> None:
    """``weather.blend_fog`` on (N, 3, H, W) float32 values: ``(x + plasma * gain) * scale`` with the
    picture's ``scale``, clipped to [0, 255]; ``plasma`` (N, S, S), S >= H, W, is cropped top-left."""
    n, channels, h, w = images.shape
    zero, full = np.float32(0), np.float32(255.0)
    for i in range(n):
        scale = scales[i]
        for c in range(channels):
            for y in range(h):
                for x in range(w):
                    value = (images[i, c, y, x] + plasma[i, y, x] * gain) * scale
                    out[i, c, y, x] = min(max(value, zero), full)


@numba.njit(cache=True, nogil=True)
def spatter_blend(
    images: np.ndarray, layer: np.ndarray, gain: np.float32, colour: np.ndarray, mud: bool, out: np.ndarray
) -> None:
    """``weather.blend_spatter`` on (N, 3, H, W) float32 values and the layer (N, H, W): water
    ``x + (drop * gain) * colour``; mud ``x * (1 - mask) + colour * mask``; clipped to [0, 255]."""
    n, channels, h, w = images.shape
    zero, one, full = np.float32(0), np.float32(1), np.float32(255.0)
    for i in range(n):
        for c in range(channels):
            tint = colour[c]
            for y in range(h):
                source, cover, target = images[i, c, y], layer[i, y], out[i, c, y]
                for x in range(w):
                    if mud:
                        value = source[x] * (one - cover[x]) + tint * cover[x]
                    else:
                        value = source[x] + (cover[x] * gain) * tint
                    target[x] = min(max(value, zero), full)


@numba.njit(cache=True, nogil=True)
def frost_blend(
    image: np.ndarray,
    layer: np.ndarray,
    top: int,
    left: int,
    weight: np.float32,
    frost_weight: np.float32,
    out: np.ndarray,
) -> None:
    """``weather.apply_frost`` for one picture (C, H, W) float32 and its texture: ``weight * x +
    frost_weight * crop`` (the crop at ``top``, ``left``), clipped to [0, 255]."""
    channels, h, w = image.shape
    zero, full = np.float32(0), np.float32(255.0)
    for c in range(channels):
        for y in range(h):
            source, texture, target = image[c, y], layer[c, top + y, left : left + w], out[c, y]
            for x in range(w):
                value = weight * source[x] + frost_weight * np.float32(texture[x])
                target[x] = min(max(value, zero), full)

"""The weather family: snow, frost, fog, brightness and spatter (holdout).

Torch ports of imagecorruptions (``imagenet-c``) with the make_cifar_c tables (``cifar10-c``).
Each random corruption first draws its randomness from the per-image CPU generators (a noise field,
an angle, a texture and crop, a plasma fractal) and then applies a deterministic batched transform
that follows the reference step by step. Frost textures are read from the installed
imagecorruptions package (never copied into this repository) and cached per size and device.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from evaluator.corruptions import _ops
from evaluator.corruptions._filters import (
    box_blur3,
    canny,
    chamfer_distance,
    equalize_hist,
    gaussian_filter,
    motion_blur,
    uniform,
    zoom_crop,
)
from evaluator.corruptions._spec import CorruptionSpec
from zoo.errors import RzooError


@dataclass(frozen=True)
class Snow:
    loc: float  # snow noise field: normal(loc, scale)
    scale: float
    zoom: float
    threshold: float
    radius: int  # motion blur of the snow layer
    sigma: float
    blend: float  # weight of the image against its whitened version
    centre_trim: bool  # make_cifar_c trims the zoomed layer to the image before the motion blur
    quantize_layer: bool  # make_cifar_c saved the layer as an 8-bit PNG before the (Wand) motion blur


@dataclass(frozen=True)
class Frost:
    image_weight: float
    frost_weight: float
    texture_scale: float | None  # None: fit the texture to the image (imagecorruptions); 0.2: make_cifar_c
    textures: int  # draw among the first `textures` frost images (make_cifar_c: randint(5))


@dataclass(frozen=True)
class Fog:
    strength: float
    wibble_decay: float


@dataclass(frozen=True)
class Spatter:
    loc: float
    scale: float
    sigma: float
    threshold: float
    intensity: float
    mud: bool  # False: water (Canny edges + distance transform), True: mud


# ---- parameter tables (severity 1..5) -------------------------------------------------------------

SNOW = {
    "imagenet-c": (
        Snow(0.1, 0.3, 3, 0.5, 10, 4, 0.8, False, False),
        Snow(0.2, 0.3, 2, 0.5, 12, 4, 0.7, False, False),
        Snow(0.55, 0.3, 4, 0.9, 12, 8, 0.7, False, False),
        Snow(0.55, 0.3, 4.5, 0.85, 12, 8, 0.65, False, False),
        Snow(0.55, 0.3, 2.5, 0.85, 12, 12, 0.55, False, False),
    ),
    "cifar10-c": (
        Snow(0.1, 0.2, 1, 0.6, 8, 3, 0.95, True, True),
        Snow(0.1, 0.2, 1, 0.5, 10, 4, 0.9, True, True),
        Snow(0.15, 0.3, 1.75, 0.55, 10, 4, 0.9, True, True),
        Snow(0.25, 0.3, 2.25, 0.6, 12, 6, 0.85, True, True),
        Snow(0.3, 0.3, 1.25, 0.65, 14, 12, 0.8, True, True),
    ),
}
FROST = {
    "imagenet-c": (
        Frost(1, 0.4, None, 6),
        Frost(0.8, 0.6, None, 6),
        Frost(0.7, 0.7, None, 6),
        Frost(0.65, 0.7, None, 6),
        Frost(0.6, 0.75, None, 6),
    ),
    "cifar10-c": (
        Frost(1, 0.2, 0.2, 5),
        Frost(1, 0.3, 0.2, 5),
        Frost(0.9, 0.4, 0.2, 5),
        Frost(0.85, 0.4, 0.2, 5),
        Frost(0.75, 0.45, 0.2, 5),
    ),
}
FOG = {
    "imagenet-c": (Fog(1.5, 2), Fog(2.0, 2), Fog(2.5, 1.7), Fog(2.5, 1.5), Fog(3.0, 1.4)),
    "cifar10-c": (Fog(0.2, 3), Fog(0.5, 3), Fog(0.75, 2.5), Fog(1, 2), Fog(1.5, 1.75)),
}
BRIGHTNESS = {
    "imagenet-c": (0.1, 0.2, 0.3, 0.4, 0.5),
    "cifar10-c": (0.05, 0.1, 0.15, 0.2, 0.3),
}
SPATTER = {
    "imagenet-c": (
        Spatter(0.65, 0.3, 4, 0.69, 0.6, False),
        Spatter(0.65, 0.3, 3, 0.68, 0.6, False),
        Spatter(0.65, 0.3, 2, 0.68, 0.5, False),
        Spatter(0.65, 0.3, 1, 0.65, 1.5, True),
        Spatter(0.67, 0.4, 1, 0.65, 1.5, True),
    ),
    "cifar10-c": (
        Spatter(0.62, 0.1, 0.7, 0.7, 0.5, False),
        Spatter(0.65, 0.1, 0.8, 0.7, 0.5, False),
        Spatter(0.65, 0.3, 1, 0.69, 0.5, False),
        Spatter(0.65, 0.1, 0.7, 0.69, 0.6, True),
        Spatter(0.65, 0.1, 0.5, 0.68, 0.6, True),
    ),
}
SNOW_ANGLE_RANGE = (-135.0, -45.0)
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")
WATER_RGB = (175 / 255.0, 238 / 255.0, 238 / 255.0)  # pale turquoise
MUD_RGB = (63 / 255.0, 42 / 255.0, 20 / 255.0)
RGB_TO_GRAY = (0.299, 0.587, 0.114)  # cv2.COLOR_RGB2GRAY


# ---- snow -----------------------------------------------------------------------------------------


def snow(images: torch.Tensor, param: Snow, generators) -> torch.Tensor:
    """A zoomed, thresholded, motion-blurred noise layer added twice (and rotated) to a whitened image."""
    h, w = images.shape[-2:]
    noise = _ops.randn(generators, (h, w), images.device)  # per picture: the noise field, then the angle
    return apply_snow(images, param, noise, [uniform(g, *SNOW_ANGLE_RANGE) for g in generators])


def apply_snow(images: torch.Tensor, param: Snow, noise: torch.Tensor, angles: list[float]) -> torch.Tensor:
    """snow given its draws: a standard normal field (N, H, W) and a motion angle per image."""
    h, w = images.shape[-2:]
    layer = (param.loc + param.scale * noise.to(images.dtype))[:, None]
    layer = zoom_crop(layer, param.zoom, param.centre_trim)
    layer = torch.where(layer < param.threshold, 0.0, layer).clamp_(0, 1)
    if param.quantize_layer:
        layer = torch.floor(layer * 255) / 255
    layer = motion_blur(layer, param.radius, param.sigma, angles)
    layer = (torch.round(layer * 255) / 255)[..., :h, :w]
    if images.device.type == "cpu":
        from evaluator.corruptions._weather_kernel import snow_blend

        weights = np.array(RGB_TO_GRAY, dtype=np.float32)
        blend, rest = np.float32(param.blend), np.float32(1 - param.blend)
        return _blend_on_cpu(snow_blend, images, (layer[:, 0],), weights, blend, rest)
    return blend_snow(images, layer, param.blend)


def _blend_on_cpu(kernel, images: torch.Tensor, layers: tuple[torch.Tensor, ...], *args) -> torch.Tensor:
    """A ``_weather_kernel`` blend on a CPU batch, one picture per call on ``_ops.map_pictures``'
    threads: ``kernel(picture, *its slice of each of layers, *args, out)``, each a batch of one."""
    pictures = images.contiguous().numpy()
    arrays = [layer.contiguous().numpy() for layer in layers]
    out = torch.empty_like(images)
    target = out.numpy()
    _ops.map_pictures(
        lambda i: kernel(pictures[i : i + 1], *(a[i : i + 1] for a in arrays), *args, target[i : i + 1]),
        range(images.shape[0]),
        pictures[0].size,
    )
    return out


def blend_snow(images: torch.Tensor, layer: torch.Tensor, blend: float) -> torch.Tensor:
    """snow's last step (``_weather_kernel.snow_blend`` on the CPU): whiten the picture, add the layer
    (N, 1, H, W) and the layer turned by 180 degrees; values in [0, 255]."""
    x = images / 255.0
    x = blend * x + (1 - blend) * torch.maximum(x, _gray(x) * 1.5 + 0.5)
    return (x + layer + torch.flip(layer, dims=(-2, -1))).clamp_(0, 1) * 255


def _gray(x: torch.Tensor) -> torch.Tensor:
    r, g, b = RGB_TO_GRAY
    return r * x[:, 0:1] + g * x[:, 1:2] + b * x[:, 2:3]


# ---- frost ----------------------------------------------------------------------------------------


def frost_directory() -> Path:
    """The frost textures shipped with the installed imagecorruptions package (not imported)."""
    spec = importlib.util.find_spec("imagecorruptions")
    if spec is None or not spec.submodule_search_locations:
        raise RzooError("frost needs the imagecorruptions package (pip install imagecorruptions-imaug)")
    return Path(next(iter(spec.submodule_search_locations))) / "frost"


@lru_cache(maxsize=8)
def frost_texture(index: int) -> torch.Tensor:
    """Texture ``index`` as a uint8 RGB tensor (3, h, w) (alpha dropped, as cv2.imread does)."""
    from PIL import Image

    path = frost_directory() / FROST_FILES[index]
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    return torch.from_numpy(rgb.copy()).permute(2, 0, 1).contiguous()


def _resize(
    texture: torch.Tensor, size: tuple[int, int], mode: str, scale: float | None = None
) -> torch.Tensor:
    x = texture[None].float()
    if scale is not None:
        out = F.interpolate(
            x, scale_factor=scale, mode=mode, align_corners=False, recompute_scale_factor=False
        )
    else:
        out = F.interpolate(x, size=size, mode=mode, align_corners=False)
    return out.round_().clamp_(0, 255)[0]


def _fit(texture: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """imagecorruptions' rescaling: scale so the texture covers the image, times 1.1 (bicubic)."""
    fh, fw = texture.shape[-2:]
    factor = 1.0
    if fh < h and fw >= w:
        factor = h / fh
    elif fh >= h and fw < w:
        factor = w / fw
    elif fh < h and fw < w:
        factor = max(h / fh, w / fw)
    factor *= 1.1
    size = (int(np.ceil(fh * factor)), int(np.ceil(fw * factor)))
    return _resize(texture, size, "bicubic")


_FROST_CACHE: dict[tuple, torch.Tensor] = {}


def frost_layer(
    index: int, texture_scale: float | None, h: int, w: int, device: torch.device
) -> torch.Tensor:
    """The rescaled texture an (h, w) image is cropped from, cached per (texture, size, device)."""
    key = (index, texture_scale, h, w, str(device))
    layer = _FROST_CACHE.get(key)
    if layer is None:
        texture = frost_texture(index)
        if texture_scale is not None:  # make_cifar_c: cv2.resize(fx=fy=0.2), bilinear
            texture = _resize(texture, (0, 0), "bilinear", scale=texture_scale)
        fh, fw = texture.shape[-2:]
        if texture_scale is None or fh <= h or fw <= w:
            texture = _fit(texture, h, w)
        layer = texture.to(device)
        if len(_FROST_CACHE) > 64:
            _FROST_CACHE.clear()
        _FROST_CACHE[key] = layer
    return layer


def frost(images: torch.Tensor, param: Frost, generators) -> torch.Tensor:
    """A random crop of a random frost texture, blended with the image."""
    h, w = images.shape[-2:]
    choices = []
    for g in generators:
        index = int(torch.randint(param.textures, (), generator=g))
        layer = frost_layer(index, param.texture_scale, h, w, images.device)
        top = int(torch.randint(layer.shape[-2] - h, (), generator=g))
        left = int(torch.randint(layer.shape[-1] - w, (), generator=g))
        choices.append((index, top, left))
    return apply_frost(images, param, choices)


def apply_frost(images: torch.Tensor, param: Frost, choices: list[tuple[int, int, int]]) -> torch.Tensor:
    """frost given its draws: (texture index, crop top, crop left) per image. On the CPU in one pass
    per picture (``_weather_kernel.frost_blend``, the same float32 operations)."""
    h, w = images.shape[-2:]
    if images.device.type == "cpu":
        from evaluator.corruptions._weather_kernel import frost_blend

        out = torch.empty_like(images)
        pictures, target = images.contiguous().numpy(), out.numpy()
        weight, frost_weight = np.float32(param.image_weight), np.float32(param.frost_weight)

        def one(i: int) -> None:
            index, top, left = choices[i]
            layer = frost_layer(index, param.texture_scale, h, w, images.device).numpy()
            frost_blend(pictures[i], layer, top, left, weight, frost_weight, target[i])

        _ops.map_pictures(one, range(images.shape[0]), pictures[0].size)
        return out
    return blend_frost(images, frost_crops(param, choices, h, w, images.device), param)


def frost_crops(param: Frost, choices: list[tuple[int, int, int]], h: int, w: int, device) -> torch.Tensor:
    """The (N, 3, h, w) texture crops of the draws."""
    crops = []
    for index, top, left in choices:
        layer = frost_layer(index, param.texture_scale, h, w, device)
        crops.append(layer[:, top : top + h, left : left + w])
    return torch.stack(crops)


def blend_frost(images: torch.Tensor, crops: torch.Tensor, param: Frost) -> torch.Tensor:
    """frost's blend as torch ops (``_weather_kernel.frost_blend`` on the CPU)."""
    return (param.image_weight * images + param.frost_weight * crops).clamp_(0, 255)


# ---- fog ------------------------------------------------------------------------------------------


def next_power_of_2(x: int) -> int:
    return 1 if x == 0 else 2 ** (x - 1).bit_length()


def plasma_draws(mapsize: int) -> int:
    """How many U[0, 1) draws one plasma fractal of side ``mapsize`` takes (3 per cell per level)."""
    return sum(3 * (mapsize // (mapsize >> k)) ** 2 for k in range(mapsize.bit_length() - 1))


def plasma_fractal(mapsize: int, wibble_decay: float, draws: torch.Tensor) -> torch.Tensor:
    """imagecorruptions' diamond-square height map, (N, mapsize, mapsize) in [0, 1].

    ``draws`` (N, plasma_draws(mapsize)) are U[0, 1) numbers consumed in the reference's order
    (per level: the squares, then the two diamond grids, each row-major).

    Each level is one batched step over all images: the squares' centres get the mean of their
    corners plus noise, then the diamonds' centres (wrapping around, like np.roll) likewise. The
    noise amplitude is wibble * U(-wibble, wibble), as in the reference.
    """
    assert mapsize & (mapsize - 1) == 0
    n, device = draws.shape[0], draws.device
    levels = []
    step, wibble = mapsize, 100.0
    while step >= 2:
        levels.append((step, wibble))
        step //= 2
        wibble /= wibble_decay
    counts = [3 * (mapsize // s) ** 2 for s, _ in levels]
    noise = torch.split(draws * 2 - 1, counts, dim=1)

    grid = torch.zeros(n, mapsize, mapsize, device=device)
    for (step, wibble), u in zip(levels, noise, strict=True):
        k = mapsize // step
        half = step // 2
        u = (wibble * wibble) * u.reshape(n, 3, k, k)
        corners = grid[:, 0::step, 0::step]
        squares = corners + torch.roll(corners, -1, dims=1)
        squares = squares + torch.roll(squares, -1, dims=2)
        grid[:, half::step, half::step] = squares / 4 + u[:, 0]
        centres = grid[:, half::step, half::step]
        corners = grid[:, 0::step, 0::step]
        left = centres + torch.roll(centres, 1, dims=1) + corners + torch.roll(corners, -1, dims=2)
        grid[:, 0::step, half::step] = left / 4 + u[:, 1]
        top = centres + torch.roll(centres, 1, dims=2) + corners + torch.roll(corners, -1, dims=1)
        grid[:, half::step, 0::step] = top / 4 + u[:, 2]
    grid = grid - grid.amin(dim=(1, 2), keepdim=True)
    return grid / grid.amax(dim=(1, 2), keepdim=True)


def fog(images: torch.Tensor, param: Fog, generators) -> torch.Tensor:
    """Add a plasma fractal (cropped top-left from a power-of-two map) and rescale the contrast."""
    h, w = images.shape[-2:]
    mapsize = next_power_of_2(max(h, w))
    count = plasma_draws(mapsize)
    draws = _ops.rand(generators, (count,), "cpu")
    if images.device.type == "cpu":  # build each picture's map in one (GIL-free) call
        from evaluator.corruptions._plasma_kernel import plasma_map

        maps = _ops.map_pictures(
            lambda row: torch.from_numpy(plasma_map(mapsize, param.wibble_decay, row)), draws.numpy(), count
        )
        return apply_fog(images, param, torch.stack(maps))
    plasma = plasma_fractal(mapsize, param.wibble_decay, draws.to(images.device))
    return apply_fog(images, param, plasma)


def apply_fog(images: torch.Tensor, param: Fog, plasma: torch.Tensor) -> torch.Tensor:
    """fog given its plasma fractal (N, S, S), S >= H, W: clip((x + s * plasma) * m / (m + s)), with x
    and the image maximum m in [0, 1] (computed here on 0..255 values). On the CPU in one pass
    (``_weather_kernel.fog_blend``, the same float32 operations)."""
    if images.device.type == "cpu":
        from evaluator.corruptions._weather_kernel import fog_blend

        scales = _fog_scales(images, param.strength).reshape(-1)
        return _blend_on_cpu(fog_blend, images, (plasma, scales), np.float32(255.0 * param.strength))
    return blend_fog(images, plasma, param.strength)


def blend_fog(images: torch.Tensor, plasma: torch.Tensor, strength: float) -> torch.Tensor:
    """fog's last step (``_weather_kernel.fog_blend`` on the CPU) as torch ops."""
    h, w = images.shape[-2:]
    fog_layer = plasma[:, None, :h, :w] * (255.0 * strength)
    return (images + fog_layer).mul_(_fog_scales(images, strength)).clamp_(0, 255)


def _fog_scales(images: torch.Tensor, strength: float) -> torch.Tensor:
    """Each picture's contrast factor m / (m + s), m its maximum in [0, 1]: (N, 1, 1, 1)."""
    top = images.amax(dim=(1, 2, 3), keepdim=True) / 255.0
    return top / (top + strength)


# ---- brightness -----------------------------------------------------------------------------------


def brightness(images: torch.Tensor, amount: float, generators) -> torch.Tensor:
    """rgb2hsv, V += amount (clipped), hsv2rgb: with hue and saturation fixed, that scales the pixel
    by V'/V (a black pixel becomes grey V')."""
    value = images.amax(dim=1, keepdim=True)
    brighter = (value + 255.0 * amount).clamp_(max=255.0)
    scale = brighter.div_(value.clamp(min=1e-6))  # for black pixels x = 0: 0 * scale, fixed below
    out = images * scale
    black = value == 0
    if bool(black.any()):
        out = torch.where(black, 255.0 * amount, out)
    return out.clamp_(0, 255)


# ---- spatter --------------------------------------------------------------------------------------


def spatter(images: torch.Tensor, param: Spatter, generators) -> torch.Tensor:
    """Water drops (embossed outlines of a thresholded smooth noise field) or mud splashes."""
    h, w = images.shape[-2:]
    return apply_spatter(images, param, _ops.randn(generators, (h, w), images.device))


def apply_spatter(images: torch.Tensor, param: Spatter, noise: torch.Tensor) -> torch.Tensor:
    """spatter given its draw: a standard normal field (N, H, W)."""
    layer, colour = spatter_layer(param, noise)
    if images.device.type != "cpu":
        return blend_spatter(images, layer, param.intensity, colour.to(images.device), param.mud)
    from evaluator.corruptions._weather_kernel import spatter_blend

    gain, tints = np.float32(param.intensity), colour.numpy()
    return _blend_on_cpu(spatter_blend, images, (layer[:, 0],), gain, tints, param.mud)


def spatter_layer(param: Spatter, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The liquid's cover (N, 1, H, W) (mud: the mask, water: the drops' intensity) and its colour
    (3,), on 0..255 values, from the noise field (N, H, W)."""
    liquid = gaussian_filter((param.loc + param.scale * noise.to(torch.float32))[:, None], param.sigma)
    liquid = torch.where(liquid < param.threshold, 0.0, liquid)
    if param.mud:
        mask = gaussian_filter((liquid > param.threshold).to(torch.float32), param.intensity)
        layer = torch.where(mask < 0.8, 0.0, mask)
    else:
        layer = water_drops(liquid)
    return layer, torch.tensor(MUD_RGB if param.mud else WATER_RGB) * 255.0


def blend_spatter(
    images: torch.Tensor, layer: torch.Tensor, intensity: float, colour: torch.Tensor, mud: bool
) -> torch.Tensor:
    """spatter's last step (``_weather_kernel.spatter_blend`` on the CPU): mud mixes the colour in by
    the mask ``layer`` (N, 1, H, W), water adds it by the drops' intensity."""
    tint = colour[None, :, None, None]
    if mud:
        return (images * (1 - layer)).add_(tint * layer).clamp_(0, 255)
    return (images + (layer * intensity) * tint).clamp_(0, 255)


_EMBOSS = ((-1, -1, -2), (-1, 0, -1), (0, -1, -1), (0, 0, 1), (0, 1, 1), (1, 0, 1), (1, 1, 2))  # (dy, dx, w)


def water_drops(liquid: torch.Tensor) -> torch.Tensor:
    """The reference's water-drop intensity (N, 1, H, W) in [0, 1] from the thresholded liquid layer."""
    layer = torch.floor(liquid * 255).clamp_(0, 255)  # (liquid * 255).astype(np.uint8)
    shading = _drop_shading_opencv if layer.device.type == "cpu" else _drop_shading_torch
    dist = shading(layer)
    drops = layer.to(torch.float32) * dist
    peak = drops.amax(dim=(1, 2, 3), keepdim=True)
    return torch.where(peak > 0, drops / peak.clamp(min=1e-12), 0.0)


def _kernel_3x3(taps: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """(dy, dx, weight) taps as the 3x3 kernel cv2.filter2D takes."""
    kernel = np.zeros((3, 3), dtype=np.float32)
    for dy, dx, weight in taps:
        kernel[1 + dy, 1 + dx] = weight
    return kernel


_EMBOSS_KERNEL = _kernel_3x3(_EMBOSS)


def _drop_shading_opencv(layer: torch.Tensor) -> torch.Tensor:
    """The reference's OpenCV steps from the uint8 liquid layer (N, 1, H, W) to the drops' shading
    (distance to the drop outlines, equalised and embossed), on the CPU: OpenCV itself, one picture per
    call on ``_ops.map_pictures``' threads (OpenCV releases the GIL)."""
    import cv2

    def one(picture: np.ndarray) -> np.ndarray:
        dist = cv2.distanceTransform(255 - cv2.Canny(picture, 50, 150), cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.equalizeHist(cv2.blur(dist, (3, 3)).astype(np.uint8))
        return cv2.blur(cv2.filter2D(dist, cv2.CV_8U, _EMBOSS_KERNEL), (3, 3)).astype(np.float32)

    planes = layer[:, 0].to(torch.uint8).numpy()
    return torch.from_numpy(np.stack(_ops.map_pictures(one, planes, planes[0].size)))[:, None]


def _drop_shading_torch(layer: torch.Tensor) -> torch.Tensor:
    """:func:`_drop_shading_opencv` as torch ports of the OpenCV steps (for pictures on a GPU)."""
    edges = canny(layer, 50, 150)
    dist = chamfer_distance(edges, cap=20)
    dist = torch.floor(box_blur3(dist.to(torch.float64)).to(torch.float32))  # blur, astype(uint8)
    dist = equalize_hist(dist)
    # cv2.filter2D(dist, CV_8U, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]), reflect-101 borders, saturated
    h, w = dist.shape[-2:]
    padded = F.pad(dist, (1, 1, 1, 1), mode="reflect")
    embossed = torch.zeros_like(dist)
    for dy, dx, weight in _EMBOSS:
        embossed.add_(padded[..., 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w], alpha=weight)
    dist = embossed.clamp_(0, 255)
    return torch.round(box_blur3(dist))  # cv2.blur on uint8 rounds


SPECS: tuple[CorruptionSpec, ...] = (
    CorruptionSpec("snow", "weather", snow, SNOW, random=True),
    CorruptionSpec("frost", "weather", frost, FROST, random=True),
    CorruptionSpec("fog", "weather", fog, FOG, random=True),
    CorruptionSpec("brightness", "weather", brightness, BRIGHTNESS, random=False),
    CorruptionSpec("spatter", "weather", spatter, SPATTER, random=True),
)

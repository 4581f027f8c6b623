"""Reference implementation of the cifar10-c parameter set: hendrycks' make_cifar_c formulas in NumPy.

CIFAR-10-C was made by ``make_cifar_c.py`` (github.com/hendrycks/robustness, ImageNet-C/create_c), which no
package ships and which no longer runs (``np.float_``, ``multichannel=``, Wand/ImageMagick). This module
re-states its formulas and parameter tables on today's NumPy/SciPy/scikit-image/OpenCV, written without
torch and without the torch backend's tables, so that the torch backend is compared against something
independent of itself (a test also checks that both hold the same tables).

Faithful except where the original cannot run here, stated per corruption:

- motion_blur and snow used ImageMagick's ``MotionBlurImage`` through Wand. They use imagecorruptions'
  NumPy port of it (``_motion_blur``: a one-sided Gaussian-weighted line of shifted copies), as the
  imagecorruptions package does for ImageNet-C.
- glass_blur's pixel shuffle uses imagecorruptions' seeded (numba) loop with the make_cifar_c bounds.
- Everything draws from NumPy's global RNG, which :mod:`evaluator.corruptions.reference` seeds per picture.
- The originals hard-code 32 px; sizes are taken from the picture (identical at 32x32).

Input: (H, W, 3) uint8 RGB. Output: float or uint8 (H, W, 3) as the original returned it; the caller
truncates to uint8 (make_cifar_c saved ``np.uint8(corruption(img))``).
"""

from __future__ import annotations

import importlib.resources
from io import BytesIO

import numpy as np

# make_cifar_c's tables, severities 1..5 (independent copy: see the module docstring).
TABLES: dict[str, tuple] = {
    "gaussian_noise": (0.04, 0.06, 0.08, 0.09, 0.10),
    "shot_noise": (500, 250, 100, 75, 50),
    "impulse_noise": (0.01, 0.02, 0.03, 0.05, 0.07),
    "speckle_noise": (0.06, 0.1, 0.12, 0.16, 0.2),
    "gaussian_blur": (0.4, 0.6, 0.7, 0.8, 1),
    "glass_blur": ((0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)),
    "defocus_blur": ((0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)),
    "motion_blur": ((6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)),
    "zoom_blur": tuple(np.arange(1, top, 0.01) for top in (1.06, 1.11, 1.16, 1.21, 1.26)),
    "snow": (
        (0.1, 0.2, 1, 0.6, 8, 3, 0.95),
        (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
        (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9),
        (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
        (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8),
    ),
    "frost": ((1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)),
    "fog": ((0.2, 3), (0.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)),
    "brightness": (0.05, 0.1, 0.15, 0.2, 0.3),
    "spatter": (
        (0.62, 0.1, 0.7, 0.7, 0.5, 0),
        (0.65, 0.1, 0.8, 0.7, 0.5, 0),
        (0.65, 0.3, 1, 0.69, 0.5, 0),
        (0.65, 0.1, 0.7, 0.69, 0.6, 1),
        (0.65, 0.1, 0.5, 0.68, 0.6, 1),
    ),
    "contrast": (0.75, 0.5, 0.4, 0.3, 0.15),
    "elastic_transform": tuple(
        (32 * a, 32 * s, 32 * f)
        for a, s, f in (
            (0, 0, 0.08),
            (0.05, 0.2, 0.07),
            (0.08, 0.06, 0.06),
            (0.1, 0.04, 0.05),
            (0.1, 0.03, 0.03),
        )
    ),
    "pixelate": (0.95, 0.9, 0.85, 0.75, 0.65),
    "jpeg_compression": (80, 65, 58, 50, 40),
    "saturate": ((0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)),
}

FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")


def _blur(x, sigma, **kwargs):
    from skimage.filters import gaussian

    return gaussian(x, sigma=sigma, channel_axis=-1 if x.ndim == 3 else None, **kwargs)


def gaussian_noise(x, c, seed):
    x = x / 255.0
    return np.clip(x + np.random.normal(size=x.shape, scale=c), 0, 1) * 255


def shot_noise(x, c, seed):
    x = x / 255.0
    return np.clip(np.random.poisson(x * c) / c, 0, 1) * 255


def impulse_noise(x, c, seed):
    from skimage.util import random_noise

    return np.clip(random_noise(x / 255.0, mode="s&p", rng=seed, amount=c), 0, 1) * 255


def speckle_noise(x, c, seed):
    x = x / 255.0
    return np.clip(x + x * np.random.normal(size=x.shape, scale=c), 0, 1) * 255


def gaussian_blur(x, c, seed):
    return np.clip(_blur(x / 255.0, c), 0, 1) * 255


def glass_blur(x, c, seed):
    from imagecorruptions.corruptions import _shuffle_pixels_njit_glass_blur

    sigma, delta, iterations = c
    x = np.uint8(_blur(x / 255.0, sigma) * 255)
    x = _shuffle_pixels_njit_glass_blur(x.shape[0], x.shape[1], x, (sigma, delta, iterations), seed)
    return np.clip(_blur(x / 255.0, sigma), 0, 1) * 255


def defocus_blur(x, c, seed):
    import cv2
    from imagecorruptions.corruptions import disk

    x = x / 255.0
    kernel = disk(radius=c[0], alias_blur=c[1])
    channels = np.stack([cv2.filter2D(x[:, :, d], -1, kernel) for d in range(3)], axis=-1)
    return np.clip(channels, 0, 1) * 255


def motion_blur(x, c, seed):
    from imagecorruptions.corruptions import _motion_blur

    out = _motion_blur(np.asarray(x), radius=c[0], sigma=c[1], angle=np.random.uniform(-45, 45))
    return np.clip(out, 0, 255)


def _clipped_zoom(img, zoom_factor):
    """make_cifar_c's clipped_zoom: centre crop of ceil(h / z), zoom by z, centre trim back to h."""
    from scipy.ndimage import zoom

    h = img.shape[0]
    ch = int(np.ceil(h / zoom_factor))
    top = (h - ch) // 2
    img = zoom(img[top : top + ch, top : top + ch], (zoom_factor, zoom_factor, 1), order=1)
    trim = (img.shape[0] - h) // 2
    return img[trim : trim + h, trim : trim + h]


def zoom_blur(x, c, seed):
    x = (x / 255.0).astype(np.float32)
    out = np.zeros_like(x)
    for zoom_factor in c:
        out += _clipped_zoom(x, zoom_factor)
    return np.clip((x + out) / (len(c) + 1), 0, 1) * 255


def snow(x, c, seed):
    import cv2
    from imagecorruptions.corruptions import _motion_blur

    h, w = x.shape[:2]
    x = np.array(x, dtype=np.float32) / 255.0
    layer = np.random.normal(size=(h, w), loc=c[0], scale=c[1])
    layer = _clipped_zoom(layer[..., np.newaxis], c[2])
    layer[layer < c[3]] = 0
    layer = (np.clip(layer.squeeze(), 0, 1) * 255).astype(np.uint8)  # the original went through an L PNG
    layer = _motion_blur(
        layer.astype(np.float32), radius=c[4], sigma=c[5], angle=np.random.uniform(-135, -45)
    )
    layer = np.round(np.clip(layer, 0, 255)).astype(np.uint8)[..., np.newaxis] / 255.0
    grey = cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).reshape(h, w, 1)
    x = c[6] * x + (1 - c[6]) * np.maximum(x, grey * 1.5 + 0.5)
    return np.clip(x + layer + np.rot90(layer, k=2), 0, 1) * 255


def frost(x, c, seed):
    import cv2

    idx = np.random.randint(5)  # make_cifar_c never picks the 6th texture either
    ref = importlib.resources.files("imagecorruptions") / "frost" / FROST_FILES[idx]
    with importlib.resources.as_file(ref) as path:
        texture = cv2.imread(str(path))
    texture = cv2.resize(texture, (0, 0), fx=0.2, fy=0.2)
    h, w = x.shape[:2]
    top, left = np.random.randint(0, texture.shape[0] - h), np.random.randint(0, texture.shape[1] - w)
    texture = texture[top : top + h, left : left + w][..., [2, 1, 0]]
    return np.clip(c[0] * np.asarray(x) + c[1] * texture, 0, 255)


def fog(x, c, seed):
    from imagecorruptions.corruptions import next_power_of_2, plasma_fractal

    h, w = x.shape[:2]
    x = x / 255.0
    max_val = x.max()
    x = (
        x
        + c[0] * plasma_fractal(mapsize=next_power_of_2(max(h, w)), wibbledecay=c[1])[:h, :w][..., np.newaxis]
    )
    return np.clip(x * max_val / (max_val + c[0]), 0, 1) * 255


def brightness(x, c, seed):
    import skimage.color

    x = skimage.color.rgb2hsv(x / 255.0)
    x[:, :, 2] = np.clip(x[:, :, 2] + c, 0, 1)
    return np.clip(skimage.color.hsv2rgb(x), 0, 1) * 255


def spatter(x, c, seed):
    import cv2

    x = np.array(x, dtype=np.float32) / 255.0
    liquid = np.random.normal(size=x.shape[:2], loc=c[0], scale=c[1])
    liquid = _blur(liquid, c[2])
    liquid[liquid < c[3]] = 0
    if c[5] == 0:  # water
        liquid = (liquid * 255).astype(np.uint8)
        dist = 255 - cv2.Canny(liquid, 50, 150)
        dist = cv2.distanceTransform(dist, cv2.DIST_L2, 5)
        _, dist = cv2.threshold(dist, 20, 20, cv2.THRESH_TRUNC)
        dist = cv2.blur(dist, (3, 3)).astype(np.uint8)
        dist = cv2.equalizeHist(dist)
        dist = cv2.filter2D(dist, cv2.CV_8U, np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]))
        dist = cv2.blur(dist, (3, 3)).astype(np.float32)
        m = cv2.cvtColor(liquid * dist, cv2.COLOR_GRAY2BGRA)
        m /= np.max(m, axis=(0, 1))
        m *= c[4]
        ones = np.ones_like(m[..., :1])
        color = np.concatenate((175 / 255.0 * ones, 238 / 255.0 * ones, 238 / 255.0 * ones), axis=2)
        color = cv2.cvtColor(color, cv2.COLOR_BGR2BGRA)
        x = cv2.cvtColor(x, cv2.COLOR_BGR2BGRA)
        return cv2.cvtColor(np.clip(x + m * color, 0, 1), cv2.COLOR_BGRA2BGR) * 255
    m = np.where(liquid > c[3], 1, 0)  # mud
    m = _blur(m.astype(np.float32), c[4])
    m[m < 0.8] = 0
    ones = np.ones_like(x[..., :1])
    color = np.concatenate((63 / 255.0 * ones, 42 / 255.0 * ones, 20 / 255.0 * ones), axis=2)
    color *= m[..., np.newaxis]
    x *= 1 - m[..., np.newaxis]
    return np.clip(x + color, 0, 1) * 255


def contrast(x, c, seed):
    x = x / 255.0
    means = np.mean(x, axis=(0, 1), keepdims=True)
    return np.clip((x - means) * c + means, 0, 1) * 255


def saturate(x, c, seed):
    import skimage.color

    x = skimage.color.rgb2hsv(x / 255.0)
    x[:, :, 1] = np.clip(x[:, :, 1] * c[0] + c[1], 0, 1)
    return np.clip(skimage.color.hsv2rgb(x), 0, 1) * 255


def jpeg_compression(x, c, seed):
    from PIL import Image

    buffer = BytesIO()
    Image.fromarray(x).save(buffer, "JPEG", quality=c)
    return np.array(Image.open(buffer))


def pixelate(x, c, seed):
    from PIL import Image

    h, w = x.shape[:2]
    img = Image.fromarray(x).resize((int(w * c), int(h * c)), Image.BOX)
    return np.array(img.resize((w, h), Image.BOX))


def elastic_transform(image, c, seed):
    import cv2
    from scipy.ndimage import map_coordinates

    image = np.array(image, dtype=np.float32) / 255.0
    shape = image.shape
    size = shape[:2]
    centre = np.float32(size) // 2
    square = min(size) // 3
    src = np.float32([centre + square, [centre[0] + square, centre[1] - square], centre - square])
    dst = src + np.random.uniform(-c[2], c[2], size=src.shape).astype(np.float32)
    image = cv2.warpAffine(
        image, cv2.getAffineTransform(src, dst), size[::-1], borderMode=cv2.BORDER_REFLECT_101
    )
    from skimage.filters import gaussian

    dx = (gaussian(np.random.uniform(-1, 1, size=size), c[1], mode="reflect", truncate=3) * c[0]).astype(
        np.float32
    )
    dy = (gaussian(np.random.uniform(-1, 1, size=size), c[1], mode="reflect", truncate=3) * c[0]).astype(
        np.float32
    )
    xs, ys, zs = np.meshgrid(np.arange(shape[1]), np.arange(shape[0]), np.arange(shape[2]))
    indices = (
        np.reshape(ys + dy[..., None], (-1, 1)),
        np.reshape(xs + dx[..., None], (-1, 1)),
        np.reshape(zs, (-1, 1)),
    )
    return np.clip(map_coordinates(image, indices, order=1, mode="reflect").reshape(shape), 0, 1) * 255


def corrupt(img: np.ndarray, name: str, severity: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (H, W, 3) uint8 with make_cifar_c's formula and table; NumPy's RNG seeded by the caller."""
    out = globals()[name](np.asarray(img), TABLES[name][severity - 1], seed)
    return np.uint8(out)

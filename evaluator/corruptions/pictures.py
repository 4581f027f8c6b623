"""Pictures on disk for ``rzoo corrupt``: read any PIL-readable file as RGB, write atomically, and the
labelled grid of every corruption x severity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from zoo.errors import InvalidInputError

WRITABLE = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF"}


def read_picture(path: str | Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB from any picture PIL reads (greyscale, palette and RGBA are converted)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            return np.asarray(img.convert("RGB")).copy()
    except FileNotFoundError:
        raise InvalidInputError(f"no such picture: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InvalidInputError(f"cannot read {path} as a picture ({type(err).__name__})") from None


def check_writable(path: str | Path) -> str:
    """The PIL format for ``path``'s suffix, or an :class:`InvalidInputError` before any work is done."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITABLE:
        raise InvalidInputError(
            f"cannot write {suffix or 'suffix-less'} files; use one of {', '.join(WRITABLE)}"
        )
    return WRITABLE[suffix]


def write_picture(picture: np.ndarray, path: str | Path) -> Path:
    """Write an (H, W, 3) uint8 picture through a temporary file and an atomic rename."""
    import io

    from PIL import Image

    from evaluator.results import atomic_write_bytes

    path = Path(path)
    fmt = check_writable(path)
    encoded = io.BytesIO()
    Image.fromarray(picture).save(encoded, format=fmt)
    return atomic_write_bytes(path, encoded.getvalue())


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def tile_of(picture: np.ndarray, side: int) -> np.ndarray:
    """``picture`` centre-cropped square and resized to ``side`` px (PIL bicubic)."""
    from PIL import Image

    h, w = picture.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    square = Image.fromarray(np.ascontiguousarray(picture[top : top + s, left : left + s]))
    return np.asarray(square.resize((side, side), Image.BICUBIC)).copy()


def corruption_grid(
    picture: np.ndarray,
    corruptions: Sequence[str],
    seed: int = 0,
    params: str = "imagenet-c",
    backend: str = "torch",
    tile: int = 160,
    on_cell: Callable[[str, int], None] | None = None,
) -> np.ndarray:
    """One labelled picture: a row per corruption, columns clean and severities 1..5.

    The picture is cropped square and resized to the tile size first (32 px for cifar10-c, then shown
    enlarged), and every cell is ``corrupt(tile, name, severity, seed)``: the same as ``rzoo corrupt`` on
    the tile. ``on_cell(name, severity)`` is called after each cell (progress).
    """
    from PIL import Image, ImageDraw

    from evaluator.corruptions import corrupt

    work_side = 32 if params == "cifar10-c" else tile
    work = tile_of(picture, work_side)
    label_w, head_h, pad = 150, 24, 4
    width = label_w + 6 * (tile + pad)
    height = head_h + len(corruptions) * (tile + pad)
    canvas = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(canvas)
    font = _font(14)

    def show(cell: np.ndarray) -> Image.Image:
        img = Image.fromarray(cell)
        return img if work_side == tile else img.resize((tile, tile), Image.NEAREST)

    for col, title in enumerate(["clean", *(f"severity {s}" for s in range(1, 6))]):
        draw.text((label_w + col * (tile + pad) + 4, 4), title, fill="black", font=font)
    for row, name in enumerate(corruptions):
        y = head_h + row * (tile + pad)
        draw.text((6, y + tile // 2 - 8), name, fill="black", font=font)
        canvas.paste(show(work), (label_w, y))
        for severity in range(1, 6):
            cell = corrupt(work, name, severity, seed=seed, params=params, backend=backend)
            canvas.paste(show(cell), (label_w + severity * (tile + pad), y))
            if on_cell is not None:
                on_cell(name, severity)
    return np.asarray(canvas).copy()

"""Pieces shared by the loaders: keyed datasets, the missing-dataset error, image decoding."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from zoo.errors import DatasetNotFoundError

DOWNLOAD_COMMAND = "rzoo data download {name} --root {root}"


def missing_dataset(name: str, what: Path, root: Path) -> DatasetNotFoundError:
    command = DOWNLOAD_COMMAND.format(name=name, root=root)
    return DatasetNotFoundError(f"{name} training data not found ({what} is missing); run `{command}`")


class KeyedDataset(torch.utils.data.Dataset):
    """``dataset[(index, seed)]``: ``load(index)`` then ``augment(sample)`` under a torch RNG seeded with ``seed``."""

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def load(self, index: int) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def augment(self, sample: Any) -> Any:
        return sample

    def __getitem__(self, key: tuple[int, int]) -> Any:
        index, seed = key
        sample = self.load(int(index))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            return self.augment(sample)


def read_rgb(path: Path) -> torch.Tensor:
    """uint8 (3, H, W) RGB tensor of a JPEG/PNG (greyscale and palette images converted)."""
    from torchvision.io import ImageReadMode, decode_image

    return decode_image(str(path), mode=ImageReadMode.RGB)


def read_label_png(path: Path) -> torch.Tensor:
    """uint8 (H, W) label map of a single-channel PNG (values as stored, no palette mapping)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        if img.mode not in ("L", "P", "I;16", "I"):
            raise ValueError(f"{path}: label maps must be single-channel PNGs, got mode {img.mode}")
        return torch.from_numpy(np.array(img, dtype=np.int64))

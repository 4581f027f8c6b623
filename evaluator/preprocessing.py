"""Model-side preprocessing in torch: resize, center crop and normalise from a checkpoint's data config.

Classification follows timm's eval transform: resize the shorter side to ``floor(size / crop_pct)``,
center-crop ``size``, scale to [0, 1], normalise with the config's mean/std. An image that already
has the model's input size (a released ImageNet-C image: resized and cropped to 224 by its makers; a
CIFAR image for a 32-px model) is only normalised. Resizing is torch's
antialiased interpolation (close to, not bit-identical with, PIL's). Inputs are uint8 (3, H, W) RGB
tensors — already corrupted at their original resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _get(config: Any, key: str, default: Any) -> Any:
    if config is None:
        return default
    if isinstance(config, dict):
        return config.get(key, default)
    return getattr(config, key, default)


@dataclass(frozen=True)
class ClassifierPreprocessing:
    size: tuple[int, int]
    resize_to: int
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def from_data_config(cls, config: Any) -> ClassifierPreprocessing:
        input_size = tuple(_get(config, "input_size", (3, 224, 224)))
        crop_pct = float(_get(config, "crop_pct", 0.875) or 1.0)
        height, width = int(input_size[-2]), int(input_size[-1])
        interpolation = str(_get(config, "interpolation", "bilinear"))
        if interpolation not in ("bilinear", "bicubic", "nearest"):
            interpolation = "bilinear"
        return cls(
            size=(height, width),
            resize_to=math.floor(min(height, width) / crop_pct),
            interpolation=interpolation,
            mean=tuple(float(v) for v in _get(config, "mean", IMAGENET_MEAN)),
            std=tuple(float(v) for v in _get(config, "std", IMAGENET_STD)),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "resize_shorter_side": self.resize_to,
            "center_crop": list(self.size),
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def to_data_config(self) -> dict[str, Any]:
        """timm-style data config that reproduces this preprocessing."""
        return {
            "input_size": [3, *self.size],
            "crop_pct": min(self.size) / self.resize_to,
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def __call__(self, images: Any) -> Any:
        """uint8 (N, 3, H, W) tensor or list of (3, H, W) -> float32 (N, 3, h, w), normalised."""
        import torch

        if isinstance(images, torch.Tensor):
            return self._normalise(self._resize_crop(images.float()))
        groups = [self._resize_crop(img.unsqueeze(0).float()) for img in images]
        return self._normalise(torch.cat(groups))

    def _resize_crop(self, batch: Any) -> Any:
        import torch.nn.functional as F

        height, width = batch.shape[-2:]
        if (height, width) == self.size:
            return batch
        short = min(height, width)
        if short != self.resize_to:
            scale = self.resize_to / short
            new_h = max(self.size[0], round(height * scale))
            new_w = max(self.size[1], round(width * scale))
            if min(height, width) == height:
                new_h = self.resize_to
            else:
                new_w = self.resize_to
            kwargs = {} if self.interpolation == "nearest" else {"align_corners": False, "antialias": True}
            batch = F.interpolate(batch, size=(new_h, new_w), mode=self.interpolation, **kwargs)
            batch = batch.clamp_(0, 255)
            height, width = new_h, new_w
        top = (height - self.size[0]) // 2
        left = (width - self.size[1]) // 2
        return batch[..., top : top + self.size[0], left : left + self.size[1]]

    def _normalise(self, batch: Any) -> Any:
        import torch

        mean = torch.tensor(self.mean, dtype=batch.dtype).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std, dtype=batch.dtype).view(1, 3, 1, 1) * 255.0
        return ((batch - mean) / std).contiguous()

"""ADE20K (ADEChallengeData2016) for UperNet training, with mmsegmentation's train pipeline.

Layout (``rzoo data download ade20k --root DIR``): ``DIR/ADEChallengeData2016/images/training/*.jpg``
and ``.../annotations/training/*.png`` (single-channel label maps; ``DIR`` may also be the
``ADEChallengeData2016`` folder itself). Labels: 0 is "other" and ignored, 1..150 become 0..149
(mmseg's ``reduce_zero_label``); ignored pixels are 255.
Train transform (mmseg): random rescale of the (2048, 512) scale by a ratio in [0.5, 2.0] keeping the
aspect ratio; random crop to crop_size x crop_size with at most 75 % of the crop taken by one class
(10 tries); horizontal flip p=0.5; photometric distortion (brightness +-32, contrast and saturation
x[0.5, 1.5], hue +-18 of 180, each with p=0.5); normalisation; padding to the crop size (label 255).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from zoo.errors import InvalidInputError
from zoo.finetune.data.common import KeyedDataset, missing_dataset, read_label_png, read_rgb

IGNORE_INDEX = 255
NUM_CLASSES = 150
IMG_SCALE = (2048, 512)
RATIO_RANGE = (0.5, 2.0)
CAT_MAX_RATIO = 0.75


def ade20k_folder(data_root: Path) -> Path:
    data_root = Path(data_root)
    return data_root if (data_root / "images").is_dir() else data_root / "ADEChallengeData2016"


def reduce_zero_label(label: torch.Tensor) -> torch.Tensor:
    """ADE20K raw labels (0 = other, 1..150) -> training labels (255 = ignore, 0..149)."""
    label = label.to(torch.int64)
    return torch.where(label == 0, IGNORE_INDEX, label - 1)


class ADE20KSegmentation(KeyedDataset):
    """Samples are ``(normalised image float (3, S, S), labels int64 (S, S))`` with S = crop_size."""

    def __init__(
        self,
        data_root: Path,
        mean,
        std,
        split: str = "training",
        crop_size: int = 512,
        img_scale: tuple[int, int] | None = None,
        limit: int | None = None,
    ) -> None:
        folder = ade20k_folder(data_root)
        self.image_dir = folder / "images" / split
        self.label_dir = folder / "annotations" / split
        for d in (self.image_dir, self.label_dir):
            if not d.is_dir():
                raise missing_dataset("ade20k", d, Path(data_root))
        images = sorted(self.image_dir.glob("*.jpg"))
        if not images:
            raise missing_dataset("ade20k", self.image_dir / "*.jpg", Path(data_root))
        self.images = images[:limit] if limit is not None else images
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)
        self.crop_size = crop_size
        # mmseg's (2048, 512) for 512 crops; other crop sizes keep the same proportions.
        self.img_scale = img_scale or (IMG_SCALE[0] * crop_size // 512, IMG_SCALE[1] * crop_size // 512)

    def __len__(self) -> int:
        return len(self.images)

    def load(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        path = self.images[index]
        label_path = self.label_dir / f"{path.stem}.png"
        if not label_path.is_file():
            raise InvalidInputError(f"{path.name} has no label map {label_path}")
        image = read_rgb(path)
        label = read_label_png(label_path)
        if tuple(label.shape) != tuple(image.shape[-2:]):
            raise InvalidInputError(
                f"{label_path.name}: label map {tuple(label.shape)} != image {tuple(image.shape[-2:])}"
            )
        return image, reduce_zero_label(label)

    def augment(self, sample):
        image, label = sample
        image, label = random_rescale(image, label, self.img_scale, RATIO_RANGE)
        image, label = random_crop(image, label, self.crop_size, CAT_MAX_RATIO)
        if torch.rand(()) < 0.5:
            image, label = image.flip(-1), label.flip(-1)
        image = photometric_distortion(image)
        image = (image / 255.0 - self.mean) / self.std
        return pad_to(image, label, self.crop_size)


def random_rescale(image, label, img_scale, ratio_range):
    ratio = float(torch.empty(()).uniform_(*ratio_range))
    long_side, short_side = img_scale[0] * ratio, img_scale[1] * ratio
    h, w = image.shape[-2:]
    scale = min(long_side / max(h, w), short_side / min(h, w))
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    image = TF.resize(image, list(size), antialias=True)
    label = TF.resize(label[None], list(size), interpolation=TF.InterpolationMode.NEAREST)[0]
    return image, label


def random_crop(image, label, crop_size, cat_max_ratio):
    h, w = label.shape
    ch, cw = min(crop_size, h), min(crop_size, w)

    def draw():
        top = int(torch.randint(0, h - ch + 1, ()))
        left = int(torch.randint(0, w - cw + 1, ()))
        return top, left

    top, left = draw()
    for _ in range(10):  # mmseg: re-draw while one class covers more than cat_max_ratio of the crop
        crop = label[top : top + ch, left : left + cw]
        _values, counts = torch.unique(crop[crop != IGNORE_INDEX], return_counts=True)
        if len(counts) > 1 and counts.max().item() / counts.sum().item() < cat_max_ratio:
            break
        top, left = draw()
    return image[:, top : top + ch, left : left + cw], label[top : top + ch, left : left + cw]


def photometric_distortion(image: torch.Tensor) -> torch.Tensor:
    """mmseg's PhotoMetricDistortion on a uint8 (3, H, W) image; returns float in [0, 255]."""
    img = image.float()
    if torch.rand(()) < 0.5:
        img = img + float(torch.empty(()).uniform_(-32, 32))
    img = img.clamp(0, 255)
    contrast_first = bool(torch.randint(0, 2, ()))
    contrast = torch.rand(()) < 0.5
    alpha = float(torch.empty(()).uniform_(0.5, 1.5))
    if contrast_first and contrast:
        img = (img * alpha).clamp(0, 255)
    if torch.rand(()) < 0.5:
        img = TF.adjust_saturation(img / 255.0, float(torch.empty(()).uniform_(0.5, 1.5))) * 255.0
    if torch.rand(()) < 0.5:
        img = TF.adjust_hue(img / 255.0, int(torch.randint(-18, 19, ())) / 180.0) * 255.0
    if not contrast_first and contrast:
        img = (img * alpha).clamp(0, 255)
    return img.clamp(0, 255)


def pad_to(image: torch.Tensor, label: torch.Tensor, size: int):
    h, w = label.shape
    pad_h, pad_w = size - h, size - w
    if pad_h > 0 or pad_w > 0:
        image = F.pad(image, (0, max(pad_w, 0), 0, max(pad_h, 0)), value=0.0)
        label = F.pad(label, (0, max(pad_w, 0), 0, max(pad_h, 0)), value=IGNORE_INDEX)
    return image, label


def collate_segmentation(batch):
    images, labels = zip(*batch, strict=True)
    return torch.stack(images), torch.stack(labels)

"""COCO 2017 instances for Mask R-CNN training.

Layout (``rzoo data download coco --root DIR``): ``DIR/coco/annotations/instances_train2017.json``
and ``DIR/coco/train2017/*.jpg`` (``DIR`` may also be the ``coco`` folder itself). Polygons and RLE
(crowd) segmentations are decoded with pycocotools. As mmdetection does for training, crowd
annotations and boxes under 1 px are dropped and images without any remaining annotation skipped.
Train transform: horizontal flip with p=0.5; resizing to the recipe's short side(s) (1333 x 800, or
multi-scale 480..800 for Swin) and normalisation happen inside the model (torchvision's transform).
With ``crop_branch`` (the Swin recipe) half of the samples first take mmdetection's AutoAugment crop
branch: resize to a short side of 400, 500 or 600 (long side <= 1333), then a random crop of
384..600 x 384..600 pixels (boxes clipped, boxes left empty dropped, an empty crop allowed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoo.errors import InvalidInputError
from zoo.finetune.data.common import KeyedDataset, missing_dataset, read_rgb


def coco_folder(data_root: Path) -> Path:
    data_root = Path(data_root)
    return data_root if (data_root / "annotations").is_dir() else data_root / "coco"


class CocoInstances(KeyedDataset):
    """Samples are ``(image float (3, H, W) in [0, 1], target dict)`` in torchvision's detection format."""

    def __init__(
        self, data_root: Path, split: str = "train2017", limit: int | None = None, crop_branch: bool = False
    ) -> None:
        from pycocotools.coco import COCO

        folder = coco_folder(data_root)
        ann_file = folder / "annotations" / f"instances_{split}.json"
        if not ann_file.is_file():
            raise missing_dataset("coco", ann_file, Path(data_root))
        self.image_dir = folder / split
        if not self.image_dir.is_dir():
            raise missing_dataset("coco", self.image_dir, Path(data_root))
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints progress
            self.coco = COCO(str(ann_file))
        cats = sorted(self.coco.getCatIds())
        if not cats:
            raise InvalidInputError(f"{ann_file} declares no categories")
        self.category_ids = tuple(int(c) for c in cats)
        self.class_names = tuple(self.coco.loadCats(c)[0]["name"] for c in cats)
        self.label_of = {c: i + 1 for i, c in enumerate(cats)}
        ids = []
        for image_id in sorted(self.coco.getImgIds()):
            anns = self.coco.loadAnns(self.coco.getAnnIds(imgIds=image_id, iscrowd=False))
            if any(a["bbox"][2] >= 1 and a["bbox"][3] >= 1 for a in anns):
                ids.append(image_id)
        self.image_ids = ids[:limit] if limit is not None else ids
        self.crop_branch = crop_branch

    def __len__(self) -> int:
        return len(self.image_ids)

    def load(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image_id = self.image_ids[index]
        info = self.coco.loadImgs(image_id)[0]
        image = read_rgb(self.image_dir / info["file_name"])
        h, w = image.shape[-2:]
        if (h, w) != (info["height"], info["width"]):
            raise InvalidInputError(
                f"{info['file_name']}: image is {w}x{h} but the annotations say {info['width']}x{info['height']}"
            )
        anns = [
            a
            for a in self.coco.loadAnns(self.coco.getAnnIds(imgIds=image_id, iscrowd=False))
            if a["bbox"][2] >= 1 and a["bbox"][3] >= 1
        ]
        boxes = torch.tensor([a["bbox"] for a in anns], dtype=torch.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
        masks = (
            torch.from_numpy(np.stack([self.coco.annToMask(a) for a in anns]))
            if anns
            else torch.zeros(0, h, w)
        )
        target = {
            "boxes": boxes,
            "labels": torch.tensor([self.label_of[a["category_id"]] for a in anns], dtype=torch.int64),
            "masks": masks.to(torch.uint8),
            "image_id": torch.tensor(image_id),
        }
        return image.float() / 255.0, target

    def augment(self, sample):
        image, target = sample
        if self.crop_branch and torch.rand(()) < 0.5:
            short = CROP_BRANCH_SCALES[int(torch.randint(0, len(CROP_BRANCH_SCALES), ()))]
            image, target = resize_detection(image, target, short, CROP_BRANCH_MAX_SIZE)
            image, target = random_crop_detection(image, target, CROP_BRANCH_RANGE)
        if torch.rand(()) < 0.5:
            w = image.shape[-1]
            image = image.flip(-1)
            boxes = target["boxes"].clone()
            boxes[:, 0], boxes[:, 2] = w - target["boxes"][:, 2], w - target["boxes"][:, 0]
            target = {**target, "boxes": boxes, "masks": target["masks"].flip(-1)}
        return image, target


CROP_BRANCH_SCALES = (400, 500, 600)
CROP_BRANCH_MAX_SIZE = 1333
CROP_BRANCH_RANGE = (384, 600)


def resize_detection(image: torch.Tensor, target: dict, short_side: int, max_size: int):
    """Resize keeping the aspect ratio: short side ``short_side``, long side at most ``max_size``."""
    from torchvision.transforms.v2 import functional as TF

    h, w = image.shape[-2:]
    scale = min(short_side / min(h, w), max_size / max(h, w))
    size = [max(1, round(h * scale)), max(1, round(w * scale))]
    image = TF.resize(image, size, antialias=True)
    masks = target["masks"]
    if masks.numel():
        masks = TF.resize(masks, size, interpolation=TF.InterpolationMode.NEAREST)
    else:
        masks = masks.new_zeros((0, *size))
    sy, sx = size[0] / h, size[1] / w
    boxes = target["boxes"] * torch.tensor([sx, sy, sx, sy])
    return image, {**target, "boxes": boxes, "masks": masks}


def random_crop_detection(image: torch.Tensor, target: dict, size_range: tuple[int, int]):
    """mmdetection's RandomCrop(crop_type='absolute_range', allow_negative_crop=True)."""
    h, w = image.shape[-2:]
    lo, hi = size_range
    crop_h = int(torch.randint(min(lo, h), min(h, hi) + 1, ()))
    crop_w = int(torch.randint(min(lo, w), min(w, hi) + 1, ()))
    top = int(torch.randint(0, h - crop_h + 1, ()))
    left = int(torch.randint(0, w - crop_w + 1, ()))
    boxes = target["boxes"] - torch.tensor([left, top, left, top], dtype=torch.float32)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, crop_w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, crop_h)
    keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
    masks = target["masks"][keep][:, top : top + crop_h, left : left + crop_w]
    cropped = {**target, "boxes": boxes[keep], "labels": target["labels"][keep], "masks": masks}
    return image[:, top : top + crop_h, left : left + crop_w], cropped


def collate_detection(batch):
    images, targets = zip(*batch, strict=True)
    return list(images), list(targets)

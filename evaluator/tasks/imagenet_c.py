"""ImageNet-C (Hendrycks & Dietterich 2019): top-1, mPC/rPC, mCE and relative mCE vs AlexNet.

Data under ``data_root``::

    val/<wnid>/<name>.JPEG                              # ImageNet val, one folder per class
    ImageNet-C/<corruption>/<severity>/<wnid>/<name>.JPEG   # optional: the released ImageNet-C

Class indices are the positions of the wnids in the standard sorted list of the 1000 ImageNet-1k
synsets (timm's ``ImageNetInfo``), so a val folder holding only some classes still maps correctly.
Released ImageNet-C images are already resized and center-cropped to 224 px: they (like any image
already at the model's input size) only get normalised. Missing released corruptions are generated on
the fly with the ``imagenet-c`` parameters at the image's original resolution, before the resize.

``limit`` keeps the first N images in (wnid, file name) order. ``subset`` (1..5000) evaluates exactly
RobustBench's ImageNet-C images: the first N lines of its ``helper_files/imagenet_test_image_ids.txt``
(``<wnid>/<file>``, in that order, as its ``load_imagenetc(n_examples)`` takes them), labelled by its
``imagenet_class_to_id_map.json``. The list is read from the installed ``robustbench`` distribution's
files without importing robustbench (``pip install --no-deps robustbench==1.1.1``); results record the
selection as ``robustbench-imagenet-5000[:N]``. ``limit`` then keeps the first images of that list.
mCE and relative mCE are reported only when all 15 corruptions x 5 severities were evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from evaluator.tasks._base import ClassificationMetric, ClassifierTask
from zoo.errors import DatasetNotFoundError, InvalidInputError

IMAGE_SUFFIXES = (".jpeg", ".jpg", ".png")
CORRUPTED_DIRS = ("ImageNet-C", "imagenet-c")
DOWNLOAD_HINT = (
    "ImageNet is not redistributable: put the val set as {root}/val/<wnid>/*.JPEG "
    "(and optionally ImageNet-C as {root}/ImageNet-C/<corruption>/<severity>/<wnid>/*.JPEG); "
    "see `rzoo data download --help`"
)
ROBUSTBENCH_IMAGES = 5000
ROBUSTBENCH_INSTALL = "pip install --no-deps robustbench==1.1.1"
ROBUSTBENCH_LIST = "helper_files/imagenet_test_image_ids.txt"
ROBUSTBENCH_CLASSES = "helper_files/imagenet_class_to_id_map.json"


@cache
def imagenet_wnids() -> dict[str, int]:
    """wnid -> class index for ImageNet-1k: the sorted synset list timm ships (read without importing
    timm, whose import pulls in every model family)."""
    import importlib.util

    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        raise InvalidInputError("timm is needed for the ImageNet class list")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "_info" / "imagenet_synsets.txt"
    wnids = path.read_text().split()
    if len(wnids) != 1000 or wnids != sorted(wnids):
        raise InvalidInputError(f"{path}: not the 1000 sorted ImageNet-1k synsets")
    return {w: i for i, w in enumerate(wnids)}


def decode_image(path: Path) -> Any:
    """An image file -> uint8 tensor (3, H, W), RGB (greyscale and CMYK converted)."""
    import numpy as np
    import torch
    from PIL import Image

    try:
        with Image.open(path) as img:
            rgb = np.array(img.convert("RGB"))
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable image ({err})") from err
    return torch.from_numpy(rgb).permute(2, 0, 1)


@dataclass(frozen=True)
class ImageNetSample:
    wnid: str
    filename: str
    label: int


@dataclass
class ImageNetCDataset:
    root: Path
    samples: list[ImageNetSample]
    corrupted_root: Path | None
    subset: str | None = None  # the named selection (see subset_name), None for the whole val folder
    _present: dict[tuple[str, int], bool] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.samples)

    def image_id(self, index: int) -> str:
        return Path(self.samples[index].filename).stem

    def load(self, index: int) -> tuple[Any, int]:
        s = self.samples[index]
        return decode_image(self.root / "val" / s.wnid / s.filename), s.label

    def has_precomputed(self, corruption: str, severity: int) -> bool:
        key = (corruption, severity)
        if key not in self._present:
            self._present[key] = (
                self.corrupted_root is not None
                and (self.corrupted_root / corruption / str(severity)).is_dir()
            )
        return self._present[key]

    def load_precomputed(self, index: int, corruption: str, severity: int) -> Any:
        s = self.samples[index]
        folder = self.corrupted_root / corruption / str(severity) / s.wnid
        path = folder / s.filename
        if not path.is_file():
            matches = [p for p in folder.glob(Path(s.filename).stem + ".*")] if folder.is_dir() else []
            if not matches:
                raise DatasetNotFoundError(f"ImageNet-C is incomplete: {path} is missing")
            path = matches[0]
        return decode_image(path)

    def describe(self) -> dict[str, Any]:
        return {"num_images": len(self), "subset": self.subset}


def list_samples(val: Path) -> list[ImageNetSample]:
    wnids = imagenet_wnids()
    samples = []
    for folder in sorted(p for p in val.iterdir() if p.is_dir()):
        if folder.name not in wnids:
            raise InvalidInputError(
                f"{folder}: not an ImageNet-1k class folder (expected a wnid like n01440764)"
            )
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                samples.append(ImageNetSample(folder.name, path.name, wnids[folder.name]))
    return samples


def robustbench_helper_dir() -> Path | None:
    """The ``helper_files`` folder's parent in the installed ``robustbench`` distribution, or None
    when robustbench is not installed (found without importing it: its ``__init__`` imports
    dependencies rzoo does not install)."""
    import importlib.metadata

    try:
        dist = importlib.metadata.distribution("robustbench")
    except importlib.metadata.PackageNotFoundError:
        return None
    for file in dist.files or ():
        if file.as_posix() == f"robustbench/{ROBUSTBENCH_LIST}":
            return Path(dist.locate_file(file)).parent.parent
    return None


def robustbench_subset(n: int) -> list[ImageNetSample]:
    """RobustBench's first ``n`` ImageNet-C evaluation images, in its order, with its labels."""
    import json

    if not 1 <= n <= ROBUSTBENCH_IMAGES:
        raise InvalidInputError(
            f"--subset must be between 1 and {ROBUSTBENCH_IMAGES} (RobustBench's ImageNet-C list), got {n}"
        )
    base = robustbench_helper_dir()
    if base is None or not (base / ROBUSTBENCH_LIST).is_file():
        raise InvalidInputError(
            f"--subset needs RobustBench's ImageNet-C image list; install it with `{ROBUSTBENCH_INSTALL}`"
        )
    lines = [line.strip() for line in (base / ROBUSTBENCH_LIST).read_text().splitlines() if line.strip()]
    classes = json.loads((base / ROBUSTBENCH_CLASSES).read_text())
    if len(lines) != ROBUSTBENCH_IMAGES or classes != imagenet_wnids():
        raise InvalidInputError(
            f"{base}: not RobustBench's {ROBUSTBENCH_IMAGES}-image ImageNet list and ImageNet-1k class map; "
            f"reinstall with `{ROBUSTBENCH_INSTALL}`"
        )
    samples = []
    for line in lines[:n]:
        wnid, _, filename = line.partition("/")
        if wnid not in classes or not filename or "/" in filename:
            raise InvalidInputError(f"{base / ROBUSTBENCH_LIST}: malformed line {line!r}")
        samples.append(ImageNetSample(wnid, filename, classes[wnid]))
    return samples


def subset_name(n: int) -> str:
    """How results name the selection ``--subset n`` evaluates."""
    return f"robustbench-imagenet-{ROBUSTBENCH_IMAGES}[:{n}]"


@dataclass
class ImageNetC(ClassifierTask):
    name: str = "imagenet-c"
    param_set: str = "imagenet-c"
    metric_names: tuple[str, ...] = ("top1",)
    primary_metric: str = "top1"
    with_mce: bool = True
    model_kind: str = "classifier"
    stackable: bool = False
    metric: ClassificationMetric = field(default_factory=lambda: ClassificationMetric(1000))

    def open(self, data_root: Path, limit: int | None, subset: int | None = None) -> ImageNetCDataset:
        root = Path(data_root)
        val = root / "val"
        chosen = robustbench_subset(subset) if subset is not None else None
        if not val.is_dir():
            raise DatasetNotFoundError(f"ImageNet val not found at {val}. " + DOWNLOAD_HINT.format(root=root))
        if chosen is None:
            samples = list_samples(val)
        else:
            missing = [val / s.wnid / s.filename for s in chosen if not (val / s.wnid / s.filename).is_file()]
            if missing:
                raise DatasetNotFoundError(
                    f"{len(missing)} of the {len(chosen)} images of RobustBench's ImageNet-C subset are "
                    f"missing from {val}, the first: {missing[0]} (--subset needs the full ImageNet val set)"
                )
            samples = chosen
        if limit is not None:
            samples = samples[:limit]
        corrupted = next((root / d for d in CORRUPTED_DIRS if (root / d).is_dir()), None)
        return ImageNetCDataset(root, samples, corrupted, None if subset is None else subset_name(subset))


TASK = ImageNetC()

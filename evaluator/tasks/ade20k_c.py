"""ADE20K-C: the ADE20K validation set corrupted on the fly (ImageNet-C parameters); mIoU, mPC, rPC.

Data under ``data_root`` (or ``data_root/ADEChallengeData2016``)::

    images/validation/ADE_val_XXXXXXXX.jpg
    annotations/validation/ADE_val_XXXXXXXX.png     # 0 = ignore, classes 1..150 -> 0..149

Inference is whole-image at mmsegmentation's test scale (2048, 512) with the aspect ratio kept
(scale = min(2048 / long side, 512 / short side)), bilinear resize, normalisation from the model's
config; the logits (N, 150, h, w) are resized back to the annotation's size and arg-maxed.
The metric state is the 150 x 150 confusion matrix (rows: truth, columns: prediction) summed over
images, ranks and nothing else, so merging is exact. mIoU is the mean over classes whose union is
non-empty of TP / (TP + FP + FN), like mmsegmentation (classes absent from both truth and
prediction are NaN and skipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluator.tasks._base import GeneratedCorruptionsDataset, State, check_finite
from evaluator.tasks._dense import head_setting, normalization
from evaluator.tasks.imagenet_c import decode_image
from zoo.errors import DatasetNotFoundError, InvalidInputError

NUM_CLASSES = 150
IGNORE = 255
TEST_SCALE = (2048, 512)
HINT = (
    "put ADEChallengeData2016 (images/validation, annotations/validation) under {root}; "
    "it is released at http://data.csail.mit.edu/places/ADEchallenge/ADEChallengeData2016.zip"
)


def confusion_matrix(truth: Any, predicted: Any, num_classes: int = NUM_CLASSES) -> Any:
    """int64 (C, C) counts of (truth, prediction) pairs over pixels whose truth is not ignored."""
    import torch

    truth = torch.as_tensor(truth).reshape(-1).long()
    predicted = torch.as_tensor(predicted).reshape(-1).long()
    keep = truth != IGNORE
    index = truth[keep] * num_classes + predicted[keep]
    return torch.bincount(index, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def mean_iou(confusion: Any) -> float:
    """mIoU over classes with a non-empty union (pure; ``confusion`` rows are the truth)."""
    import numpy as np

    cm = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(cm)
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    if not present.any():
        raise InvalidInputError("no labelled pixels were evaluated")
    return float((tp[present] / union[present]).mean())


def keep_ratio_size(height: int, width: int, scale: tuple[int, int] = TEST_SCALE) -> tuple[int, int]:
    """mmcv's rescale_size with keep_ratio: the output (h, w) for the (long, short) test scale."""
    long_edge, short_edge = max(scale), min(scale)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def load_annotation(path: Path) -> Any:
    """ADE20K label PNG -> int64 (H, W) in 0..149, 255 = ignore (raw 0)."""
    import numpy as np
    import torch
    from PIL import Image

    try:
        with Image.open(path) as img:
            raw = np.array(img)
    except (OSError, ValueError) as err:
        raise InvalidInputError(f"{path}: not a readable label map ({err})") from err
    if raw.ndim != 2:
        raise InvalidInputError(f"{path}: a label map must be single-channel, got shape {raw.shape}")
    if raw.max(initial=0) > NUM_CLASSES:
        raise InvalidInputError(f"{path}: label {int(raw.max())} outside 0..{NUM_CLASSES}")
    labels = torch.from_numpy(raw.astype(np.int64)) - 1
    labels[labels < 0] = IGNORE
    return labels


@dataclass
class ADE20KDataset(GeneratedCorruptionsDataset):
    images_dir: Path
    labels_dir: Path
    stems: list[str]

    def __len__(self) -> int:
        return len(self.stems)

    def image_id(self, index: int) -> str:
        return self.stems[index]

    def load(self, index: int) -> tuple[Any, Any]:
        stem = self.stems[index]
        image = decode_image(self.images_dir / f"{stem}.jpg")
        labels = load_annotation(self.labels_dir / f"{stem}.png")
        if tuple(labels.shape) != tuple(image.shape[1:]):
            raise InvalidInputError(
                f"{stem}: image {tuple(image.shape[1:])} and labels {tuple(labels.shape)} differ"
            )
        return image, labels


@dataclass(frozen=True)
class SegmenterPreprocessing:
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scale: tuple[int, int]

    def __call__(self, images: Sequence[Any]) -> list[Any]:
        """uint8 (3, H, W) images -> one normalised (1, 3, h, w) tensor each, at the test scale."""
        import torch
        import torch.nn.functional as F

        mean = torch.tensor(self.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std).view(1, 3, 1, 1) * 255.0
        out = []
        for img in images:
            size = keep_ratio_size(int(img.shape[1]), int(img.shape[2]), self.scale)
            x = img.unsqueeze(0).float()
            if size != tuple(img.shape[1:]):
                x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            out.append(((x - mean) / std).contiguous())
        return out


@dataclass
class ADE20KC:
    name: str = "ade20k-c"
    param_set: str = "imagenet-c"
    metric_names: tuple[str, ...] = ("miou",)
    primary_metric: str = "miou"
    with_mce: bool = False
    model_kind: str = "segmenter"
    stackable: bool = False

    def open(self, data_root: Path, limit: int | None, subset: int | None = None) -> ADE20KDataset:
        if subset is not None:
            raise InvalidInputError("--subset applies to imagenet-c only (use --limit)")
        root = Path(data_root)
        if (root / "ADEChallengeData2016").is_dir():
            root = root / "ADEChallengeData2016"
        images_dir = root / "images" / "validation"
        labels_dir = root / "annotations" / "validation"
        if not images_dir.is_dir() or not labels_dir.is_dir():
            raise DatasetNotFoundError(f"ADE20K validation not found under {root}: " + HINT.format(root=root))
        stems = sorted(p.stem for p in images_dir.glob("*.jpg"))
        missing = [s for s in stems if not (labels_dir / f"{s}.png").is_file()]
        if missing:
            raise DatasetNotFoundError(f"ADE20K annotations missing for {missing[:3]} (of {len(missing)})")
        if limit is not None:
            stems = stems[:limit]
        return ADE20KDataset(images_dir, labels_dir, stems)

    def make_prepare(self, data_config: Any) -> SegmenterPreprocessing:
        mean, std = normalization(data_config)
        scale = tuple(head_setting(data_config, "upernet", "test_scale", TEST_SCALE))
        return SegmenterPreprocessing(mean, std, (int(scale[0]), int(scale[1])))

    def describe_preprocessing(self, data_config: Any) -> dict[str, Any]:
        pre = self.make_prepare(data_config)
        return {
            "test_scale": list(pre.scale),
            "keep_ratio": True,
            "mean": list(pre.mean),
            "std": list(pre.std),
        }

    def new_state(self) -> State:
        return {"confusion": [0] * (NUM_CLASSES * NUM_CLASSES)}

    def update(self, state: State, outputs: Any, targets: Sequence[Any], image_ids: Sequence[Any]) -> None:
        import torch
        import torch.nn.functional as F

        total = torch.tensor(state["confusion"], dtype=torch.int64).reshape(NUM_CLASSES, NUM_CLASSES)
        for logits, labels in zip(outputs, targets, strict=True):
            if logits.ndim != 4 or logits.shape[1] != NUM_CLASSES:
                raise InvalidInputError(
                    f"expected (1, {NUM_CLASSES}, h, w) logits, got {tuple(logits.shape)}"
                )
            check_finite(logits, "segmentation logits")
            up = F.interpolate(logits.float(), size=tuple(labels.shape), mode="bilinear", align_corners=False)
            total += confusion_matrix(labels, up.argmax(1)[0])
        state["confusion"] = total.reshape(-1).tolist()

    def merge(self, states: Sequence[State]) -> State:
        summed = [0] * (NUM_CLASSES * NUM_CLASSES)
        for s in states:
            summed = [a + b for a, b in zip(summed, s["confusion"], strict=True)]
        return {"confusion": summed}

    def scores(self, state: State, dataset: Any) -> dict[str, float]:
        import numpy as np

        return {"miou": mean_iou(np.asarray(state["confusion"]).reshape(NUM_CLASSES, NUM_CLASSES))}


TASK = ADE20KC()

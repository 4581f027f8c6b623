"""COCO-C (Michaelis et al. 2019): COCO 2017 val corrupted on the fly; box AP, mask AP, mPC, rPC.

Data under ``data_root``::

    annotations/instances_val2017.json
    val2017/<file_name>                 # as named in the JSON

Each image is corrupted at its original resolution (ImageNet-C parameters), then handed to the model
as a float [0, 1] RGB tensor, one image per forward pass (a batch would be padded to its largest
image, and detections would depend on the batch; see ``evaluator.runtime``): the Mask R-CNN
(torchvision's) resizes to its test scale (1333, 800) and normalises itself, and returns boxes in
original-image coordinates. Labels ``k`` map to COCO category ids through ``category_ids[k - 1]``
of the model's config (identity when absent).

The metric state is the list of detections in COCO's results format (boxes as xywh, masks as RLE
with ``counts`` as text), so merging shards and ranks is a concatenation. Scores are AP@[.5:.95]
(``stats[0]``) from pycocotools' COCOeval, the reference implementation the published COCO-C
numbers come from, restricted to the evaluated image ids.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from evaluator.tasks._base import GeneratedCorruptionsDataset, State, check_finite
from evaluator.tasks._dense import head_setting
from evaluator.tasks.imagenet_c import decode_image
from zoo.errors import DatasetNotFoundError, InvalidInputError

ANNOTATIONS = "annotations/instances_val2017.json"
IMAGES = "val2017"
HINT = "download COCO 2017 val (val2017.zip, annotations_trainval2017.zip from cocodataset.org) into {root}"
MASK_THRESHOLD = 0.5


@dataclass
class CocoDataset(GeneratedCorruptionsDataset):
    root: Path
    annotation_file: Path
    image_ids: list[int]
    file_names: dict[int, str]

    def __len__(self) -> int:
        return len(self.image_ids)

    def image_id(self, index: int) -> int:
        return self.image_ids[index]

    def load(self, index: int) -> tuple[Any, int]:
        image_id = self.image_ids[index]
        return decode_image(self.root / IMAGES / self.file_names[image_id]), image_id

    @cached_property
    def coco(self) -> Any:
        from pycocotools.coco import COCO

        with contextlib.redirect_stdout(io.StringIO()):
            return COCO(str(self.annotation_file))


def _prepare_detector(images: Sequence[Any]) -> list[Any]:
    return [img.float().div(255.0) for img in images]


def detections_to_coco(
    output: dict[str, Any], image_id: int, category_ids: Sequence[int] | None
) -> list[dict]:
    """One torchvision detection dict -> COCO results entries (xywh boxes, RLE masks)."""
    import numpy as np
    from pycocotools import mask as mask_utils

    boxes, scores, labels = output["boxes"], output["scores"], output["labels"]
    for tensor, what in ((boxes, "boxes"), (scores, "scores")):
        check_finite(tensor, f"detection {what}")
    masks = output.get("masks")
    if masks is not None:
        check_finite(masks, "detection masks")
    entries = []
    for k in range(len(scores)):
        x1, y1, x2, y2 = (float(v) for v in boxes[k])
        label = int(labels[k])
        category = category_ids[label - 1] if category_ids else label
        entry = {
            "image_id": int(image_id),
            "category_id": int(category),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "score": float(scores[k]),
        }
        if masks is not None:
            binary = (masks[k, 0] > MASK_THRESHOLD).numpy().astype(np.uint8)
            rle = mask_utils.encode(np.asfortranarray(binary))
            entry["segmentation"] = {
                "size": [int(v) for v in rle["size"]],
                "counts": rle["counts"].decode("ascii"),
            }
        entries.append(entry)
    return entries


def coco_average_precision(
    coco_gt: Any, detections: list[dict], image_ids: Sequence[int], iou_type: str
) -> float:
    """AP@[.5:.95] from pycocotools' COCOeval over ``image_ids`` (0.0 without detections)."""
    from pycocotools.cocoeval import COCOeval

    if not detections:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_dt = coco_gt.loadRes([dict(d) for d in detections])
        evaluator = COCOeval(coco_gt, coco_dt, iou_type)
        evaluator.params.imgIds = sorted(int(i) for i in image_ids)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    value = float(evaluator.stats[0])
    return max(value, 0.0)  # COCOeval reports -1 when no ground truth exists


@dataclass
class CocoC:
    name: str = "coco-c"
    param_set: str = "imagenet-c"
    metric_names: tuple[str, ...] = ("box_ap", "mask_ap")
    primary_metric: str = "box_ap"
    with_mce: bool = False
    model_kind: str = "detector"
    stackable: bool = False
    category_ids: tuple[int, ...] | None = field(default=None)

    def open(self, data_root: Path, limit: int | None, subset: int | None = None) -> CocoDataset:
        import json

        if subset is not None:
            raise InvalidInputError("--subset applies to imagenet-c only (use --limit)")
        root = Path(data_root)
        annotation_file = root / ANNOTATIONS
        if not annotation_file.is_file() or not (root / IMAGES).is_dir():
            raise DatasetNotFoundError(f"COCO 2017 val not found under {root}: " + HINT.format(root=root))
        try:
            data = json.loads(annotation_file.read_text())
            file_names = {int(img["id"]): str(img["file_name"]) for img in data["images"]}
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise InvalidInputError(f"{annotation_file}: not a COCO instances file ({err})") from err
        image_ids = sorted(file_names)
        if limit is not None:
            image_ids = image_ids[:limit]
        return CocoDataset(root, annotation_file, image_ids, file_names)

    def make_prepare(self, data_config: Any) -> Any:
        ids = head_setting(data_config, "maskrcnn", "category_ids", None)
        self.category_ids = tuple(int(i) for i in ids) if ids else None
        return _prepare_detector

    def describe_preprocessing(self, data_config: Any) -> dict[str, Any]:
        return {
            "input": "float RGB in [0, 1] at the original resolution; the detector resizes and normalises",
            "min_size": head_setting(data_config, "maskrcnn", "min_size", 800),
            "max_size": head_setting(data_config, "maskrcnn", "max_size", 1333),
        }

    def new_state(self) -> State:
        return {"detections": []}

    def update(self, state: State, outputs: Any, targets: Sequence[Any], image_ids: Sequence[Any]) -> None:
        if not isinstance(outputs, list) or len(outputs) != len(targets):
            raise InvalidInputError("expected one detection dict per image from the detector")
        for output, image_id in zip(outputs, targets, strict=True):
            state["detections"].extend(detections_to_coco(output, int(image_id), self.category_ids))

    def merge(self, states: Sequence[State]) -> State:
        merged = [d for s in states for d in s["detections"]]
        merged.sort(key=lambda d: (d["image_id"], -d["score"], d["category_id"], d["bbox"]))
        return {"detections": merged}

    def scores(self, state: State, dataset: Any) -> dict[str, float]:
        detections = state["detections"]
        box = coco_average_precision(dataset.coco, detections, dataset.image_ids, "bbox")
        with_masks = [d for d in detections if "segmentation" in d]
        mask = coco_average_precision(dataset.coco, with_masks, dataset.image_ids, "segm")
        return {"box_ap": box, "mask_ap": mask}


TASK = CocoC()

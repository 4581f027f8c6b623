"""Small datasets in the real on-disk formats, generated for the fine-tuning tests.

COCO 2017 instances (JSON with polygon and RLE segmentations, JPEG images) and ADEChallengeData2016
(JPEG images + single-channel PNG label maps); CIFAR-10 python pickles. Objects are drawn so that the
labels are learnable (each class has its own colour and shape).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COCO_CATEGORIES = [(1, "person"), (7, "train"), (90, "toothbrush")]
CLASS_COLOURS = {1: (220, 40, 40), 7: (40, 200, 60), 90: (50, 70, 230)}


def make_coco(
    root: Path,
    num_images: int = 4,
    size: tuple[int, int] = (128, 96),
    seed: int = 0,
    split: str = "train2017",
) -> Path:
    """``root/coco/{<split>/*.jpg, annotations/instances_<split>.json}``; returns root/coco."""
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    folder = root / "coco"
    (folder / split).mkdir(parents=True, exist_ok=True)
    (folder / "annotations").mkdir(exist_ok=True)
    w, h = size
    images, annotations = [], []
    ann_id = 1
    for image_id in range(1, num_images + 1):
        canvas = Image.fromarray(rng.integers(90, 140, size=(h, w, 3), dtype=np.uint8))
        draw = ImageDraw.Draw(canvas)
        for k, (cat_id, _) in enumerate(COCO_CATEGORIES[: 2 + image_id % 2]):
            x0 = int(rng.integers(4, w // 2)) if k != 1 else int(rng.integers(w // 2, w - 40))
            y0 = int(rng.integers(4, h - 40))
            bw, bh = int(rng.integers(24, 36)), int(rng.integers(24, 36))
            if k == 0:  # polygon (triangle)
                poly = [x0, y0 + bh, x0 + bw // 2, y0, x0 + bw, y0 + bh]
                draw.polygon(poly, fill=CLASS_COLOURS[cat_id])
                seg: object = [[float(v) for v in poly]]
                area = bw * bh / 2
            else:  # RLE (uncompressed counts for one, compressed string for the other)
                m = np.zeros((h, w), dtype=np.uint8)
                m[y0 : y0 + bh, x0 : x0 + bw] = 1
                canvas_arr = np.array(canvas)
                canvas_arr[m.astype(bool)] = CLASS_COLOURS[cat_id]
                canvas = Image.fromarray(canvas_arr)
                draw = ImageDraw.Draw(canvas)
                rle = mask_utils.encode(np.asfortranarray(m))
                if k == 1:
                    seg = {"size": [h, w], "counts": rle["counts"].decode()}
                else:
                    flat = m.flatten(order="F")
                    counts, current, run = [], 0, 0
                    for v in flat:
                        if v != current:
                            counts.append(run)
                            run, current = 0, v
                        run += 1
                    counts.append(run)
                    seg = {"size": [h, w], "counts": counts}
                area = float(m.sum())
            annotations.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": cat_id,
                    "bbox": [x0, y0, bw, bh],
                    "area": area,
                    "iscrowd": 0,
                    "segmentation": seg,
                }
            )
            ann_id += 1
        name = f"{image_id:012d}.jpg"
        canvas.save(folder / split / name, quality=95)
        images.append({"id": image_id, "file_name": name, "width": w, "height": h})
    data = {
        "info": {"description": "rzoo test fixture"},
        "images": images,
        "annotations": annotations,
        "categories": [{"id": c, "name": n, "supercategory": "thing"} for c, n in COCO_CATEGORIES],
    }
    (folder / "annotations" / f"instances_{split}.json").write_text(json.dumps(data))
    return folder


def make_ade20k(
    root: Path, num_images: int = 4, size: tuple[int, int] = (96, 72), seed: int = 0, split: str = "training"
) -> Path:
    """``root/ADEChallengeData2016/{images,annotations}/<split>``; labels 0 (ignore), 1, 5, 150."""
    rng = np.random.default_rng(seed)
    base = root / "ADEChallengeData2016"
    (base / "images" / split).mkdir(parents=True, exist_ok=True)
    (base / "annotations" / split).mkdir(parents=True, exist_ok=True)
    w, h = size
    colours = {1: (200, 30, 30), 5: (30, 200, 30), 150: (30, 30, 200)}
    for i in range(num_images):
        label = np.zeros((h, w), dtype=np.uint8)
        label[: h // 2, :] = 1
        label[h // 2 :, : w // 2] = 5
        label[h // 2 :, w // 2 :] = 150
        y, x = int(rng.integers(0, h - 12)), int(rng.integers(0, w - 12))
        label[y : y + 10, x : x + 10] = 0  # an "other" patch, ignored
        image = np.zeros((h, w, 3), dtype=np.uint8)
        for value, colour in colours.items():
            image[label == value] = colour
        image = np.clip(image.astype(int) + rng.integers(-20, 20, size=image.shape), 0, 255).astype(np.uint8)
        name = f"ADE_{'train' if split == 'training' else 'val'}_{i + 1:08d}"
        Image.fromarray(image).save(base / "images" / split / f"{name}.jpg", quality=95)
        Image.fromarray(label, mode="L").save(base / "annotations" / split / f"{name}.png")
    return root


def make_cifar10(root: Path, num_per_batch: int = 20, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py/{data_batch_1..5, test_batch}`` as the python release pickles them."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = rng.integers(0, 10, size=num_per_batch).tolist()
        data = rng.integers(0, 256, size=(num_per_batch, 3072), dtype=np.uint8)
        record = {b"batch_label": name.encode(), b"labels": labels, b"data": data,
                  b"filenames": [f"img_{i}.png".encode() for i in range(num_per_batch)]}  # fmt: skip
        with open(folder / name, "wb") as fh:
            pickle.dump(record, fh, protocol=2)
    return root


def single_thread():
    """Generator for an autouse fixture: one intra-op thread (the 2-core CI machine is shared, and
    oversubscribed threads made these small models several times slower), restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

"""COCO-C: official instances JSON + JPEGs, box/mask AP through COCOeval, on-the-fly corruption."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from evaluator import EvalConfig
from evaluator.engine import ModelUnderTest, evaluate_model
from evaluator.results import CheckpointIdentity
from tests.evalkit import DOG, write_coco, write_maskrcnn_folder
from tests.finetune_fixtures import single_thread

IDENTITY = CheckpointIdentity(name="bright-box-detector", source="folder")


@pytest.fixture
def one_thread():
    yield from single_thread()  # the small Mask R-CNN is faster on one thread of the shared machine


class BrightBoxDetector:
    """torchvision's detection contract: bright pixels form the one object (box, mask, score 1)."""

    def __new__(cls, label: int = 1):
        import torch
        from torch import nn

        class _Detector(nn.Module):
            def forward(self, images):
                outputs = []
                for img in images:
                    mask = img.mean(0) > 0.5
                    rows, cols = torch.nonzero(mask, as_tuple=True)
                    if len(rows) == 0:
                        outputs.append(
                            {
                                "boxes": torch.zeros(0, 4),
                                "labels": torch.zeros(0, dtype=torch.int64),
                                "scores": torch.zeros(0),
                                "masks": torch.zeros(0, 1, *img.shape[1:]),
                            }
                        )
                        continue
                    box = torch.tensor(
                        [[cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]], dtype=torch.float32
                    )
                    outputs.append(
                        {
                            "boxes": box,
                            "labels": torch.tensor([label]),
                            "scores": torch.tensor([1.0]),
                            "masks": mask[None, None].float(),
                        }
                    )
                return outputs

        return _Detector().eval()


def _reference_ap(root, data, model, corruption: str, severity: int) -> tuple[float, float]:
    """Detections computed by hand on the corrupted files, scored by COCOeval directly."""
    import torch
    from PIL import Image
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from evaluator.corruptions import corrupt_batch, image_seed

    results = []
    for entry in data["images"]:
        img = torch.from_numpy(np.array(Image.open(root / "val2017" / entry["file_name"]))).permute(2, 0, 1)
        seed = image_seed(0, entry["id"], corruption, severity)
        bad = corrupt_batch(img[None], corruption, severity, [seed], params="imagenet-c")[0]
        with torch.inference_mode():
            (out,) = model([bad.float() / 255])
        for box, score, m in zip(out["boxes"], out["scores"], out["masks"], strict=True):
            x1, y1, x2, y2 = box.tolist()
            rle = mask_utils.encode(np.asfortranarray((m[0] > 0.5).numpy().astype(np.uint8)))
            rle["counts"] = rle["counts"].decode()
            results.append(
                {
                    "image_id": entry["id"],
                    "category_id": DOG,
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(score),
                    "segmentation": rle,
                }
            )
    stats = []
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / "annotations" / "instances_val2017.json"))
        for iou_type in ("bbox", "segm"):
            if not results:
                stats.append(0.0)
                continue
            ev = COCOeval(gt, gt.loadRes(results), iou_type)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            stats.append(max(float(ev.stats[0]), 0.0))
    return stats[0], stats[1]


def test_perfect_detections_score_one_and_corruption_matches_cocoeval_by_hand(tmp_path) -> None:
    data = write_coco(tmp_path)
    model = BrightBoxDetector()
    mut = ModelUnderTest(model, {"category_ids": [DOG]}, "dense", IDENTITY)
    cfg = EvalConfig(
        "d",
        "coco-c",
        tmp_path,
        corruptions=("gaussian_noise", "contrast"),
        severities=(3,),
        progress=False,
        batch_size=3,
    )
    result = evaluate_model(mut, cfg)
    box, mask = result.metrics["box_ap"], result.metrics["mask_ap"]
    assert result.primary_metric == "box_ap"
    assert box.clean == pytest.approx(1.0) and mask.clean == pytest.approx(1.0)
    for corruption in ("gaussian_noise", "contrast"):
        ref_box, ref_mask = _reference_ap(tmp_path, data, model, corruption, 3)
        assert box.corrupted[corruption][3] == pytest.approx(ref_box)
        assert mask.corrupted[corruption][3] == pytest.approx(ref_mask)
    assert box.mPC < 1.0 and box.rPC == pytest.approx(box.mPC)
    assert box.mCE is None


def test_wrong_category_scores_zero_and_limit_restricts_images(tmp_path) -> None:
    write_coco(tmp_path)
    mut = ModelUnderTest(BrightBoxDetector(), {"category_ids": [1]}, "dense", IDENTITY)  # calls dogs "person"
    cfg = EvalConfig("d", "coco-c", tmp_path, corruptions=("contrast",), severities=(1,), progress=False)
    assert evaluate_model(mut, cfg).metrics["box_ap"].clean == 0.0

    # With --limit 2, only the first two image ids are scored: detections for them are perfect.
    right = ModelUnderTest(BrightBoxDetector(), {"category_ids": [DOG]}, "dense", IDENTITY)
    limited = evaluate_model(
        right,
        EvalConfig(
            "d", "coco-c", tmp_path, corruptions=("contrast",), severities=(1,), limit=2, progress=False
        ),
    )
    assert limited.num_images == 2 and limited.metrics["mask_ap"].clean == pytest.approx(1.0)


def test_mask_rcnn_detections_do_not_depend_on_the_batch(tmp_path, one_thread) -> None:
    """torchvision pads a batch to its largest image: batched, an image's detections would change
    with its batch mates (so with --batch-size and the rank split). Every batch size gives the
    same detections, hence the same AP."""
    from evaluator.engine import load_model

    data = write_coco(tmp_path / "coco", n=5)
    assert len({(img["height"], img["width"]) for img in data["images"]}) == 5
    ckpt = write_maskrcnn_folder(tmp_path / "det")
    states, results = [], []
    for batch_size in (1, 2, 5):
        cfg = EvalConfig(
            str(ckpt),
            "coco-c",
            tmp_path / "coco",
            corruptions=("contrast",),
            severities=(3,),
            progress=False,
            batch_size=batch_size,
            work_dir=tmp_path / f"work{batch_size}",
        )
        results.append(evaluate_model(load_model(cfg), cfg))
        states.append((cfg.work_dir / "shards" / "clean-s0.json").read_bytes())
    assert states[0] == states[1] == states[2]
    assert 0 < results[0].metrics["box_ap"].clean < 1 and 0 < results[0].metrics["mask_ap"].clean < 1
    for r in results[1:]:
        for name in ("box_ap", "mask_ap"):
            assert r.metrics[name].clean == results[0].metrics[name].clean
            assert r.metrics[name].corrupted == results[0].metrics[name].corrupted

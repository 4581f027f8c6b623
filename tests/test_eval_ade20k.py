"""ADE20K-C: mIoU by hand, the official folder layout, test-scale inference, on-the-fly corruption."""

from __future__ import annotations

import numpy as np
import pytest

from evaluator import EvalConfig
from evaluator.engine import ModelUnderTest, evaluate_model
from evaluator.results import CheckpointIdentity
from evaluator.tasks.ade20k_c import IGNORE, confusion_matrix, keep_ratio_size, mean_iou
from tests.evalkit import write_ade20k

IDENTITY = CheckpointIdentity(name="colour-segmenter", source="folder")
# A small test scale keeps the 150-class logits small; the default (2048, 512) is checked below.
CONFIG = {"mean": (0.0, 0.0, 0.0), "std": (1.0, 1.0, 1.0), "test_scale": (256, 64)}


def test_miou_by_hand() -> None:
    truth = np.array([[0, 0, 1], [1, 2, IGNORE]])
    pred = np.array([[0, 1, 1], [1, 0, 2]])
    cm = confusion_matrix(truth, pred, num_classes=4)
    # class 0: tp 1, fp 1 (truth 2 -> 0), fn 1 -> 1/3; class 1: tp 2, fp 1, fn 0 -> 2/3;
    # class 2: tp 0, fn 1 -> 0; class 3: absent everywhere -> skipped. Ignored pixel not counted.
    assert mean_iou(cm) == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert int(cm.sum()) == 5


def test_keep_ratio_test_scale_like_mmseg() -> None:
    assert keep_ratio_size(683, 512) == (683, 512)
    assert keep_ratio_size(256, 384) == (512, 768)
    assert keep_ratio_size(100, 1000) == (205, 2048)  # long side capped at 2048


class ColourSegmenter:
    """A segmenter that labels every pixel by its dominant colour: red -> class 0, blue -> class 1."""

    def __new__(cls):
        import torch
        from torch import nn

        conv = nn.Conv2d(3, 150, 1)
        with torch.no_grad():
            conv.weight.zero_()
            conv.bias.fill_(-1000.0)
            conv.weight[0, 0, 0, 0], conv.weight[0, 2, 0, 0], conv.bias[0] = 1.0, -1.0, 0.0
            conv.weight[1, 2, 0, 0], conv.weight[1, 0, 0, 0], conv.bias[1] = 1.0, -1.0, 0.0
        return conv.eval()


def _scene(h: int, w: int, split: int) -> tuple[np.ndarray, np.ndarray]:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :split] = (220, 30, 30)
    img[:, split:] = (30, 30, 220)
    lab = np.zeros((h, w), np.uint8)  # 0 = ignore in the raw ADE20K files
    lab[:, : split - 3] = 1  # class 1 -> index 0 (red)
    lab[:, split + 3 :] = 2  # class 2 -> index 1 (blue); a 6-px strip at the border is ignored
    return img, lab


def test_perfect_segmenter_scores_one_and_corruption_matches_a_reference_loop(tmp_path) -> None:
    import torch
    import torch.nn.functional as F

    from evaluator.corruptions import corrupt_batch, image_seed

    scenes = [_scene(48, 64, 20), _scene(64, 40, 25), _scene(40, 40, 10)]
    write_ade20k(tmp_path, [s[0] for s in scenes], [s[1] for s in scenes])
    model = ColourSegmenter()
    cfg = EvalConfig(
        "c", "ade20k-c", tmp_path, corruptions=("gaussian_noise",), severities=(5,), progress=False
    )
    result = evaluate_model(ModelUnderTest(model, CONFIG, "dense", IDENTITY), cfg)
    miou = result.primary
    assert result.primary_metric == "miou" and miou.clean == pytest.approx(1.0)
    assert result.manifest.preprocessing["test_scale"] == [256, 64]

    # Reference: decode the files, corrupt each image with its own seed, resize to the test scale,
    # run, resize back, count.
    from PIL import Image

    base = tmp_path / "ADEChallengeData2016"
    total = np.zeros((150, 150), np.int64)
    for k in range(3):
        stem = f"ADE_val_{k + 1:08d}"
        img = torch.from_numpy(np.array(Image.open(base / "images" / "validation" / f"{stem}.jpg"))).permute(
            2, 0, 1
        )
        lab = np.array(Image.open(base / "annotations" / "validation" / f"{stem}.png")).astype(np.int64) - 1
        lab[lab < 0] = IGNORE
        seed = image_seed(0, stem, "gaussian_noise", 5)
        bad = corrupt_batch(img[None], "gaussian_noise", 5, [seed], params="imagenet-c")[0]
        h, w = keep_ratio_size(*img.shape[1:], scale=(256, 64))
        x = F.interpolate(bad[None].float(), size=(h, w), mode="bilinear", align_corners=False)
        with torch.inference_mode():
            logits = F.interpolate(model(x), size=lab.shape, mode="bilinear", align_corners=False)
        total += confusion_matrix(lab, logits.argmax(1)[0]).numpy()
    assert miou.corrupted["gaussian_noise"][5] == pytest.approx(mean_iou(total))
    assert miou.corrupted["gaussian_noise"][5] < 1.0
    assert miou.rPC == pytest.approx(miou.mPC)

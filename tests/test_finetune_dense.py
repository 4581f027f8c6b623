"""Mask R-CNN on COCO-format and UperNet on ADE20K-format fixtures: the real training loop learns,
writes a loadable dense model, and fixed mode applies the per-task BN policy."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.finetune_fixtures import make_ade20k, make_coco, single_thread
from zoo.dense import load_dense_model
from zoo.errors import DatasetNotFoundError
from zoo.finetune.api import run_finetune


@pytest.fixture(autouse=True)
def _one_thread():
    yield from single_thread()


def _losses(run_dir):
    return [
        r["loss"] for r in map(json.loads, (run_dir / "log.jsonl").read_text().splitlines()) if "loss" in r
    ]


def _score(run_dir, task, data_root):
    from evaluator import EvalConfig
    from evaluator.engine import evaluate

    cfg = EvalConfig(
        str(run_dir),
        task,
        data_root,
        corruptions=("contrast",),
        severities=(1,),
        progress=False,
        num_workers=0,
    )
    return evaluate(cfg)


def _run(tmp_path, task, mode, sets, name):
    return run_finetune(
        "test_resnet",
        task=task,
        mode=mode,
        out=tmp_path / name,
        data_root=tmp_path / "data",
        sets=sets,
        pretrained=False,
        device="cpu",
        log_every=1,
        checkpoint_every=100,
        progress=False,
    )


def test_maskrcnn_loss_decreases_and_the_model_round_trips(tmp_path):
    make_coco(tmp_path / "data", num_images=2)
    torch.manual_seed(0)
    sets = ["iters=6", "batch_size=2", "lr=0.06", "warmup_iters=0", "schedule=constant", "min_size=96",
            "max_size=128", "train_min_sizes=80,96", "fpn_channels=32", "box_representation_size=64",
            "mask_head_channels=32"]  # fmt: skip
    result = _run(tmp_path, "coco", "full", sets, "det")
    assert result.finished and result.step == 6
    losses = _losses(tmp_path / "det")
    assert len(losses) == 6
    assert sum(losses[-2:]) / 2 < 0.8 * sum(losses[:2]) / 2, losses
    model, config = load_dense_model(tmp_path / "det")
    assert config.head == "maskrcnn"
    assert config.maskrcnn.category_ids == (1, 7, 90)
    assert config.maskrcnn.class_names == ("person", "train", "toothbrush")
    assert config.backbone.frozen_stages == 1 and config.backbone.norm_eval  # the ResNet recipe
    with torch.no_grad():
        (pred,) = model([torch.rand(3, 96, 128)])
    assert set(pred) == {"boxes", "labels", "scores", "masks"}
    # The run folder is what `rzoo eval` takes: the evaluator scores it on COCO-format val data.
    coco = make_coco(tmp_path / "data", num_images=2, seed=1, split="val2017")
    result = _score(tmp_path / "det", "coco-c", coco)
    assert set(result.metrics) == {"box_ap", "mask_ap"}
    # The run's lineage reaches the results, so `rzoo report` can place it (backbone x mode).
    assert (result.checkpoint.base_model, result.checkpoint.transfer_mode) == ("test_resnet", "full")
    assert 0.0 <= result.metrics["box_ap"].clean <= 1.0


def test_upernet_loss_decreases_fixed_mode_keeps_backbone_weights_but_updates_bn(tmp_path):
    make_ade20k(tmp_path / "data", num_images=2)
    sets = ["iters=6", "batch_size=2", "lr=0.05", "schedule=constant", "crop_size=64", "decoder_channels=32"]
    result = _run(tmp_path, "ade20k", "fixed", sets, "seg")
    assert result.finished
    losses = _losses(tmp_path / "seg")
    assert sum(losses[-2:]) / 2 < 0.8 * sum(losses[:2]) / 2, losses
    model, config = load_dense_model(tmp_path / "seg")
    assert config.head == "upernet" and config.num_classes == 150
    assert config.backbone.frozen_stages == 4 and config.backbone.frozen_norm_update
    assert config.extra == {"task": "ade20k", "transfer_mode": "fixed", "base_model": "test_resnet"}
    # The run started from the same (seeded) random backbone: rebuild it to compare.
    from zoo.dense import build_dense_model

    torch.manual_seed(0)
    start = build_dense_model(config).state_dict()
    trained = load_file(str(tmp_path / "seg" / "model.safetensors"))
    weights = [k for k in trained if k.startswith("backbone.body.") and k.endswith(".weight")]
    assert weights and all(torch.equal(start[k], trained[k]) for k in weights)
    assert not torch.equal(start["backbone.body.bn1.running_mean"], trained["backbone.body.bn1.running_mean"])
    assert not torch.equal(start["decode_head.classifier.weight"], trained["decode_head.classifier.weight"])
    with torch.no_grad():
        assert model(torch.randn(1, 3, 50, 70)).shape == (1, 150, 50, 70)
    make_ade20k(tmp_path / "data", num_images=2, seed=1, split="validation")
    result = _score(tmp_path / "seg", "ade20k-c", tmp_path / "data")
    assert (result.checkpoint.base_model, result.checkpoint.transfer_mode) == ("test_resnet", "fixed")
    assert result.primary_metric in result.metrics
    assert 0.0 <= result.metrics[result.primary_metric].clean <= 1.0


@pytest.mark.parametrize(
    ("task", "command"), [("coco", "rzoo data download coco"), ("ade20k", "rzoo data download ade20k")]
)
def test_missing_dataset_names_the_download_command(tmp_path, task, command):
    with pytest.raises(DatasetNotFoundError, match=command):
        _run(tmp_path, task, "full", ["iters=1"], "missing")


def _mask_boxes(masks):
    out = []
    for m in masks:
        rows, cols = torch.nonzero(m, as_tuple=True)
        out.append([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1])
    return torch.tensor(out, dtype=torch.float32).reshape(-1, 4)


def test_coco_train_transform_keeps_boxes_and_masks_together(tmp_path):
    from zoo.finetune.data.coco import CocoInstances

    make_coco(tmp_path, num_images=2)
    dataset = CocoInstances(tmp_path, crop_branch=True)
    _, raw = dataset.load(0)
    torch.testing.assert_close(_mask_boxes(raw["masks"]), raw["boxes"], atol=1.0, rtol=0)
    sizes, empty = set(), 0
    for seed in range(12):  # flips, and the Swin crop branch (resize to 400..600 + 384..600 crop)
        image, target = dataset[(0, seed)]
        assert target["masks"].shape[1:] == image.shape[1:]
        assert len(target["boxes"]) == len(target["labels"]) == len(target["masks"])
        sizes.add(tuple(image.shape[1:]))
        if len(target["boxes"]) == 0:
            empty += 1
            continue
        assert set(target["labels"].tolist()) <= set(raw["labels"].tolist())
        visible = target["masks"].flatten(1).bool().any(1)
        # A 1 px polygon-rasterisation difference grows with the resize (up to 600 / 96 = 6.25x).
        torch.testing.assert_close(
            _mask_boxes(target["masks"][visible]), target["boxes"][visible], atol=1.0 + 600 / 96, rtol=0
        )
    assert (96, 128) in sizes and any(min(s) >= 384 for s in sizes)  # both branches were taken
    assert torch.equal(dataset[(0, 5)][0], dataset[(0, 5)][0])  # the key fixes the augmentation


def test_swin_coco_recipe_uses_the_crop_branch():
    from zoo.finetune.api import resolve_recipe

    assert resolve_recipe("swin_t", "coco", "full").crop_branch
    assert not resolve_recipe("resnet50", "coco", "full").crop_branch

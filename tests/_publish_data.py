"""Results files and fine-tuning run folders for the cards / publish tests (real on-disk formats)."""

from __future__ import annotations

import json
from pathlib import Path

from evaluator.protocol import COMMON_CORRUPTIONS, HOLDOUT_CORRUPTIONS, SEVERITIES
from evaluator.results import CheckpointIdentity, EvalResult, Manifest, summarize_metric


def corruption_table(clean: float, step: float, holdout: bool = True) -> dict[str, dict[int, float]]:
    """A table where every corruption loses ``step`` per severity, offset a little per corruption."""
    names = (*COMMON_CORRUPTIONS, *(HOLDOUT_CORRUPTIONS if holdout else ()))
    return {c: {s: round(clean - step * s - 0.003 * i, 6) for s in SEVERITIES} for i, c in enumerate(names)}


def make_result(task: str, *, sha256: str | None = None, clean: float = 0.9) -> EvalResult:
    metric_names = {"cifar10-c": ("top1",), "imagenet-c": ("top1",), "coco-c": ("box_ap", "mask_ap")}
    metric_names["ade20k-c"] = ("miou",)
    metrics = {
        name: summarize_metric(
            name, clean - 0.1 * i, corruption_table(clean - 0.1 * i, 0.07), with_mce=task == "imagenet-c"
        )
        for i, name in enumerate(metric_names[task])
    }
    return EvalResult(
        task=task,
        checkpoint=CheckpointIdentity(name="run", architecture="resnet18", sha256=sha256, source="folder"),
        primary_metric=metric_names[task][0],
        metrics=metrics,
        num_images=64,
        manifest=Manifest(
            rzoo_version="0.1.0",
            torch_version="2.14.1",
            timm_version="1.0.31",
            corruption_backend="imagecorruptions-imaug",
            corruption_params=task,
            seed=0,
            device="cpu",
        ),
    )


def write_classifier_run(
    folder: Path, *, architecture: str = "test_resnet.r160_in1k", num_classes: int = 10, seed: int = 0
) -> Path:
    """A fine-tuning run folder as the finetune step writes it: timm config.json + model.safetensors +
    the resolved recipe. Uses one of timm's tiny ``test_*`` models."""
    import safetensors.torch
    import timm
    import torch

    torch.manual_seed(seed)
    model = timm.create_model(architecture.split(".")[0], pretrained=False, num_classes=num_classes)
    folder.mkdir(parents=True, exist_ok=True)
    timm.models.save_for_hf(
        model,
        str(folder),
        safe_serialization=True,
        data_config={"input_size": (3, 32, 32), "crop_pct": 1.0, "interpolation": "bilinear"},
    )
    # save_for_hf writes the safetensors from model.state_dict(); keep exactly that
    assert set(safetensors.torch.load_file(str(folder / "model.safetensors"))) == set(model.state_dict())
    # as zoo.finetune exports a classifier: an "rzoo" block naming the backbone, and recipe.json
    recipe = {"task": "cifar10", "family": "resnet", "mode": "full", "epochs": 1, "lr": 0.01}
    config = json.loads((folder / "config.json").read_text())
    config["rzoo"] = {"task": "cifar10", "mode": "full", "base_model": "resnet50.tv_in1k", "recipe": recipe}
    config["label_names"] = [f"class_{i}" for i in range(num_classes)]
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "recipe.json").write_text(json.dumps(recipe, indent=2))
    return folder


def write_segmentation_run(folder: Path, seed: int = 0) -> Path:
    """A tiny 5-class UperNet run folder as zoo.dense saves it: config.json with ``rzoo_head`` + safetensors."""
    from tests.evalkit import write_upernet_folder

    return write_upernet_folder(folder, seed, test_scale=(2048, 512), num_classes=5, channels=16)

"""The fine-tuned classifier in timm's on-disk format: config.json + model.safetensors.

``timm.create_model("local-dir:FOLDER")`` rebuilds it; the ``rzoo`` block records where the backbone
came from and how it was fine-tuned (for ``rzoo eval`` / ``rzoo publish``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

from torch import nn

from zoo._registry import DataConfig
from zoo.finetune.recipes import Recipe


def timm_config(model: nn.Module, source: str, data_config: DataConfig, recipe: Recipe, classes) -> dict:
    architecture = model.default_cfg.get("architecture") or type(model).__name__.lower()
    input_size = (3, recipe.image_size, recipe.image_size)
    crop_pct = 1.0 if recipe.image_size == 32 else 0.875
    return {
        "architecture": architecture,
        "num_classes": model.num_classes,
        "num_features": getattr(model, "num_features", None),
        "global_pool": getattr(model, "global_pool", None)
        if isinstance(getattr(model, "global_pool", None), str)
        else None,
        "label_names": list(classes),
        "pretrained_cfg": {
            "tag": f"ft_{recipe.task.replace('-', '_')}",
            "custom_load": False,
            "input_size": list(input_size),
            "fixed_input_size": False,
            "interpolation": data_config.interpolation,
            "crop_pct": crop_pct,
            "crop_mode": "center",
            "mean": list(data_config.mean),
            "std": list(data_config.std),
            "num_classes": model.num_classes,
            "pool_size": None,
            "first_conv": model.default_cfg.get("first_conv"),
            "classifier": model.default_cfg.get("classifier"),
        },
        "rzoo": {
            "task": recipe.task,
            "transfer_mode": recipe.mode,
            "base_model": source,
            "recipe": dataclasses.asdict(recipe),
        },
    }


def save_timm_classifier(
    model: nn.Module, folder: Path, source: str, data_config: DataConfig, recipe: Recipe, classes
) -> Path:
    """Write config.json + model.safetensors atomically (a temp folder, then renames)."""
    from safetensors.torch import save_file

    from zoo.dense.io import unwrap

    model = unwrap(model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export.", dir=folder))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = timm_config(model, source, data_config, recipe, classes)
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n")
        for name in ("model.safetensors", "config.json"):
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder

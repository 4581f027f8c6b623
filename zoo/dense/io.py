"""Building dense models from their config, and the on-disk format: config.json + model.safetensors.

Loading never unpickles: weights come from safetensors only and the load is strict, naming the
missing and unexpected keys when the file does not match the config.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from torch import nn

from zoo.dense.config import DenseModelConfig
from zoo.errors import InvalidInputError, UnsafeFileError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


def build_dense_model(config: DenseModelConfig, pretrained: bool = False) -> nn.Module:
    """The model for ``config``; ``pretrained`` loads the backbone's ImageNet weights (fine-tuning start).

    The model carries its config as ``model.dense_config``.
    """
    from zoo.dense.backbone import create_feature_model
    from zoo.dense.maskrcnn import build_maskrcnn
    from zoo.dense.upernet import build_upernet

    body = create_feature_model(config.backbone, pretrained=pretrained)
    model = build_maskrcnn(config, body) if config.head == "maskrcnn" else build_upernet(config, body)
    model.dense_config = config
    return model


def save_dense_model(model: nn.Module, folder: str | Path, config: DenseModelConfig | None = None) -> Path:
    """Write ``folder/config.json`` and ``folder/model.safetensors`` (atomically: all or nothing)."""
    from safetensors.torch import save_file

    config = config or getattr(model, "dense_config", None)
    if config is None:
        raise InvalidInputError("save_dense_model needs a DenseModelConfig (model has no dense_config)")
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in unwrap(model).state_dict().items()}
        save_file(state, str(tmp / WEIGHTS_NAME), metadata={"format": "pt", "rzoo_head": config.head})
        (tmp / CONFIG_NAME).write_text(json.dumps(config.to_json_dict(), indent=2) + "\n")
        folder.mkdir(exist_ok=True)
        for name in (WEIGHTS_NAME, CONFIG_NAME):  # weights first: a config always has its weights
            os.replace(tmp / name, folder / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_dense_config(folder: str | Path) -> DenseModelConfig:
    path = Path(folder) / CONFIG_NAME
    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InvalidInputError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(data, dict) or "rzoo_head" not in data:
        raise InvalidInputError(f"{path} does not describe a dense model (no 'rzoo_head')")
    return DenseModelConfig.from_json_dict(data)


def load_dense_model(folder: str | Path, device: str = "cpu") -> tuple[nn.Module, DenseModelConfig]:
    """The model saved in ``folder`` (in eval mode) and its config."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config = read_dense_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        pickles = sorted(p.name for p in folder.glob("*") if p.suffix in {".bin", ".pth", ".pt", ".ckpt"})
        if pickles:
            raise UnsafeFileError(
                f"{folder} holds only pickled weights {pickles}; rzoo loads safetensors only"
            )
        raise InvalidInputError(f"{weights} does not exist")
    try:
        state = load_file(str(weights), device=device)
    except SafetensorError as err:
        raise UnsafeFileError(f"{weights} is not a valid safetensors file: {err}") from None
    model = build_dense_model(config, pretrained=False)
    load_state_strict(model, state, weights)
    return model.to(device).eval(), config


def load_state_strict(model: nn.Module, state: dict, source: Path | str) -> None:
    """``load_state_dict(strict=True)`` with an :class:`InvalidInputError` naming the offending keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise InvalidInputError(
            f"{source} does not match its config: missing keys {_abbrev(missing)}, unexpected keys {_abbrev(unexpected)}"
        )
    bad_shapes = [k for k in expected if tuple(expected[k].shape) != tuple(state[k].shape)]
    if bad_shapes:
        k = bad_shapes[0]
        raise InvalidInputError(
            f"{source}: {len(bad_shapes)} tensors have the wrong shape, e.g. {k}: "
            f"{tuple(state[k].shape)} instead of {tuple(expected[k].shape)}"
        )
    model.load_state_dict(state, strict=True)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel / torch.compile wrappers."""
    while True:
        inner = getattr(model, "module", None) or getattr(model, "_orig_mod", None)
        if inner is None or not isinstance(inner, nn.Module):
            return model
        model = inner


def _abbrev(keys: list[str], n: int = 8) -> str:
    if not keys:
        return "[]"
    shown = ", ".join(keys[:n])
    return f"[{shown}{', ...' if len(keys) > n else ''}] ({len(keys)})"

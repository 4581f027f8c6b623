"""Helpers for the zoo tests: real timm checkpoints in timm's Hub format and temporary registry entries."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from zoo._registry import (
    DataConfig,
    HubLocation,
    Provenance,
    SourceRelease,
    Weights,
    register,
    unregister,
)

TINY_ARCH = "test_resnet"  # timm's own test ResNet: real ResNet code and key names, 0.47 M params


def tiny_state_dict(num_classes: int = 1000, seed: int = 0, architecture: str = TINY_ARCH) -> dict:
    import timm
    import torch

    torch.manual_seed(seed)
    return timm.create_model(architecture, num_classes=num_classes).state_dict()


def timm_repo_files(
    num_classes: int = 1000, seed: int = 0, architecture: str = TINY_ARCH
) -> dict[str, bytes]:
    """``config.json`` + ``model.safetensors`` exactly as timm's push_to_hub lays them out."""
    from safetensors.torch import save

    config = {
        "architecture": architecture,
        "num_classes": num_classes,
        "pretrained_cfg": {
            "input_size": [3, 160, 160],
            "interpolation": "bicubic",
            "crop_pct": 0.95,
            "mean": [0.5, 0.5, 0.5],
            "std": [0.25, 0.25, 0.25],
            "num_classes": num_classes,
        },
    }
    weights = save(
        {k: v.contiguous() for k, v in tiny_state_dict(num_classes, seed, architecture).items()},
        metadata={"format": "pt"},
    )
    return {"config.json": json.dumps(config).encode(), "model.safetensors": weights}


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def _provenance(source: SourceRelease | None = None) -> Provenance:
    return Provenance(
        paper="test",
        paper_url="https://example.org/paper",
        bibtex="@misc{test}",
        license="mit",
        project_url="https://example.org",
        source=source,
    )


@contextmanager
def temporary_entry(
    name: str,
    *,
    repo_id: str | None = None,
    published: bool = True,
    revision: str | None = None,
    sha256: str | None = None,
    source: SourceRelease | None = None,
    architecture: str = TINY_ARCH,
    num_classes: int = 1000,
    aliases: tuple[str, ...] = (),
) -> Iterator[Weights]:
    """A registry entry that exists for the duration of the ``with`` block."""
    weights = register(
        Weights(
            name=name,
            architecture=architecture,
            recipe="test",
            hub=HubLocation(
                repo_id=repo_id or f"org/{name}", revision=revision, sha256=sha256, published=published
            ),
            provenance=_provenance(source),
            num_params=1,
            data_config=DataConfig(crop_pct=0.9, interpolation="bicubic"),
            num_classes=num_classes,
            aliases=aliases,
        )
    )
    try:
        yield weights
    finally:
        unregister(name)

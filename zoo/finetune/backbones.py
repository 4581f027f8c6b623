"""Turning a backbone reference into a network, for fine-tuning and the dense heads.

Pretrained weights always come through :func:`zoo.create_model` (registry names and aliases,
``hf-hub:`` references, local timm folders; weights verified, never unpickled). Without weights
(``pretrained=False``: rebuilding a saved fine-tuned model, or ``--scratch``) a plain timm
architecture is enough, which also lets tests use timm's tiny ``test_*`` models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from zoo._registry import DataConfig


def create_backbone(
    ref: str,
    *,
    architecture: str | None = None,
    pretrained: bool = True,
    features_only: bool = False,
    num_classes: int | None = None,
    **kwargs: Any,
) -> tuple[nn.Module, DataConfig]:
    """The network for ``ref`` and the preprocessing its weights expect."""
    import zoo

    if pretrained or (architecture is None and _zoo_resolvable(ref)):
        model, data_config = zoo.create_model(
            ref, pretrained=pretrained, num_classes=num_classes, features_only=features_only, **kwargs
        )
        return model, data_config
    return _create_timm(architecture or ref, features_only, num_classes, kwargs)


def _zoo_resolvable(ref: str) -> bool:
    from zoo._registry import is_registered

    return is_registered(ref) or ref.startswith("hf-hub:") or Path(ref).expanduser().is_dir()


def _create_timm(
    architecture: str, features_only: bool, num_classes: int | None, kwargs: dict[str, Any]
) -> tuple[nn.Module, DataConfig]:
    import timm

    extra = dict(kwargs)
    if num_classes is not None and not features_only:
        extra["num_classes"] = num_classes
    model = timm.create_model(architecture, pretrained=False, features_only=features_only, **extra)
    cfg = model.pretrained_cfg
    data_config = DataConfig(
        input_size=tuple(cfg.get("input_size", (3, 224, 224))),
        crop_pct=float(cfg.get("crop_pct", 0.875)),
        interpolation=str(cfg.get("interpolation", "bilinear")),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
    )
    return model, data_config

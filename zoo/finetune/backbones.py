"""Turning a zoo reference (registered name, alias or timm architecture) into a network.

One function so that fine-tuning and the dense heads follow ``zoo.create_model`` (weights from the
Hub or a registered local source, verified) whenever it is available.
"""

from __future__ import annotations

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
    """The network for ``ref`` and the preprocessing its weights expect.

    ``pretrained=False`` builds the bare architecture (used when loading a fine-tuned checkpoint whose
    weights come from its own safetensors).
    """
    import zoo

    create_model = getattr(zoo, "create_model", None)
    if pretrained and create_model is not None:
        extra = dict(kwargs)
        if num_classes is not None:
            extra["num_classes"] = num_classes
        return create_model(ref, pretrained=True, features_only=features_only, **extra)
    return _create_timm(ref, architecture, pretrained, features_only, num_classes, kwargs)


def _create_timm(
    ref: str,
    architecture: str | None,
    pretrained: bool,
    features_only: bool,
    num_classes: int | None,
    kwargs: dict[str, Any],
) -> tuple[nn.Module, DataConfig]:
    import timm

    from zoo._registry import get_weights, is_registered

    data_config: DataConfig | None = None
    if is_registered(ref):
        weights = get_weights(ref)
        architecture = architecture or weights.architecture
        data_config = weights.data_config
        timm_name = weights.name if pretrained else weights.architecture
    else:
        architecture = architecture or ref
        timm_name = ref if pretrained else architecture
    extra = dict(kwargs)
    if num_classes is not None:
        extra["num_classes"] = num_classes
    model = timm.create_model(timm_name, pretrained=pretrained, features_only=features_only, **extra)
    if data_config is None:
        cfg = model.pretrained_cfg
        data_config = DataConfig(
            input_size=tuple(cfg.get("input_size", (3, 224, 224))),
            crop_pct=float(cfg.get("crop_pct", 0.875)),
            interpolation=str(cfg.get("interpolation", "bilinear")),
            mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
            std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        )
    return model, data_config

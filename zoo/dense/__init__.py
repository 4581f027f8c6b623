"""Dense prediction models on zoo backbones: Mask R-CNN (COCO) and UperNet (ADE20K).

>>> config = maskrcnn_config("resnet50.augmix_in1k", category_ids=coco_ids)   # doctest: +SKIP
>>> model = build_dense_model(config, pretrained=True)                        # doctest: +SKIP
>>> save_dense_model(model, "runs/r50am-coco")                                # doctest: +SKIP
>>> model, config = load_dense_model("runs/r50am-coco")                       # doctest: +SKIP

On disk a dense model is ``config.json`` (``"rzoo_head": "maskrcnn" | "upernet"``, backbone,
num_classes, data config, head settings) + ``model.safetensors``.
"""

from __future__ import annotations

from zoo.dense.config import (
    BackboneConfig,
    DenseModelConfig,
    MaskRCNNHeadConfig,
    NormalizationConfig,
    UperNetHeadConfig,
)
from zoo.dense.io import build_dense_model, load_dense_model, read_dense_config, save_dense_model

__all__ = [
    "BackboneConfig",
    "DenseModelConfig",
    "MaskRCNNHeadConfig",
    "NormalizationConfig",
    "UperNetHeadConfig",
    "build_dense_model",
    "load_dense_model",
    "read_dense_config",
    "save_dense_model",
]

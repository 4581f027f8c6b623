"""Per task: the model to export, the module whose forward returns the loss dict, the dataset.

``build_task`` is the only place that knows what cifar10 / coco / ade20k mean; the trainer is generic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.finetune.recipes import Recipe


@dataclass
class TaskSetup:
    model: nn.Module  # what is exported
    train_module: nn.Module  # forward(*batch) -> dict of losses
    dataset: torch.utils.data.Dataset
    collate: Callable | None
    export: Callable[[Path], None]  # writes config.json + model.safetensors
    evaluate: Callable[[torch.device, int | None], dict[str, float]] | None = None  # clean test metrics
    info: dict[str, Any] | None = None


class ClassifierTrainModule(nn.Module):
    """Cross-entropy of a timm classifier; in fixed mode everything but the classifier stays in eval mode."""

    def __init__(self, model: nn.Module, frozen_backbone: bool) -> None:
        super().__init__()
        self.model = model
        self.frozen_backbone = frozen_backbone

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss_cls": F.cross_entropy(self.model(images), labels)}

    def train(self, mode: bool = True) -> ClassifierTrainModule:
        super().train(mode)
        if self.frozen_backbone and mode:
            self.model.eval()
            self.model.get_classifier().train(True)
        return self


class DetectionTrainModule(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: list[torch.Tensor], targets: list[dict]) -> dict[str, torch.Tensor]:
        return self.model(images, targets)


class SegmentationTrainModule(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.loss(images, labels)


def batch_to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: batch_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(batch_to_device(v, device) for v in batch)
    return batch


def build_task(backbone: str, recipe: Recipe, data_root: Path | None, pretrained: bool) -> TaskSetup:
    if recipe.task in ("cifar10", "fashion-mnist"):
        return _classification(backbone, recipe, data_root, pretrained)
    if data_root is None:
        from zoo.errors import InvalidInputError

        raise InvalidInputError(f"--data-root is required for {recipe.task}")
    if recipe.task == "coco":
        return _detection(backbone, recipe, data_root, pretrained)
    return _segmentation(backbone, recipe, data_root, pretrained)


def _classification(backbone: str, recipe: Recipe, data_root: Path | None, pretrained: bool) -> TaskSetup:
    from zoo.finetune.backbones import create_backbone
    from zoo.finetune.data.classification import classification_dataset
    from zoo.finetune.export import save_timm_classifier

    kwargs = {"drop_path_rate": recipe.drop_path} if recipe.drop_path else {}
    model, data_config = create_backbone(backbone, pretrained=pretrained, num_classes=10, **kwargs)
    dataset = classification_dataset(
        recipe.task,
        data_root,
        "train",
        recipe.image_size,
        data_config.mean,
        data_config.std,
        recipe.train_limit,
    )
    if recipe.backbone_frozen:  # lr_mult 0: only the new classifier trains
        head_params = {id(p) for p in model.get_classifier().parameters()}
        for p in model.parameters():
            p.requires_grad_(id(p) in head_params)

    def export(folder: Path) -> None:
        save_timm_classifier(model, folder, backbone, data_config, recipe, dataset.classes)

    def evaluate(device: torch.device, limit: int | None) -> dict[str, float]:
        from zoo.finetune.evaluate import classification_accuracy

        test = classification_dataset(
            recipe.task, data_root, "test", recipe.image_size, data_config.mean, data_config.std, limit
        )
        return {"test_top1": classification_accuracy(model, test, device), "test_images": len(test)}

    return TaskSetup(
        model=model,
        train_module=ClassifierTrainModule(model, recipe.backbone_frozen),
        dataset=dataset,
        collate=None,
        export=export,
        evaluate=evaluate,
        info={"data_config": data_config, "classes": dataset.classes},
    )


def _dense_backbone(backbone: str, recipe: Recipe, **extra):
    from zoo.dense.backbone import describe_backbone

    norm_eval = recipe.norm_eval or (recipe.backbone_frozen and recipe.task == "coco")
    return describe_backbone(
        backbone,
        drop_path_rate=recipe.drop_path,
        frozen_stages=recipe.effective_frozen_stages,
        norm_eval=norm_eval,
        **extra,
    )


def detection_config(backbone: str, recipe: Recipe, category_ids, class_names=()):
    """The Mask R-CNN config a run with ``recipe`` builds (dataset categories given)."""
    from zoo.dense import DenseModelConfig, MaskRCNNHeadConfig

    backbone_config, normalization = _dense_backbone(backbone, recipe)
    return DenseModelConfig(
        head="maskrcnn",
        backbone=backbone_config,
        normalization=normalization,
        num_classes=len(category_ids),
        dataset="coco",
        maskrcnn=MaskRCNNHeadConfig(
            category_ids=tuple(category_ids),
            class_names=tuple(class_names),
            fpn_channels=recipe.fpn_channels,
            box_representation_size=recipe.box_representation_size,
            mask_head_channels=recipe.mask_head_channels,
            min_size=recipe.min_size,
            max_size=recipe.max_size,
            train_min_sizes=recipe.train_min_sizes,
        ),
        extra={"task": recipe.task, "transfer_mode": recipe.mode, "base_model": backbone},
    )


def segmentation_config(backbone: str, recipe: Recipe):
    """The UperNet config a run with ``recipe`` builds (ADE20K's 150 classes)."""
    from zoo.dense import DenseModelConfig, UperNetHeadConfig
    from zoo.finetune.data.ade20k import NUM_CLASSES

    # Fixed-feature segmentation: weights frozen, BN statistics keep updating (the authors' setting).
    backbone_config, normalization = _dense_backbone(
        backbone, recipe, frozen_norm_update=recipe.backbone_frozen
    )
    return DenseModelConfig(
        head="upernet",
        backbone=backbone_config,
        normalization=normalization,
        num_classes=NUM_CLASSES,
        dataset="ade20k",
        upernet=UperNetHeadConfig(
            channels=recipe.decoder_channels, aux_channels=max(recipe.decoder_channels // 2, 1)
        ),
        extra={"task": recipe.task, "transfer_mode": recipe.mode, "base_model": backbone},
    )


def _detection(backbone: str, recipe: Recipe, data_root: Path, pretrained: bool) -> TaskSetup:
    from zoo.dense import build_dense_model, save_dense_model
    from zoo.finetune.data.coco import CocoInstances, collate_detection

    dataset = CocoInstances(data_root, "train2017", limit=recipe.train_limit, crop_branch=recipe.crop_branch)
    config = detection_config(backbone, recipe, dataset.category_ids, dataset.class_names)
    model = build_dense_model(config, pretrained=pretrained)
    return TaskSetup(
        model=model,
        train_module=DetectionTrainModule(model),
        dataset=dataset,
        collate=collate_detection,
        export=lambda folder: save_dense_model(model, folder),
    )


def _segmentation(backbone: str, recipe: Recipe, data_root: Path, pretrained: bool) -> TaskSetup:
    from zoo.dense import build_dense_model, save_dense_model
    from zoo.finetune.data.ade20k import ADE20KSegmentation, collate_segmentation

    config = segmentation_config(backbone, recipe)
    dataset = ADE20KSegmentation(
        data_root,
        config.normalization.mean,
        config.normalization.std,
        crop_size=recipe.crop_size,
        limit=recipe.train_limit,
    )
    model = build_dense_model(config, pretrained=pretrained)
    return TaskSetup(
        model=model,
        train_module=SegmentationTrainModule(model),
        dataset=dataset,
        collate=collate_segmentation,
        export=lambda folder: save_dense_model(model, folder),
    )

"""A timm ``features_only`` backbone for dense heads: four NCHW maps at strides 4, 8, 16, 32.

Handles what differs between families: Swin returns channels-last (NHWC) maps and needs dynamic
image sizes; stages are located by position in the module tree so that mmdetection's
``frozen_stages`` and ``norm_eval`` mean the same thing for ResNet, Swin and MobileNet.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zoo.dense.config import BackboneConfig, NormalizationConfig
from zoo.errors import InvalidInputError

DENSE_REDUCTIONS = (4, 8, 16, 32)


def backbone_family(architecture: str) -> str:
    """'swin', 'resnet' or 'other': the recipe presets and the backbone kwargs depend on it."""
    name = architecture.lower()
    if name.startswith("swin"):
        return "swin"
    if "resnet" in name or name.startswith(("resnext", "wide_resnet", "test_resnet")):
        return "resnet"
    return "other"


def timm_feature_kwargs(architecture: str, drop_path_rate: float) -> dict:
    """Extra ``timm.create_model`` kwargs: Swin must accept any (padded) input size."""
    kwargs: dict = {}
    if drop_path_rate:
        kwargs["drop_path_rate"] = drop_path_rate
    if backbone_family(architecture) == "swin":
        kwargs.update(strict_img_size=False, dynamic_img_size=True)
    return kwargs


def create_feature_model(config: BackboneConfig, pretrained: bool) -> nn.Module:
    """The timm features_only network; with ``pretrained`` the weights of ``config.source``.

    Single place that turns a zoo reference into a network, so it can follow ``zoo.create_model``.
    """
    from zoo.finetune.backbones import create_backbone

    model, _ = create_backbone(
        config.source or config.architecture,
        architecture=config.architecture,
        pretrained=pretrained,
        features_only=True,
        **timm_feature_kwargs(config.architecture, config.drop_path_rate),
    )
    return model


class FeatureBackbone(nn.Module):
    """Wraps a timm feature network: returns the stride 4/8/16/32 maps as NCHW tensors.

    ``out_channels`` lists their channel counts. ``train(True)`` re-applies the freezing policy
    (frozen stages and, with ``norm_eval``, every BatchNorm stay in eval mode).
    """

    def __init__(self, body: nn.Module, config: BackboneConfig) -> None:
        super().__init__()
        self.body = body
        self.config = config
        info = body.feature_info
        reductions = list(info.reduction())
        self._positions: list[int] = []
        for reduction in DENSE_REDUCTIONS:
            hits = [i for i, r in enumerate(reductions) if r == reduction]
            if not hits:
                raise InvalidInputError(
                    f"backbone {config.architecture!r} has no stride-{reduction} feature map "
                    f"(strides {reductions}); dense heads need strides {DENSE_REDUCTIONS}"
                )
            self._positions.append(hits[-1])
        self.out_channels = [info.channels()[i] for i in self._positions]
        self.channels_last = str(getattr(body, "output_fmt", "NCHW")).endswith("NHWC")
        stage_of = _stage_of_modules(body, [info.module_name()[i] for i in self._positions], reductions, info)
        # Parameters are frozen module by module (recurse=False: containers own some, e.g. Swin's
        # relative position tables); eval mode is applied to leaf modules only, so that a container
        # spanning several stages (MobileNet's `blocks`) is never switched as a whole.
        # Leaves are remembered by name, not by reference: SyncBatchNorm conversion replaces modules.
        self._frozen_leaves: set[str] = set()
        for name, module, stage in stage_of:
            if stage <= config.frozen_stages:
                for param in module.parameters(recurse=False):
                    param.requires_grad_(False)
                if next(module.children(), None) is None:
                    self._frozen_leaves.add(name)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.body(x)
        picked = [feats[i] for i in self._positions]
        if self.channels_last:
            picked = [f.permute(0, 3, 1, 2).contiguous() for f in picked]
        return picked

    def train(self, mode: bool = True) -> FeatureBackbone:
        super().train(mode)
        if mode:
            frozen_bn_update = self.config.frozen_norm_update and not self.config.norm_eval
            for name, module in self.body.named_modules():
                if name not in self._frozen_leaves:
                    continue
                if frozen_bn_update and isinstance(module, nn.modules.batchnorm._BatchNorm):
                    continue
                module.eval()
            if self.config.norm_eval:
                for module in self.body.modules():
                    if isinstance(module, nn.modules.batchnorm._BatchNorm):
                        module.eval()
        return self


def _stage_of_modules(
    body: nn.Module, stage_ends: list[str], reductions: list[int], info
) -> list[tuple[str, nn.Module, int]]:
    """Each module of ``body`` (name, module) with its stage: 0 = stem, 1..4 = the stride 4..32 stages, 5 = after.

    Stages are found by position in the pre-order module list: stage k ends with the last descendant
    of the module that emits the stride-(4 * 2**(k-1)) map; the stem ends with the module emitting
    the last map below stride 4 (or just before stage 1's first module when there is none).
    """
    modules = list(body.named_modules())
    index = {name: i for i, (name, _) in enumerate(modules)}
    resolve: Callable[[str], str] = lambda n: n if n in index else n.replace(".", "_")  # noqa: E731

    def extent(name: str) -> int:
        """Index of the last module inside ``name`` (pre-order: descendants follow their parent)."""
        start = index[name]
        prefix = name + "."
        end = start
        for i in range(start + 1, len(modules)):
            if modules[i][0].startswith(prefix):
                end = i
            else:
                break
        return end

    missing = [n for n in stage_ends if resolve(n) not in index]
    if missing:
        raise InvalidInputError(f"cannot locate feature modules {missing} in the backbone")
    ends = [extent(resolve(n)) for n in stage_ends]
    small = [i for i, r in enumerate(reductions) if r < DENSE_REDUCTIONS[0]]
    stem_end = extent(resolve(info.module_name()[small[-1]])) if small else index[resolve(stage_ends[0])] - 1
    result = []
    for i, (name, module) in enumerate(modules[1:], start=1):
        stage = 0 if i <= stem_end else next((k + 1 for k, end in enumerate(ends) if i <= end), 5)
        result.append((name, module, stage))
    return result


def describe_backbone(ref: str, **settings) -> tuple[BackboneConfig, NormalizationConfig]:
    """The backbone config and normalisation for a zoo name, alias or timm architecture."""
    from zoo._registry import get_weights, is_registered

    if is_registered(ref):
        weights = get_weights(ref)
        revision = weights.hub.revision
        config = BackboneConfig(
            architecture=weights.architecture, source=weights.name, revision=revision, **settings
        )
        data = weights.data_config
        return config, NormalizationConfig(mean=data.mean, std=data.std, interpolation=data.interpolation)
    import timm

    cfg = timm.models.get_pretrained_cfg(ref) if "." in ref else None
    architecture = ref.split(".", 1)[0]
    if cfg is None:
        cfg = timm.models.get_pretrained_cfg(architecture)
    mean = tuple(cfg.mean) if cfg is not None else (0.485, 0.456, 0.406)
    std = tuple(cfg.std) if cfg is not None else (0.229, 0.224, 0.225)
    interpolation = cfg.interpolation if cfg is not None else "bilinear"
    return BackboneConfig(architecture=architecture, source=ref, **settings), NormalizationConfig(
        mean=mean, std=std, interpolation=interpolation
    )

"""UperNet (Xiao et al. 2018): a pyramid pooling module on the last map, an FPN over all four,
fused at stride 4; plus mmsegmentation's auxiliary FCN head on the stride-16 map for training.

A compact re-implementation of mmsegmentation's ``UPerHead`` + ``FCNHead`` (same layer layout and
defaults) so Swin's and ResNet's timm feature maps plug in directly. ``model(x)`` takes normalised
(N, 3, H, W) images and returns (N, num_classes, H, W) logits at the input resolution; inputs are
padded to a multiple of 32 internally and the padding cropped away.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.dense.backbone import FeatureBackbone
from zoo.dense.config import DenseModelConfig

SIZE_DIVISOR = 32


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )


class PyramidPooling(nn.Module):
    """Average-pool to each scale, 1x1 conv, upsample back, concatenate with the input, 3x3 conv."""

    def __init__(self, in_channels: int, channels: int, pool_scales: tuple[int, ...]) -> None:
        super().__init__()
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(scale), ConvBNReLU(in_channels, channels, 1))
            for scale in pool_scales
        )
        self.bottleneck = ConvBNReLU(in_channels + len(pool_scales) * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        pooled = [
            F.interpolate(stage(x), size=size, mode="bilinear", align_corners=False) for stage in self.stages
        ]
        return self.bottleneck(torch.cat([x, *pooled], dim=1))


class UperHead(nn.Module):
    def __init__(
        self,
        in_channels: list[int],
        channels: int,
        num_classes: int,
        pool_scales: tuple[int, ...],
        dropout: float,
    ) -> None:
        super().__init__()
        self.ppm = PyramidPooling(in_channels[-1], channels, pool_scales)
        self.lateral_convs = nn.ModuleList(ConvBNReLU(c, channels, 1) for c in in_channels[:-1])
        self.fpn_convs = nn.ModuleList(ConvBNReLU(channels, channels, 3) for _ in in_channels[:-1])
        self.fuse = ConvBNReLU(len(in_channels) * channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        laterals = [conv(f) for conv, f in zip(self.lateral_convs, feats[:-1], strict=True)]
        laterals.append(self.ppm(feats[-1]))
        for i in range(len(laterals) - 1, 0, -1):  # top-down pathway
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode="bilinear", align_corners=False
            )
        outs = [conv(lat) for conv, lat in zip(self.fpn_convs, laterals[:-1], strict=True)]
        outs.append(laterals[-1])
        size = outs[0].shape[-2:]
        outs = [outs[0]] + [
            F.interpolate(o, size=size, mode="bilinear", align_corners=False) for o in outs[1:]
        ]
        return self.classifier(self.dropout(self.fuse(torch.cat(outs, dim=1))))


class FCNAuxHead(nn.Module):
    """mmseg's auxiliary FCNHead (one 3x3 conv) on the stride-16 map; a training-only loss term."""

    def __init__(self, in_channels: int, channels: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.conv = ConvBNReLU(in_channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.conv(x)))


class UperNet(nn.Module):
    def __init__(self, config: DenseModelConfig, body: nn.Module) -> None:
        super().__init__()
        head = config.upernet
        assert head is not None
        self.config = config
        self.backbone = FeatureBackbone(body, config.backbone)
        chans = self.backbone.out_channels
        self.decode_head = UperHead(chans, head.channels, config.num_classes, head.pool_scales, head.dropout)
        self.aux_head = (
            FCNAuxHead(chans[2], head.aux_channels, config.num_classes, head.dropout)
            if head.aux_loss_weight > 0
            else None
        )

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits at stride 4 of the padded input from the decode head and (training) the aux head."""
        feats = self.backbone(_pad_to_multiple(x, SIZE_DIVISOR))
        aux = self.aux_head(feats[2]) if self.aux_head is not None and self.training else None
        return self.decode_head(feats), aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits, _ = self.forward_features(x)
        return upsample_logits(logits, x.shape[-2:])

    def loss(self, x: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Cross-entropy of the decode head (and ``aux_loss_weight`` x the aux head) on (N, H, W) labels."""
        head = self.config.upernet
        assert head is not None
        logits, aux = self.forward_features(x)
        size = x.shape[-2:]
        losses = {
            "loss_seg": F.cross_entropy(upsample_logits(logits, size), target, ignore_index=head.ignore_index)
        }
        if aux is not None:
            losses["loss_aux"] = head.aux_loss_weight * F.cross_entropy(
                upsample_logits(aux, size), target, ignore_index=head.ignore_index
            )
        return losses


def _pad_to_multiple(x: torch.Tensor, divisor: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % divisor, (-w) % divisor
    return F.pad(x, (0, pad_w, 0, pad_h)) if pad_h or pad_w else x


def upsample_logits(logits: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    """Logits of the padded input -> logits at ``size``: upsample by the stride, crop the padding."""
    h, w = size
    padded = (h + (-h) % SIZE_DIVISOR, w + (-w) % SIZE_DIVISOR)
    up = F.interpolate(logits, size=padded, mode="bilinear", align_corners=False)
    return up[..., :h, :w]


def build_upernet(config: DenseModelConfig, body: nn.Module) -> UperNet:
    return UperNet(config, body)

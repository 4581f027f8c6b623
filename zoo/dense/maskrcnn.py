"""Mask R-CNN: torchvision's detector over an FPN on a timm backbone.

Interface (torchvision's): ``model(images)`` in eval mode takes a list of float RGB images in
[0, 1], each (3, H, W), and returns one dict per image with ``boxes`` (x1, y1, x2, y2, input pixels),
``labels`` (1..num_classes; ``config.maskrcnn.category_ids[label - 1]`` is the COCO id), ``scores``
and ``masks`` (N, 1, H, W probabilities). The model resizes to the test scale and normalises with
the backbone's mean/std itself. In train mode ``model(images, targets)`` returns the loss dict.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool
from torchvision.ops.poolers import initLevelMapper

from zoo.dense.backbone import DENSE_REDUCTIONS, FeatureBackbone
from zoo.dense.config import DenseModelConfig


class BackboneWithFPN(nn.Module):
    """Four backbone maps -> five 256-channel FPN maps ('0'..'3' and 'pool'), as torchvision expects."""

    def __init__(self, backbone: FeatureBackbone, out_channels: int) -> None:
        super().__init__()
        self.body = backbone
        self.fpn = FeaturePyramidNetwork(backbone.out_channels, out_channels, extra_blocks=LastLevelMaxPool())
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        feats = self.body(x)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))


def build_maskrcnn(config: DenseModelConfig, body: nn.Module) -> MaskRCNN:
    """The detector for ``config`` around an already created timm features_only ``body``."""
    head = config.maskrcnn
    assert head is not None
    backbone = BackboneWithFPN(FeatureBackbone(body, config.backbone), head.fpn_channels)
    # torchvision samples the training short side from min_size and tests at min_size[-1].
    min_sizes = (*head.train_min_sizes, head.min_size)
    resolution = 7  # RoIAlign output of the box branch (torchvision's MultiScaleRoIAlign default)
    box_head = TwoMLPHead(head.fpn_channels * resolution**2, head.box_representation_size)
    box_predictor = FastRCNNPredictor(head.box_representation_size, config.num_classes + 1)
    mask_layers = (head.mask_head_channels,) * 4
    mask_head = MaskRCNNHeads(head.fpn_channels, mask_layers, dilation=1)
    mask_predictor = MaskRCNNPredictor(
        head.mask_head_channels, head.mask_head_channels, config.num_classes + 1
    )
    model = MaskRCNN(
        backbone,
        num_classes=None,
        box_head=box_head,
        box_predictor=box_predictor,
        mask_head=mask_head,
        mask_predictor=mask_predictor,
        box_batch_size_per_image=head.box_batch_size_per_image,
        min_size=min_sizes,
        max_size=head.max_size,
        image_mean=list(config.normalization.mean),
        image_std=list(config.normalization.std),
        box_score_thresh=head.box_score_thresh,
        box_nms_thresh=head.box_nms_thresh,
        box_detections_per_img=head.box_detections_per_img,
    )
    _fix_roi_pool_scales(model)
    return model


def _fix_roi_pool_scales(model: MaskRCNN) -> None:
    """Give the box and mask RoI poolers the FPN's true scales (1/4 .. 1/32) up front.

    torchvision's MultiScaleRoIAlign guesses each level's scale on its first call, as the power of
    two nearest to (feature size / largest unpadded image size), and keeps the guess for the life of
    the module. When the padding to a multiple of 32 is large next to the image (a 65-px image padded
    to 96 px reads as stride 2 instead of 4), the guess is wrong, and every later image is pooled at
    the wrong scale: detections then depended on which image a process happened to see first.
    """
    scales = [1.0 / r for r in DENSE_REDUCTIONS]
    k_min, k_max = (int(math.log2(r)) for r in (DENSE_REDUCTIONS[0], DENSE_REDUCTIONS[-1]))
    for pooler in (model.roi_heads.box_roi_pool, model.roi_heads.mask_roi_pool):
        pooler.scales = list(scales)
        pooler.map_levels = initLevelMapper(
            k_min, k_max, canonical_scale=pooler.canonical_scale, canonical_level=pooler.canonical_level
        )

"""Backbones already on the Hub in timm's org: the standard ResNet-50, Swin-T, ConvNeXt-T, DeiT-S.

Revisions and sha256 are not pinned (``None``): they could not be read from the Hub from here, and are
never guessed. A fetch follows ``main`` and still checks the file against the sha256 the Hub
advertises. Preprocessing is timm's ``pretrained_cfg`` for the same tag.
"""

from __future__ import annotations

from zoo._entries import _papers
from zoo._registry import DataConfig, HubLocation, Provenance, ReferenceMetrics, Weights, register

register(
    Weights(
        name="resnet50.tv_in1k",
        architecture="resnet50",
        recipe="standard ImageNet-1k training (torchvision v1 recipe, 90 epochs)",
        aliases=("resnet50", "r50"),
        hub=HubLocation(repo_id="timm/resnet50.tv_in1k"),
        provenance=Provenance(
            paper="Deep Residual Learning for Image Recognition",
            paper_url="https://arxiv.org/abs/1512.03385",
            bibtex=_papers.RESNET,
            license="bsd-3-clause",
            project_url="https://github.com/pytorch/vision",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=0.7613,
            imagenet_c_mce=0.767,
            source="top-1: rgeirhos/texture-vs-shape README (standard ResNet-50, 76.13); "
            "mCE: bethgelab/game-of-noise README (Vanilla, 76.7)",
        ),
        data_config=DataConfig(crop_pct=0.875, interpolation="bilinear"),
        num_params=25_557_032,
        tags=("baseline",),
    )
)

register(
    Weights(
        name="swin_tiny_patch4_window7_224.ms_in1k",
        architecture="swin_tiny_patch4_window7_224",
        recipe="standard Swin ImageNet-1k training (AdamW, 300 epochs, RandAugment/Mixup/CutMix)",
        aliases=("swin_t", "swin_tiny"),
        hub=HubLocation(repo_id="timm/swin_tiny_patch4_window7_224.ms_in1k"),
        provenance=Provenance(
            paper="Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
            paper_url="https://arxiv.org/abs/2103.14030",
            bibtex=_papers.SWIN,
            license="mit",
            project_url="https://github.com/microsoft/Swin-Transformer",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=0.812, source="Swin Transformer paper, Table 1 (Swin-T, 81.2)"
        ),
        data_config=DataConfig(crop_pct=0.9, interpolation="bicubic"),
        num_params=28_288_354,
        tags=("transformer",),
    )
)

register(
    Weights(
        name="convnext_tiny.fb_in1k",
        architecture="convnext_tiny",
        recipe="ConvNeXt ImageNet-1k training by the paper authors (AdamW, 300 epochs)",
        aliases=("convnext_t", "convnext_tiny"),
        hub=HubLocation(repo_id="timm/convnext_tiny.fb_in1k"),
        provenance=Provenance(
            paper="A ConvNet for the 2020s",
            paper_url="https://arxiv.org/abs/2201.03545",
            bibtex=_papers.CONVNEXT,
            license="apache-2.0",
            project_url="https://github.com/facebookresearch/ConvNeXt",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=0.821,
            source="ConvNeXt paper / facebookresearch/ConvNeXt README (ConvNeXt-T 224, 82.1)",
        ),
        data_config=DataConfig(crop_pct=0.875, interpolation="bicubic"),
        num_params=28_589_128,
        tags=("convnet",),
    )
)

register(
    Weights(
        name="deit_small_patch16_224.fb_in1k",
        architecture="deit_small_patch16_224",
        recipe="DeiT ImageNet-1k training by the paper authors (no distillation token)",
        aliases=("deit_s", "deit_small"),
        hub=HubLocation(repo_id="timm/deit_small_patch16_224.fb_in1k"),
        provenance=Provenance(
            paper="Training data-efficient image transformers & distillation through attention",
            paper_url="https://arxiv.org/abs/2012.12877",
            bibtex=_papers.DEIT,
            license="apache-2.0",
            project_url="https://github.com/facebookresearch/deit",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=0.799, source="facebookresearch/deit README (DeiT-small, 79.9)"
        ),
        data_config=DataConfig(crop_pct=0.9, interpolation="bicubic"),
        num_params=22_050_664,
        tags=("transformer",),
    )
)

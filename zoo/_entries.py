"""Registry entries. One block per model family; each entry cites where its weights and numbers come from."""

from __future__ import annotations

from zoo._registry import (
    DataConfig,
    HubLocation,
    Provenance,
    ReferenceMetrics,
    Weights,
    register,
)

RESNET_BIBTEX = """@inproceedings{he2016deep,
  title={Deep Residual Learning for Image Recognition},
  author={He, Kaiming and Zhang, Xiangyu and Ren, Shaoqing and Sun, Jian},
  booktitle={CVPR},
  year={2016}
}"""

SWIN_BIBTEX = """@inproceedings{liu2021swin,
  title={Swin Transformer: Hierarchical Vision Transformer using Shifted Windows},
  author={Liu, Ze and Lin, Yutong and Cao, Yue and Hu, Han and Wei, Yixuan and Zhang, Zheng and Lin, Stephen and Guo, Baining},
  booktitle={ICCV},
  year={2021}
}"""

# --- ResNet-50 baseline (torchvision weights, mirrored by timm) -------------------------------------
register(
    Weights(
        name="resnet50.tv_in1k",
        architecture="resnet50",
        recipe="standard ImageNet-1k training (torchvision v1 recipe, 90 epochs)",
        aliases=("resnet50", "r50"),
        hub=HubLocation(repo_id="timm/resnet50.tv_in1k", revision="main"),
        provenance=Provenance(
            paper="Deep Residual Learning for Image Recognition",
            paper_url="https://arxiv.org/abs/1512.03385",
            bibtex=RESNET_BIBTEX,
            license="bsd-3-clause",
            project_url="https://github.com/pytorch/vision",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=0.7613,
            imagenet_c_mce=0.767,
            source="torchvision model zoo (top-1); Hendrycks & Dietterich 2019 / AugMix Table 4 (mCE)",
        ),
        data_config=DataConfig(crop_pct=0.875, interpolation="bilinear"),
        num_params=25_557_032,
    )
)

# --- Swin-T (vanilla, the paper's transformer) ------------------------------------------------------
register(
    Weights(
        name="swin_tiny_patch4_window7_224.ms_in1k",
        architecture="swin_tiny_patch4_window7_224",
        recipe="standard Swin ImageNet-1k training (AdamW, 300 epochs, RandAugment/Mixup/CutMix)",
        aliases=("swin_t", "swin_tiny"),
        hub=HubLocation(repo_id="timm/swin_tiny_patch4_window7_224.ms_in1k", revision="main"),
        provenance=Provenance(
            paper="Swin Transformer: Hierarchical Vision Transformer using Shifted Windows",
            paper_url="https://arxiv.org/abs/2103.14030",
            bibtex=SWIN_BIBTEX,
            license="mit",
            project_url="https://github.com/microsoft/Swin-Transformer",
        ),
        metrics=ReferenceMetrics(imagenet_top1=0.812, source="Swin Transformer paper, Table 1"),
        data_config=DataConfig(crop_pct=0.9, interpolation="bicubic"),
        num_params=28_288_354,
    )
)

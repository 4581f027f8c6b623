"""The weights registry: typed, frozen metadata for every checkpoint the zoo knows.

A :class:`Weights` entry is named ``arch.tag`` like timm (``resnet50.augmix_in1k``): the timm
architecture, then a tag saying the training recipe and data. It carries where the safetensors live
on the Hub (pinned by revision and sha256 once mirrored), the preprocessing the weights expect, where
the original release came from, and the numbers its paper reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from typing import Any

from zoo.errors import InvalidInputError, unknown_name

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class DataConfig:
    """Preprocessing the weights were trained with (timm's pretrained_cfg fields)."""

    input_size: tuple[int, int, int] = (3, 224, 224)
    crop_pct: float = 0.875
    interpolation: str = "bilinear"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def to_timm(self) -> dict[str, Any]:
        """The dict timm's ``resolve_data_config`` / ``create_transform`` take."""
        return {
            "input_size": self.input_size,
            "crop_pct": self.crop_pct,
            "interpolation": self.interpolation,
            "mean": self.mean,
            "std": self.std,
            "crop_mode": "center",
        }


@dataclass(frozen=True)
class HubLocation:
    """Where the safetensors live (or will live) on the Hugging Face Hub.

    ``published`` is False for weights not mirrored yet (build them with ``rzoo fetch --from-source``).
    ``revision`` pins a commit sha and ``sha256`` the weights file; ``None`` means not pinned (the
    fetch follows ``main`` and checks the file against the sha256 the Hub advertises). They are only
    ever filled with values read from the Hub (``hub_upload.py mirror`` prints them), never guessed.
    """

    repo_id: str
    revision: str | None = None
    filename: str = "model.safetensors"
    sha256: str | None = None
    published: bool = True

    @property
    def is_published(self) -> bool:
        return self.published


@dataclass(frozen=True)
class SourceRelease:
    """The original (pickled) release that ``--from-source`` converts to safetensors.

    ``layout`` names the converter (see ``zoo._convert.LAYOUTS``): how to unwrap the pickle and map
    its keys to timm's. Digests are the published ones (``sha256_prefix``: the leading hex digits that
    torch.hub-style file names carry, ``name-<prefix>.pth``); ``None`` when none is published.
    ``note`` says where the URL and digests were read.
    """

    url: str
    filename: str
    layout: str
    sha256: str | None = None
    md5: str | None = None
    sha256_prefix: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Provenance:
    paper: str
    paper_url: str
    bibtex: str
    license: str
    project_url: str
    source: SourceRelease | None = None


@dataclass(frozen=True)
class ReferenceMetrics:
    """Numbers reported by the authors (fractions in [0, 1]; mCE as a ratio, 0.767 = 76.7 %).

    ``None`` means the authors' number is not known to us; it is never filled in by guesswork.
    """

    imagenet_top1: float | None = None
    imagenet_c_mce: float | None = None
    source: str = ""


@dataclass(frozen=True)
class Weights:
    name: str
    architecture: str
    recipe: str
    hub: HubLocation
    provenance: Provenance
    num_params: int
    metrics: ReferenceMetrics = ReferenceMetrics()
    data_config: DataConfig = DataConfig()
    aliases: tuple[str, ...] = ()
    num_classes: int = 1000
    tags: tuple[str, ...] = field(default=())

    @property
    def tag(self) -> str:
        return self.name.split(".", 1)[1]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_REGISTRY: dict[str, Weights] = {}
_ALIASES: dict[str, str] = {}


def register(weights: Weights) -> Weights:
    """Add an entry; a name or alias used twice raises."""
    if "." not in weights.name or weights.name.split(".", 1)[0] != weights.architecture:
        raise InvalidInputError(f"weights name {weights.name!r} must be '<architecture>.<tag>'")
    for key in (weights.name, *weights.aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise InvalidInputError(f"duplicate weights name or alias {key!r}")
    _REGISTRY[weights.name] = weights
    for alias in weights.aliases:
        _ALIASES[alias] = weights.name
    return weights


def unregister(name: str) -> None:
    """Remove an entry and its aliases (for locally registered sources and tests)."""
    weights = _REGISTRY.pop(name)
    for alias in weights.aliases:
        _ALIASES.pop(alias, None)


def resolve_name(name: str) -> str:
    """The canonical ``arch.tag`` for a name or alias; unknown names suggest the closest ones."""
    _ensure_loaded()
    if name in _REGISTRY:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise unknown_name("model", name, [*_REGISTRY, *_ALIASES])


def get_weights(name: str) -> Weights:
    """The registry entry for a name or alias."""
    return _REGISTRY[resolve_name(name)]


def is_registered(name: str) -> bool:
    _ensure_loaded()
    return name in _REGISTRY or name in _ALIASES


def list_models(include: str | Iterable[str] = "*", exclude: str | Iterable[str] = ()) -> list[str]:
    """Registered names matching the ``include`` glob(s) and none of the ``exclude`` globs, sorted."""
    _ensure_loaded()
    inc = [include] if isinstance(include, str) else list(include)
    exc = [exclude] if isinstance(exclude, str) else list(exclude)
    return sorted(
        n
        for n, w in _REGISTRY.items()
        if any(fnmatch(n, p) or any(fnmatch(a, p) for a in w.aliases) for p in inc)
        and not any(fnmatch(n, p) for p in exc)
    )


def _ensure_loaded() -> None:
    # The entries module registers itself on import; importing here avoids a cycle at import time.
    import zoo._entries  # noqa: F401

"""``create_model`` and ``load_checkpoint``: a reference in, a timm network with verified weights out.

A reference is a registry name or alias (``resnet50.augmix_in1k``, ``swin_t``), ``hf-hub:ORG/NAME[@REV]``,
or a local folder in timm's Hub format (``config.json`` + ``model.safetensors``); ``load_checkpoint``
also takes a bare ``.safetensors`` file (with ``arch``) and an ``.onnx`` file. Nothing is unpickled:
weights are safetensors whose header is validated (:mod:`zoo.safetensors_check`) and whose every
tensor must match the architecture, which must be one timm registers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from zoo._hub import HF_HUB_PREFIX, fetch, resolve_local, sha256_file
from zoo._registry import DataConfig, get_weights, is_registered
from zoo.errors import InvalidInputError, RzooError, UnsafeFileError, unknown_name

if TYPE_CHECKING:
    from torch import nn

    from evaluator.results import CheckpointIdentity

PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".tar", ".npy", ".joblib"})


class CreatedModel(NamedTuple):
    """``model, data_config = create_model(...)``."""

    model: nn.Module
    data_config: DataConfig


@dataclass(frozen=True)
class LoadedCheckpoint:
    """What the evaluator needs: the network (or the ONNX file's path), its preprocessing, its kind
    (``classifier`` | ``dense`` | ``onnx``) and who it is (:class:`evaluator.results.CheckpointIdentity`)."""

    model: Any
    data_config: Any
    kind: str
    identity: CheckpointIdentity


@dataclass(frozen=True)
class _Resolved:
    """A reference resolved to an architecture, a weights file and the preprocessing bound to them."""

    name: str
    architecture: str
    num_classes: int
    weights_file: Path | None
    data_config: DataConfig
    revision: str | None
    source: str  # zoo | hf-hub | folder | safetensors


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def create_model(
    ref: str | Path,
    pretrained: bool = False,
    num_classes: int | None = None,
    features_only: bool = False,
    *,
    progress: bool = True,
    **kwargs: Any,
) -> CreatedModel:
    """The timm network for ``ref`` and the data config of its weights.

    - ``pretrained``: load the weights (fetched and verified into the HF cache when needed), strictly:
      any missing or unexpected key is named in the error.
    - ``num_classes``: a new, freshly initialised classifier when it differs from the weights'.
    - ``features_only``: timm's feature extractor (``model.feature_info`` lists channels and strides).
      Swin's maps come out channels-last (``model.output_fmt == "NHWC"``); :func:`to_nchw` converts.
    - other ``kwargs`` go to ``timm.create_model`` (``drop_path_rate``, ``out_indices``...).
    """
    import timm

    resolved = _resolve(str(ref), pretrained=pretrained, progress=progress)
    if features_only:
        overlay = None
        if pretrained and resolved.weights_file is not None:
            _check_file_fits(resolved.weights_file, resolved.architecture, resolved.num_classes)
            overlay = {"file": str(resolved.weights_file), "num_classes": resolved.num_classes}
        model = timm.create_model(
            resolved.architecture,
            pretrained=overlay is not None,
            pretrained_cfg_overlay=overlay,
            features_only=True,
            **kwargs,
        )
        return CreatedModel(model, resolved.data_config)
    if not pretrained:
        classes = num_classes if num_classes is not None else resolved.num_classes
        return CreatedModel(
            timm.create_model(resolved.architecture, num_classes=classes, **kwargs), resolved.data_config
        )
    model = _build_with_weights(resolved, **kwargs)
    if num_classes is not None and num_classes != resolved.num_classes:
        model.reset_classifier(num_classes)
    return CreatedModel(model, resolved.data_config)


def load_checkpoint(
    ref: str | Path, arch: str | None = None, num_classes: int | None = None, *, progress: bool = True
) -> LoadedCheckpoint:
    """Load any checkpoint the evaluator accepts, safely, in eval mode.

    ``ref``: registry name/alias, ``hf-hub:...``, a folder (timm format, or a dense model whose
    config.json has ``rzoo_head``), a ``.safetensors`` file (``arch`` required), or an ``.onnx`` file
    (returned as its path; run it with onnxruntime). Pickles are refused.
    """
    from evaluator.results import CheckpointIdentity

    text = str(ref)
    path = Path(text).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        if not path.is_file():
            raise InvalidInputError(f"{path} does not exist")
        identity = CheckpointIdentity(name=path.name, sha256=sha256_file(path), source="onnx")
        return LoadedCheckpoint(model=path, data_config=None, kind="onnx", identity=identity)
    if suffix in PICKLE_SUFFIXES or text.endswith(".pth.tar"):
        raise UnsafeFileError(
            f"{path.name}: pickled checkpoints are never loaded (they can run code); convert to "
            ".safetensors (rzoo fetch NAME --from-source for the zoo's originals)"
        )
    if path.is_dir() and (path / "config.json").is_file() and "rzoo_head" in _read_config(path):
        return _load_dense(path)
    resolved = _resolve(text, pretrained=True, arch=arch, num_classes=num_classes, progress=progress)
    if arch is not None and arch != resolved.architecture:
        raise InvalidInputError(f"{text} is a {resolved.architecture}, not {arch}")
    model = _build_with_weights(resolved).eval()
    assert resolved.weights_file is not None
    config_file = resolved.weights_file.parent / "config.json"
    base_model, transfer_mode = _lineage(
        _read_config(config_file.parent).get("rzoo") if config_file.is_file() else None
    )
    identity = CheckpointIdentity(
        name=resolved.name,
        architecture=resolved.architecture,
        revision=resolved.revision,
        sha256=sha256_file(resolved.weights_file.resolve()),
        source=resolved.source,
        base_model=base_model,
        transfer_mode=transfer_mode,
    )
    return LoadedCheckpoint(
        model=model, data_config=resolved.data_config, kind="classifier", identity=identity
    )


def _lineage(block: Any) -> tuple[str | None, str | None]:
    """``(base_model, transfer_mode)`` recorded by ``rzoo finetune`` in a run's config.json.

    Classifier folders keep them in the ``rzoo`` block, dense ones in ``extra``; an unknown mode is
    dropped (reported as unknown) rather than trusted.
    """
    from evaluator.results import TRANSFER_MODES

    if not isinstance(block, dict):
        return None, None
    base_model = block.get("base_model")
    mode = block.get("transfer_mode")
    return (
        base_model if isinstance(base_model, str) and base_model else None,
        mode if mode in TRANSFER_MODES else None,
    )


def eval_transform(data_config: DataConfig):
    """The evaluation transform (resize, center crop, tensor, normalise) for PIL images."""
    from timm.data import create_transform

    return create_transform(**data_config.to_timm(), is_training=False)


def to_nchw(features: list, model: nn.Module) -> list:
    """Feature maps of a ``features_only`` model as NCHW, whatever its ``output_fmt`` (Swin: NHWC)."""
    if str(getattr(model, "output_fmt", "NCHW")).endswith("NHWC"):
        return [f.permute(0, 3, 1, 2).contiguous() for f in features]
    return list(features)


# --------------------------------------------------------------------------------------------------
# Resolution
# --------------------------------------------------------------------------------------------------


def _resolve(
    ref: str,
    *,
    pretrained: bool,
    arch: str | None = None,
    num_classes: int | None = None,
    progress: bool = True,
) -> _Resolved:
    if ref.startswith(HF_HUB_PREFIX):
        fetched = fetch(ref, progress=progress)
        architecture, classes, data_config = read_timm_folder_config(fetched.folder)
        return _Resolved(
            ref[len(HF_HUB_PREFIX) :].split("@")[0],
            architecture,
            classes,
            fetched.weights_file,
            data_config,
            fetched.revision,
            "hf-hub",
        )
    if is_registered(ref):
        weights = get_weights(ref)
        if not pretrained:
            return _Resolved(
                weights.name,
                weights.architecture,
                weights.num_classes,
                None,
                weights.data_config,
                None,
                "zoo",
            )
        fetched = fetch(ref, progress=progress)
        return _Resolved(
            weights.name,
            weights.architecture,
            weights.num_classes,
            fetched.weights_file,
            weights.data_config,
            fetched.revision,
            "zoo",
        )
    path = Path(ref).expanduser()
    if path.suffix == ".safetensors":
        return _resolve_safetensors_file(path, arch, num_classes)
    folder = resolve_local(ref)
    if folder is not None:
        if not (folder / "config.json").is_file():
            raise InvalidInputError(
                f"{folder} has no config.json (expected timm's format: config.json + model.safetensors)"
            )
        architecture, classes, data_config = read_timm_folder_config(folder)
        weights_file = folder / "model.safetensors"
        if not weights_file.is_file():
            pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
            if pickles:
                raise UnsafeFileError(
                    f"{folder} holds only pickled weights {pickles}; rzoo loads safetensors only"
                )
            raise InvalidInputError(f"{folder} has no model.safetensors")
        return _Resolved(folder.name, architecture, classes, weights_file, data_config, None, "folder")
    if path.exists():
        raise InvalidInputError(f"{path} is neither a model folder nor a .safetensors / .onnx file")
    from zoo._registry import list_models

    raise unknown_name("model", ref, list_models())


def _resolve_safetensors_file(path: Path, arch: str | None, num_classes: int | None) -> _Resolved:
    from timm.models import get_pretrained_cfg

    if not path.is_file():
        raise InvalidInputError(f"{path} does not exist")
    if arch is None:
        raise InvalidInputError(f"{path.name}: a bare .safetensors file needs its architecture (--arch)")
    _require_timm_architecture(arch)
    if num_classes is None:
        from zoo.safetensors_check import validate_safetensors

        header = validate_safetensors(path)
        classifier = (get_pretrained_cfg(arch).classifier if get_pretrained_cfg(arch) else None) or "fc"
        head = header.tensors.get(f"{classifier}.weight") or header.tensors.get(f"{classifier}.bias")
        num_classes = head.shape[0] if head is not None else 1000
    return _Resolved(path.name, arch, num_classes, path, _timm_default_data_config(arch), None, "safetensors")


def read_timm_folder_config(folder: Path) -> tuple[str, int, DataConfig]:
    """Architecture, num_classes and data config from a timm-format ``config.json``."""
    config = _read_config(folder)
    architecture = config.get("architecture")
    if not isinstance(architecture, str):
        raise InvalidInputError(f"{folder}/config.json names no architecture")
    _require_timm_architecture(architecture)
    pretrained_cfg = config.get("pretrained_cfg") or {}
    classes = config.get("num_classes", pretrained_cfg.get("num_classes", 1000))
    if not isinstance(classes, int) or classes < 0:
        raise InvalidInputError(f"{folder}/config.json: num_classes must be a non-negative integer")
    default = _timm_default_data_config(architecture)
    try:
        data_config = DataConfig(
            input_size=tuple(int(v) for v in pretrained_cfg.get("input_size", default.input_size)),
            crop_pct=float(pretrained_cfg.get("crop_pct", default.crop_pct)),
            interpolation=str(pretrained_cfg.get("interpolation", default.interpolation)),
            mean=tuple(float(v) for v in pretrained_cfg.get("mean", default.mean)),
            std=tuple(float(v) for v in pretrained_cfg.get("std", default.std)),
        )
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{folder}/config.json: malformed pretrained_cfg ({err})") from None
    return architecture, classes, data_config


def _read_config(folder: Path) -> dict[str, Any]:
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise InvalidInputError(f"{folder}/config.json is not readable JSON ({err})") from None
    if not isinstance(config, dict):
        raise InvalidInputError(f"{folder}/config.json is not a JSON object")
    return config


def _require_timm_architecture(architecture: str) -> None:
    """The allow-list: only architectures timm registers are ever built."""
    import timm

    if not timm.is_model(architecture):
        raise unknown_name("timm architecture", architecture, timm.list_models())


def _timm_default_data_config(architecture: str) -> DataConfig:
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(architecture)
    if cfg is None:
        return DataConfig()
    return DataConfig(
        input_size=tuple(cfg.input_size),
        crop_pct=float(cfg.crop_pct),
        interpolation=str(cfg.interpolation or "bilinear"),
        mean=tuple(cfg.mean),
        std=tuple(cfg.std),
    )


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def _expected_shapes(architecture: str, num_classes: int) -> dict[str, tuple[int, ...]]:
    import timm
    import torch

    with torch.device("meta"):
        reference = timm.create_model(architecture, pretrained=False, num_classes=num_classes)
    return {k: tuple(v.shape) for k, v in reference.state_dict().items()}


def _check_file_fits(path: Path, architecture: str, num_classes: int) -> None:
    """Header validated, every tensor present with the architecture's shape, nothing extra."""
    from zoo._convert import check_state_dict_matches
    from zoo.safetensors_check import validate_safetensors

    header = validate_safetensors(path)

    class _Shape:
        def __init__(self, shape: tuple[int, ...]) -> None:
            self.shape = shape

    check_state_dict_matches(
        {k: _Shape(v.shape) for k, v in header.tensors.items()},
        _expected_shapes(architecture, num_classes),
        architecture,
    )


def _build_with_weights(resolved: _Resolved, **kwargs: Any) -> nn.Module:
    import timm
    from safetensors.torch import load_file

    assert resolved.weights_file is not None
    _check_file_fits(resolved.weights_file, resolved.architecture, resolved.num_classes)
    model = timm.create_model(resolved.architecture, num_classes=resolved.num_classes, **kwargs)
    state_dict = load_file(str(resolved.weights_file), device="cpu")
    result = model.load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:  # kwargs that change the architecture
        raise InvalidInputError(
            f"weights do not fit {resolved.architecture}: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]}"
        )
    return model


def _load_dense(folder: Path) -> LoadedCheckpoint:
    from evaluator.results import CheckpointIdentity

    try:
        from zoo.dense import load_dense_model
    except ImportError:
        raise RzooError(
            f"{folder} is a detection/segmentation model but zoo.dense is not available"
        ) from None
    model, config = load_dense_model(folder)
    weights_file = folder / "model.safetensors"
    base_model, transfer_mode = _lineage(getattr(config, "extra", None))
    identity = CheckpointIdentity(
        name=folder.name,
        architecture=getattr(getattr(config, "backbone", None), "architecture", None),
        sha256=sha256_file(weights_file) if weights_file.is_file() else None,
        source="folder",
        base_model=base_model,
        transfer_mode=transfer_mode,
    )
    return LoadedCheckpoint(model=model.eval(), data_config=config, kind="dense", identity=identity)

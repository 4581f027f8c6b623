"""``--from-source``: turn an original (pickled) release into timm's Hub format in the HF cache.

Steps, each refusing rather than guessing:

1. download the release (``https://``, Google Drive view links, or ``file://``) to a temporary file,
   checking the published sha256 / md5 / torch.hub sha256 prefix when there is one;
2. ``torch.load(weights_only=True)``: plain tensors and containers only, never arbitrary code
   (a pickle that needs anything else is refused with :class:`UnsafeFileError`);
3. unwrap ``state_dict`` / ``model`` / ``model_state_dict`` and map the keys with the entry's
   ``layout`` (strip ``module.``, drop the robustness library's attacker/normalizer copies, rename
   torchvision MobileNetV2 keys...);
4. require every key to match timm's architecture, shape for shape (missing and unexpected keys are
   named in the error);
5. write ``config.json`` (architecture, num_classes, pretrained_cfg) and ``model.safetensors`` as a
   snapshot of the entry's future Hub repo in the standard cache layout, so later loads (timm's
   ``hf-hub:`` included) resolve offline.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from zoo._hub import FetchedWeights, sha256_file
from zoo._registry import SourceRelease, Weights
from zoo.errors import ChecksumError, HubError, InvalidInputError, UnsafeFileError

WRAPPER_KEYS = ("state_dict", "model_state_dict", "model", "net")

# --------------------------------------------------------------------------------------------------
# Key layouts: original release -> timm names
# --------------------------------------------------------------------------------------------------


def _strip_module(key: str) -> str | None:
    return key[len("module.") :] if key.startswith("module.") else key


def _robustness_library(key: str) -> str | None:
    """MadryLab robustness checkpoints: ``module.model.*`` is the network, ``module.attacker.model.*``
    a copy used for attacks and ``module.normalizer.*`` the input normalisation buffers."""
    if key.startswith(("module.attacker.", "module.normalizer.", "attacker.", "normalizer.")):
        return None
    for prefix in ("module.model.", "model."):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key  # anything else is reported as unexpected by the strict match


_MBV2_STAGE_OF_BLOCK = [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6]  # torchvision features.1..17


def _torchvision_mobilenet_v2(key: str) -> str | None:
    """torchvision ``mobilenet_v2`` -> timm ``mobilenetv2_100`` (same tensors, different names)."""
    key = _strip_module(key) or key
    if key.startswith("classifier.1."):
        return "classifier." + key[len("classifier.1.") :]
    match = re.match(r"features\.(\d+)\.(.*)$", key)
    if not match:
        return key
    index, rest = int(match.group(1)), match.group(2)
    if index == 0:  # stem ConvBNReLU: 0 = conv, 1 = bn
        return {"0.weight": "conv_stem.weight"}.get(rest) or re.sub(r"^1\.", "bn1.", rest)
    if index == 18:  # final 1x1 ConvBNReLU
        return {"0.weight": "conv_head.weight"}.get(rest) or re.sub(r"^1\.", "bn2.", rest)
    stage = _MBV2_STAGE_OF_BLOCK[index - 1]
    first_of_stage = _MBV2_STAGE_OF_BLOCK.index(stage) + 1
    block = f"blocks.{stage}.{index - first_of_stage}."
    if index == 1:  # expansion 1: DepthwiseSeparable = conv_dw, bn1, conv_pw, bn2
        names = {"conv.0.0": "conv_dw", "conv.0.1": "bn1", "conv.1": "conv_pw", "conv.2": "bn2"}
    else:  # InvertedResidual = conv_pw, bn1, conv_dw, bn2, conv_pwl, bn3
        names = {
            "conv.0.0": "conv_pw",
            "conv.0.1": "bn1",
            "conv.1.0": "conv_dw",
            "conv.1.1": "bn2",
            "conv.2": "conv_pwl",
            "conv.3": "bn3",
        }
    module, _, param = rest.rpartition(".")
    if module not in names:
        return key
    return block + names[module] + "." + param


@dataclass(frozen=True)
class Layout:
    """How one family of original releases maps onto a timm architecture."""

    architecture: str
    map_key: Callable[[str], str | None]  # None drops the key
    description: str


LAYOUTS: dict[str, Layout] = {
    "torchvision_resnet": Layout(
        "resnet50",
        _strip_module,
        "torchvision ResNet state_dict, optionally wrapped and 'module.'-prefixed (DataParallel); "
        "timm's ResNet uses the same names",
    ),
    "robustness_library": Layout(
        "resnet50",
        _robustness_library,
        "MadryLab robustness checkpoint: keep 'module.model.*', drop attacker and normalizer copies",
    ),
    "torchvision_mobilenet_v2": Layout(
        "mobilenetv2_100",
        _torchvision_mobilenet_v2,
        "torchvision mobilenet_v2 state_dict renamed to timm mobilenetv2_100",
    ),
}


# --------------------------------------------------------------------------------------------------
# Download with checksum
# --------------------------------------------------------------------------------------------------


def direct_download_url(url: str) -> str:
    """Google Drive "view" links -> the direct download endpoint; other URLs unchanged."""
    match = re.match(r"https://drive\.google\.com/file/d/([\w-]+)", url)
    if match:
        return f"https://drive.usercontent.google.com/download?id={match.group(1)}&export=download&confirm=t"
    return url


def download_release(url: str, dest: Path, *, progress: bool = True) -> Path:
    """Copy ``url`` (https or file) to ``dest`` through a temporary file; nothing is left on failure."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + f".{os.getpid()}.incomplete")
    try:
        if url.startswith("file://"):
            source = Path(unquote(urlsplit(url).path))
            if not source.is_file():
                raise HubError(f"original release not found: {source}")
            shutil.copyfile(source, tmp)
        elif url.startswith("https://"):
            _http_download(direct_download_url(url), tmp, progress=progress)
        else:
            raise InvalidInputError(f"unsupported release URL {url!r} (https:// or file:// only)")
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _http_download(url: str, tmp: Path, *, progress: bool) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                tmp.open("wb") as out,
                tqdm(
                    total=total, unit="B", unit_scale=True, desc=tmp.name.split(".")[0], disable=not progress
                ) as bar,
            ):
                while block := response.read(1 << 20):
                    out.write(block)
                    bar.update(len(block))
    except OSError as err:  # URLError, HTTPError, timeouts, resets
        raise HubError(f"cannot download the original release from {url.split('?')[0]}: {err}") from None


def check_digests(path: Path, *, sha256: str | None, md5: str | None, sha256_prefix: str | None) -> str:
    """The file's sha256, after checking it against every published digest."""
    actual = sha256_file(path)
    if sha256 and actual != sha256:
        raise ChecksumError(f"{path.name}: sha256 {actual} does not match the published {sha256}")
    if sha256_prefix and not actual.startswith(sha256_prefix):
        raise ChecksumError(
            f"{path.name}: sha256 {actual[:12]}… does not start with the published {sha256_prefix}"
        )
    if md5:
        digest = hashlib.md5(usedforsecurity=False)
        with path.open("rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != md5:
            raise ChecksumError(f"{path.name}: md5 {digest.hexdigest()} does not match the published {md5}")
    return actual


# --------------------------------------------------------------------------------------------------
# Safe unpickling and key mapping
# --------------------------------------------------------------------------------------------------


def load_pickle_safely(path: Path) -> Any:
    """``torch.load(weights_only=True)``: refuses any pickle that needs more than tensors and containers."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UnsafeFileError(
            f"{path.name}: refused to unpickle (weights_only=True allows plain tensors only): {first_line}"
        ) from None
    except (RuntimeError, EOFError, ValueError) as err:
        raise InvalidInputError(f"{path.name}: not a readable PyTorch checkpoint ({err})") from None


def unwrap_state_dict(obj: Any) -> dict[str, Any]:
    """Descend through ``{"state_dict": ...}``-style wrappers to the mapping of tensors."""
    import torch

    for _ in range(4):
        if not isinstance(obj, Mapping):
            break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    raise InvalidInputError(
        "checkpoint holds no state_dict of tensors (looked under " + ", ".join(WRAPPER_KEYS) + ")"
    )


def map_to_architecture(
    state_dict: Mapping[str, Any], layout: Layout, num_classes: int = 1000, *, architecture: str | None = None
) -> dict[str, Any]:
    """Rename with ``layout``; require a perfect, shape-exact match with timm's ``architecture``
    (default: the layout's)."""
    import timm
    import torch

    mapped: dict[str, Any] = {}
    for key, value in state_dict.items():
        new = layout.map_key(key)
        if new is None:
            continue
        if new in mapped:
            raise InvalidInputError(f"two checkpoint keys map to {new!r}")
        mapped[new] = value
    architecture = architecture or layout.architecture
    with torch.device("meta"):
        reference = timm.create_model(architecture, pretrained=False, num_classes=num_classes).state_dict()
    check_state_dict_matches(mapped, {k: tuple(v.shape) for k, v in reference.items()}, architecture)
    return {k: mapped[k].detach().to("cpu").contiguous() for k in reference}


def check_state_dict_matches(
    state_dict: Mapping[str, Any], expected_shapes: Mapping[str, tuple[int, ...]], architecture: str
) -> None:
    """Raise naming missing / unexpected keys and mismatched shapes."""
    missing = [k for k in expected_shapes if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected_shapes]
    wrong = [
        f"{k} {tuple(state_dict[k].shape)} != {expected_shapes[k]}"
        for k in expected_shapes
        if k in state_dict and tuple(state_dict[k].shape) != tuple(expected_shapes[k])
    ]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            shown = ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
            problems.append(f"{len(items)} {label}: {shown}")
    if problems:
        raise InvalidInputError(f"weights do not fit {architecture}: " + "; ".join(problems))


# --------------------------------------------------------------------------------------------------
# Writing timm's Hub format into the cache
# --------------------------------------------------------------------------------------------------


def timm_config(
    architecture: str, weights: Weights | None, num_classes: int, extra: Mapping[str, Any]
) -> dict:
    """The ``config.json`` timm writes next to ``model.safetensors`` (``save_config_for_hf``)."""
    from timm.models import get_pretrained_cfg

    default = get_pretrained_cfg(architecture)
    data = weights.data_config if weights else None
    pretrained_cfg: dict[str, Any] = {
        "tag": weights.tag if weights else "local",
        "custom_load": False,
        "input_size": list(data.input_size) if data else list(default.input_size),
        "fixed_input_size": bool(default.fixed_input_size),
        "interpolation": data.interpolation if data else default.interpolation,
        "crop_pct": data.crop_pct if data else default.crop_pct,
        "crop_mode": "center",
        "mean": list(data.mean) if data else list(default.mean),
        "std": list(data.std) if data else list(default.std),
        "num_classes": num_classes,
        "first_conv": default.first_conv,
        "classifier": default.classifier,
    }
    if default.pool_size:
        pretrained_cfg["pool_size"] = list(default.pool_size)
    if weights:
        pretrained_cfg["license"] = weights.provenance.license
    return {
        "architecture": architecture,
        "num_classes": num_classes,
        "pretrained_cfg": pretrained_cfg,
        **extra,
    }


def write_cache_snapshot(
    repo_id: str,
    files: Mapping[str, bytes | Path],
    *,
    cache_dir: Path | None = None,
    revision_seed: str,
) -> Path:
    """Lay ``files`` out as a snapshot of ``repo_id`` in the HF cache (blobs by sha256, relative
    symlinks, ``refs/main``) and return the snapshot folder. The commit id is derived from the
    content (``revision_seed`` + file digests): the same conversion always lands in the same place."""
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    repo_dir = cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    digests: dict[str, str] = {}
    for name, content in files.items():
        tmp = repo_dir / "blobs" / f".{name}.{os.getpid()}.incomplete"
        try:
            if isinstance(content, Path):
                shutil.copyfile(content, tmp)
            else:
                tmp.write_bytes(content)
            digest = sha256_file(tmp)
            tmp.replace(repo_dir / "blobs" / digest)
        finally:
            tmp.unlink(missing_ok=True)
        digests[name] = digest
    commit = hashlib.sha1(
        json.dumps([revision_seed, sorted(digests.items())]).encode(), usedforsecurity=False
    ).hexdigest()
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    for name, digest in digests.items():
        link = snapshot / name
        tmp_link = snapshot / f".{name}.{os.getpid()}.link"
        tmp_link.unlink(missing_ok=True)
        tmp_link.symlink_to(Path("..") / ".." / "blobs" / digest)
        tmp_link.replace(link)
    (repo_dir / "refs").mkdir(exist_ok=True)
    ref_tmp = repo_dir / "refs" / f".main.{os.getpid()}"
    ref_tmp.write_text(commit)
    ref_tmp.replace(repo_dir / "refs" / "main")
    return snapshot


def convert_release(
    checkpoint: Path,
    layout_name: str,
    *,
    repo_id: str,
    weights: Weights | None = None,
    source_info: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
) -> FetchedWeights:
    """Pickled release on disk -> verified timm snapshot in the cache."""
    from safetensors.torch import save_file

    if layout_name not in LAYOUTS:
        raise InvalidInputError(f"unknown layout {layout_name!r}; known: {', '.join(sorted(LAYOUTS))}")
    layout = LAYOUTS[layout_name]
    # The entry's architecture wins (a layout's key map serves its whole family, e.g. every
    # torchvision-style ResNet); the strict key-and-shape match is what guarantees the fit.
    architecture = weights.architecture if weights else layout.architecture
    num_classes = weights.num_classes if weights else 1000
    state_dict = map_to_architecture(
        unwrap_state_dict(load_pickle_safely(checkpoint)), layout, num_classes, architecture=architecture
    )
    with tempfile.TemporaryDirectory(prefix="rzoo-convert-") as tmp:
        st_path = Path(tmp) / "model.safetensors"
        save_file(state_dict, str(st_path), metadata={"format": "pt"})
        config = timm_config(architecture, weights, num_classes, {"rzoo_source": dict(source_info or {})})
        snapshot = write_cache_snapshot(
            repo_id,
            {"config.json": (json.dumps(config, indent=2) + "\n").encode(), "model.safetensors": st_path},
            cache_dir=cache_dir,
            revision_seed=json.dumps(dict(source_info or {}), sort_keys=True),
        )
    weights_file = snapshot / "model.safetensors"
    return FetchedWeights(
        folder=snapshot,
        weights_file=weights_file,
        sha256=weights_file.resolve().name,
        repo_id=repo_id,
        revision=snapshot.name,
        weights=weights,
    )


def build_from_source(
    weights: Weights, *, progress: bool = True, cache_dir: Path | None = None
) -> FetchedWeights:
    """Download ``weights``' original release, check it, convert it, write it into the cache."""
    from huggingface_hub import constants

    source = weights.provenance.source
    if source is None:
        raise InvalidInputError(
            f"{weights.name} has no original release to build from; fetch it from the Hub"
        )
    cache = Path(cache_dir or constants.HF_HUB_CACHE)
    with tempfile.TemporaryDirectory(prefix="rzoo-source-", dir=_ensure_dir(cache)) as tmp:
        checkpoint = download_release(source.url, Path(tmp) / source.filename, progress=progress)
        return convert_source_release(checkpoint, weights, source, cache_dir=cache)


def convert_source_release(
    checkpoint: Path, weights: Weights, source: SourceRelease, *, cache_dir: Path | None
) -> FetchedWeights:
    """``weights``' original release ``source``, on disk at ``checkpoint``: digests checked, then converted.

    The snapshot's ``rzoo_source`` records where the release came from and its sha256.
    """
    original_sha256 = check_digests(
        checkpoint, sha256=source.sha256, md5=source.md5, sha256_prefix=source.sha256_prefix
    )
    return convert_release(
        checkpoint,
        source.layout,
        repo_id=weights.hub.repo_id,
        weights=weights,
        source_info={
            "url": source.url.split("?")[0],
            "filename": source.filename,
            "sha256": original_sha256,
            "layout": source.layout,
        },
        cache_dir=cache_dir,
    )


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path

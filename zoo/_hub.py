"""Fetch weights from the Hugging Face Hub into the standard cache, verified.

Downloads go through ``huggingface_hub.hf_hub_download`` so the cache is the one every HF tool shares
(``HF_HOME`` / ``HF_HUB_CACHE``), the endpoint is ``HF_ENDPOINT``, ``HF_TOKEN`` authenticates and
``HF_HUB_OFFLINE=1`` resolves from the cache only. The library writes each file to a temporary name
and renames it into ``blobs/``, so a failed download leaves no partial file.

Every weights file is then verified: its sha256 must equal the sha256 the Hub advertised for it (the
LFS etag, which the library also uses as the blob's name) and the registry's pin when there is one.
A mismatch deletes the blob and its snapshot link and raises :class:`ChecksumError`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from zoo._registry import Weights, get_weights, is_registered
from zoo.errors import ChecksumError, HubError, InvalidInputError, UnsafeFileError

HF_HUB_PREFIX = "hf-hub:"
WEIGHTS_FILENAME = "model.safetensors"
CONFIG_FILENAME = "config.json"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class HubRef:
    """``hf-hub:ORG/NAME[@REV]``: any timm-format repo (config.json + model.safetensors)."""

    repo_id: str
    revision: str | None = None


@dataclass(frozen=True)
class FetchedWeights:
    """A verified snapshot folder in the HF cache (or a converted one, see ``zoo._convert``)."""

    folder: Path
    weights_file: Path
    sha256: str
    repo_id: str
    revision: str  # the commit sha of the snapshot
    weights: Weights | None = None  # the registry entry, when fetched by name


def parse_hub_ref(ref: str) -> HubRef:
    """``hf-hub:ORG/NAME[@REV]`` -> :class:`HubRef`; anything malformed raises InvalidInputError."""
    body = ref[len(HF_HUB_PREFIX) :] if ref.startswith(HF_HUB_PREFIX) else ref
    repo_id, _, revision = body.partition("@")
    if not _REPO_ID_RE.match(repo_id) or (ref.count("@") > 1) or (_ and not revision):
        raise InvalidInputError(f"{ref!r} is not of the form hf-hub:ORG/NAME[@REVISION]")
    return HubRef(repo_id=repo_id, revision=revision or None)


def fetch(
    ref: str,
    *,
    revision: str | None = None,
    from_source: bool = False,
    progress: bool = True,
) -> FetchedWeights:
    """Download (or find in the cache) and verify the weights ``ref`` names.

    ``ref`` is a registry name or alias, or ``hf-hub:ORG/NAME[@REV]``. ``revision`` overrides the
    registry pin / the ``@REV``. ``from_source`` builds unpublished registry entries from their
    original release (``zoo._convert``) instead of downloading safetensors.
    """
    if ref.startswith(HF_HUB_PREFIX):
        hub = parse_hub_ref(ref)
        if from_source:
            raise InvalidInputError("--from-source needs a registry name, not an hf-hub: reference")
        return _fetch_repo(hub.repo_id, revision or hub.revision, pinned_sha256=None, progress=progress)
    weights = get_weights(ref)  # unknown names raise with the closest suggestions
    if from_source:
        from zoo._convert import build_from_source

        return build_from_source(weights, progress=progress)
    pin = weights.hub.sha256 if revision is None else None  # a pin belongs to the pinned revision
    if not weights.hub.is_published:
        cached = _cached_snapshot(weights.hub.repo_id, revision or "main", weights)
        if cached is not None:
            return cached
        raise HubError(
            f"{weights.name} is not on the Hub yet ({weights.hub.repo_id}); build it from the original "
            f"release with: rzoo fetch {weights.name} --from-source"
        )
    fetched = _fetch_repo(
        weights.hub.repo_id,
        revision or weights.hub.revision,
        pinned_sha256=pin,
        progress=progress,
        filename=weights.hub.filename,
    )
    return FetchedWeights(**{**fetched.__dict__, "weights": weights})


def resolve_local(ref: str) -> Path | None:
    """The folder ``ref`` names if it is an existing directory that is not also a registry name."""
    if ref.startswith(HF_HUB_PREFIX) or is_registered(ref):
        return None
    path = Path(ref).expanduser()
    return path if path.is_dir() else None


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------


def _fetch_repo(
    repo_id: str,
    revision: str | None,
    *,
    pinned_sha256: str | None,
    progress: bool,
    filename: str = WEIGHTS_FILENAME,
) -> FetchedWeights:
    from huggingface_hub import hf_hub_download

    revision = revision or "main"
    tqdm_class = None if progress else _silent_tqdm()
    config = _download(hf_hub_download, repo_id, CONFIG_FILENAME, revision, tqdm_class, required=False)
    weights_path = _download(hf_hub_download, repo_id, filename, revision, tqdm_class, required=True)
    assert weights_path is not None
    sha256 = verify_cached_weights(weights_path, pinned_sha256=pinned_sha256)
    folder = weights_path.parent
    if config is not None and config.parent != folder:  # same snapshot: both resolved at one commit
        raise HubError(f"{repo_id}@{revision} changed while downloading; run the command again")
    return FetchedWeights(
        folder=folder, weights_file=weights_path, sha256=sha256, repo_id=repo_id, revision=folder.name
    )


def _download(hf_hub_download, repo_id: str, filename: str, revision: str, tqdm_class, *, required: bool):
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}@{revision}"
    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, tqdm_class=tqdm_class))
    except GatedRepoError:
        raise HubError(f"{where} is gated: accept its terms on the Hub and set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise HubError(
            f"repository {repo_id} not found on {constants.ENDPOINT} (private or gated repos need HF_TOKEN)"
        ) from None
    except RevisionNotFoundError:
        raise HubError(f"revision {revision!r} not found in {repo_id}") from None
    except LocalEntryNotFoundError:
        if not required:  # an optional file: the weights download reports the real condition
            return None
        if constants.HF_HUB_OFFLINE:
            raise HubError(f"offline (HF_HUB_OFFLINE=1) and {where}/{filename} is not in the cache") from None
        raise HubError(
            f"cannot reach the Hub at {constants.ENDPOINT} and {where}/{filename} is not in the cache"
        ) from None
    except EntryNotFoundError:  # after LocalEntryNotFoundError, its subclass
        if not required:
            return None
        raise HubError(f"{where} has no {filename} (rzoo loads safetensors only)") from None
    except HfHubHTTPError as err:
        status = err.response.status_code if err.response is not None else "?"
        hint = " (check HF_TOKEN)" if status in (401, 403) else ""
        raise HubError(f"the Hub refused {where}/{filename}: HTTP {status}{hint}") from None
    except OSError as err:  # the library's size consistency check, disk errors
        raise HubError(f"download of {where}/{filename} failed: {err}") from None


def verify_cached_weights(path: Path, *, pinned_sha256: str | None) -> str:
    """Check a cached weights file against the Hub-advertised sha256 (its blob name) and the pin.

    On mismatch the blob and the snapshot link are removed, so the next fetch downloads again.
    """
    if path.suffix != ".safetensors":
        raise UnsafeFileError(f"{path.name}: rzoo loads .safetensors weights only")
    blob = path.resolve()
    advertised = blob.name
    if not SHA256_RE.match(advertised):
        _evict(path, blob)
        raise ChecksumError(
            f"{path.name} was not served as an LFS file, so the Hub advertised no sha256 to check it against"
        )
    actual = sha256_file(blob)
    for expected, what in (
        (advertised, "the sha256 the Hub advertised"),
        (pinned_sha256, "the registry pin"),
    ):
        if expected is not None and actual != expected:
            _evict(path, blob)
            raise ChecksumError(
                f"{path.name} is corrupt: sha256 {actual[:12]}… does not match {what} {expected[:12]}…; "
                "removed from the cache"
            )
    return actual


def _evict(link: Path, blob: Path) -> None:
    link.unlink(missing_ok=True)
    if blob != link:
        blob.unlink(missing_ok=True)


def _cached_snapshot(repo_id: str, revision: str, weights: Weights | None) -> FetchedWeights | None:
    """A snapshot already in the cache (downloaded or converted earlier), verified, else None."""
    from huggingface_hub import try_to_load_from_cache

    filename = weights.hub.filename if weights else WEIGHTS_FILENAME
    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    if not isinstance(found, str):
        return None
    path = Path(found)
    sha256 = verify_cached_weights(path, pinned_sha256=weights.hub.sha256 if weights else None)
    return FetchedWeights(
        folder=path.parent,
        weights_file=path,
        sha256=sha256,
        repo_id=repo_id,
        revision=path.parent.name,
        weights=weights,
    )


def _silent_tqdm():
    """A tqdm class that draws nothing (``progress=False``)."""
    from tqdm.auto import tqdm

    class SilentTqdm(tqdm):
        def __init__(self, *args, **kwargs) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return SilentTqdm

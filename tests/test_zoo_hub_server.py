"""The local Hub fixture speaks the Hub's download API well enough for the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.hub_server import LocalHub

WEIGHTS = os.urandom(4096)
CONFIG = b'{"architecture": "resnet18", "num_classes": 10}'


def _cache_repo(cache: Path, repo_id: str) -> Path:
    return cache / ("models--" + repo_id.replace("/", "--"))


def test_download_builds_the_standard_cache_layout(local_hub: LocalHub, tmp_path: Path) -> None:
    sha = local_hub.add_repo("org/net", {"model.safetensors": WEIGHTS, "config.json": CONFIG})
    path = Path(hf_hub_download("org/net", "model.safetensors"))
    repo_dir = _cache_repo(tmp_path / "hf-cache", "org/net")
    # LFS file: the blob is named by its sha256; snapshot entry is a relative symlink; refs/main = commit.
    blob = repo_dir / "blobs" / hashlib.sha256(WEIGHTS).hexdigest()
    assert path == repo_dir / "snapshots" / sha / "model.safetensors"
    assert path.is_symlink() and path.resolve() == blob.resolve() and blob.read_bytes() == WEIGHTS
    assert (repo_dir / "refs" / "main").read_text() == sha
    # Regular file: the blob is named by its git sha1.
    cfg = Path(hf_hub_download("org/net", "config.json"))
    git_sha1 = hashlib.sha1(b"blob %d\0" % len(CONFIG) + CONFIG).hexdigest()
    assert cfg.resolve() == (repo_dir / "blobs" / git_sha1).resolve()


def test_cached_file_is_not_downloaded_again_and_resolves_offline(
    local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_hub.add_repo("org/net", {"model.safetensors": WEIGHTS})
    first = hf_hub_download("org/net", "model.safetensors")
    second = hf_hub_download("org/net", "model.safetensors")
    assert first == second and len(local_hub.downloads("model.safetensors")) == 1
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert hf_hub_download("org/net", "model.safetensors") == first


def test_snapshot_download_info_and_tree(local_hub: LocalHub) -> None:
    sha = local_hub.add_repo("org/net", {"model.safetensors": WEIGHTS, "sub/dir/x.txt": b"x"})
    folder = Path(snapshot_download("org/net"))
    assert folder.name == sha and (folder / "sub" / "dir" / "x.txt").read_bytes() == b"x"
    api = HfApi()
    info = api.model_info("org/net", files_metadata=True)
    assert info.sha == sha
    lfs = {s.rfilename: s.lfs for s in info.siblings}
    assert lfs["model.safetensors"].sha256 == hashlib.sha256(WEIGHTS).hexdigest()
    assert lfs["sub/dir/x.txt"] is None
    top = {f.path for f in api.list_repo_tree("org/net")}
    assert top == {".gitattributes", "model.safetensors", "sub"}
    deep = {f.path: f for f in api.list_repo_tree("org/net", recursive=True)}
    assert {"sub", "sub/dir", "sub/dir/x.txt"} <= set(deep)
    assert deep["model.safetensors"].lfs.size == len(WEIGHTS)


def test_revisions_tags_and_commits(local_hub: LocalHub) -> None:
    first = local_hub.add_repo("org/net", {"model.safetensors": b"v1" * 100})
    local_hub.store.tag("org/net", "v1.0")
    second = local_hub.store.commit("org/net", {"model.safetensors": b"v2" * 100})
    assert first != second
    assert Path(hf_hub_download("org/net", "model.safetensors", revision=first)).read_bytes() == b"v1" * 100
    assert Path(hf_hub_download("org/net", "model.safetensors", revision="v1.0")).read_bytes() == b"v1" * 100
    assert Path(hf_hub_download("org/net", "model.safetensors")).read_bytes() == b"v2" * 100
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download("org/net", "model.safetensors", revision="nope")


def test_errors_are_the_hubs(local_hub: LocalHub, monkeypatch: pytest.MonkeyPatch) -> None:
    local_hub.add_repo("org/net", {"model.safetensors": WEIGHTS})
    local_hub.add_repo("org/secret", {"model.safetensors": WEIGHTS}, private=True)
    local_hub.add_repo("org/gated", {"model.safetensors": WEIGHTS}, gated=True)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download("org/net", "missing.bin")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/absent", "model.safetensors")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("org/secret", "model.safetensors")
    with pytest.raises(GatedRepoError):
        hf_hub_download("org/gated", "model.safetensors")
    token = local_hub.add_token("hf_test_token")
    monkeypatch.setenv("HF_TOKEN", token)
    assert Path(hf_hub_download("org/secret", "model.safetensors")).read_bytes() == WEIGHTS
    assert Path(hf_hub_download("org/gated", "model.safetensors")).read_bytes() == WEIGHTS
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(huggingface_hub.errors.HfHubHTTPError, match="401"):
        HfApi().model_info("org/net")


def test_stopped_server_is_a_network_failure(local_hub: LocalHub) -> None:
    local_hub.add_repo("org/net", {"model.safetensors": WEIGHTS})
    local_hub.stop()
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download("org/net", "model.safetensors")


def test_corrupt_serves_flipped_bytes_with_the_original_digest(local_hub: LocalHub) -> None:
    local_hub.add_repo("org/net", {"model.safetensors": WEIGHTS})
    local_hub.store.corrupt("org/net", "model.safetensors")
    path = Path(hf_hub_download("org/net", "model.safetensors"))
    # The client names the blob after the advertised sha256 without checking it: that is the zoo's job.
    assert path.resolve().name == hashlib.sha256(WEIGHTS).hexdigest()
    assert path.read_bytes() != WEIGHTS and len(path.read_bytes()) == len(WEIGHTS)


def test_timm_pretrained_from_hf_hub(local_hub: LocalHub, tmp_path: Path) -> None:
    import timm
    import torch
    from safetensors.torch import save_file

    model = timm.create_model("resnet18", num_classes=10)
    save_file(model.state_dict(), tmp_path / "model.safetensors")
    local_hub.add_repo(
        "org/tiny-resnet",
        {
            "model.safetensors": (tmp_path / "model.safetensors").read_bytes(),
            "config.json": b'{"architecture": "resnet18", "num_classes": 10, "pretrained_cfg": {}}',
        },
    )
    loaded = timm.create_model("hf-hub:org/tiny-resnet", pretrained=True)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key

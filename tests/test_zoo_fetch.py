"""``zoo.fetch`` / ``rzoo fetch`` against the local Hub through the real huggingface_hub client."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.hub_server import LocalHub
from tests.zoo_fixtures import temporary_entry, timm_repo_files
from zoo import fetch
from zoo.cli import app
from zoo.errors import ChecksumError, HubError, InvalidInputError, UnknownNameError

runner = CliRunner()


@pytest.fixture(scope="module")
def repo_files() -> dict[str, bytes]:
    return timm_repo_files(num_classes=10)


def _repo_dir(tmp_path: Path, repo_id: str) -> Path:
    return tmp_path / "hf-cache" / ("models--" + repo_id.replace("/", "--"))


def test_fetch_by_name_lays_out_the_cache_and_verifies(
    local_hub: LocalHub, tmp_path: Path, repo_files: dict[str, bytes]
) -> None:
    commit = local_hub.add_repo("org/tiny", repo_files)
    digest = hashlib.sha256(repo_files["model.safetensors"]).hexdigest()
    with temporary_entry("test_resnet.hubtest", repo_id="org/tiny", sha256=digest, aliases=("hubtest",)):
        fetched = fetch("hubtest", progress=False)
    repo_dir = _repo_dir(tmp_path, "org/tiny")
    assert fetched.folder == repo_dir / "snapshots" / commit and fetched.revision == commit
    assert fetched.sha256 == digest and fetched.weights.name == "test_resnet.hubtest"
    assert (repo_dir / "refs" / "main").read_text() == commit
    assert fetched.weights_file.is_symlink()
    assert fetched.weights_file.resolve() == repo_dir / "blobs" / digest
    assert (fetched.folder / "config.json").is_file()


def test_cached_fetch_works_offline_without_downloading_again(
    local_hub: LocalHub, repo_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    local_hub.add_repo("org/tiny", repo_files)
    first = fetch("hf-hub:org/tiny", progress=False)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    served = len(local_hub.requests)
    again = fetch("hf-hub:org/tiny", progress=False)
    assert again.folder == first.folder and len(local_hub.requests) == served


def test_hf_hub_ref_with_revision_and_revision_option(
    local_hub: LocalHub, repo_files: dict[str, bytes]
) -> None:
    old = local_hub.add_repo("org/tiny", repo_files)
    new_files = timm_repo_files(num_classes=10, seed=1)
    new = local_hub.store.commit("org/tiny", new_files)
    at_old = fetch(f"hf-hub:org/tiny@{old}", progress=False)
    latest = fetch("hf-hub:org/tiny", progress=False)
    assert at_old.revision == old and latest.revision == new
    assert at_old.sha256 == hashlib.sha256(repo_files["model.safetensors"]).hexdigest()
    assert latest.sha256 == hashlib.sha256(new_files["model.safetensors"]).hexdigest()
    assert fetch("hf-hub:org/tiny", revision=old, progress=False).folder == at_old.folder


def test_wrong_pin_is_rejected_and_evicted(
    local_hub: LocalHub, tmp_path: Path, repo_files: dict[str, bytes]
) -> None:
    local_hub.add_repo("org/tiny", repo_files)
    with (
        temporary_entry("test_resnet.pinned", repo_id="org/tiny", sha256="0" * 64),
        pytest.raises(ChecksumError, match=r"registry pin"),
    ):
        fetch("test_resnet.pinned", progress=False)
    repo_dir = _repo_dir(tmp_path, "org/tiny")
    assert not (repo_dir / "blobs" / hashlib.sha256(repo_files["model.safetensors"]).hexdigest()).exists()
    assert not any(p.name == "model.safetensors" for p in (repo_dir / "snapshots").rglob("*"))


def test_tampered_download_is_rejected_removed_and_refetched(
    local_hub: LocalHub, tmp_path: Path, repo_files: dict[str, bytes]
) -> None:
    local_hub.add_repo("org/tiny", repo_files)
    local_hub.store.corrupt("org/tiny", "model.safetensors")
    with pytest.raises(ChecksumError, match=r"advertised"):
        fetch("hf-hub:org/tiny", progress=False)
    digest = hashlib.sha256(repo_files["model.safetensors"]).hexdigest()
    repo_dir = _repo_dir(tmp_path, "org/tiny")
    assert not (repo_dir / "blobs" / digest).exists()
    assert not list((repo_dir / "blobs").glob("*.incomplete"))
    assert not any(p.name == "model.safetensors" for p in (repo_dir / "snapshots").rglob("*"))
    # The mirror is repaired: the next fetch downloads again and passes.
    local_hub.store.commit("org/tiny", {"model.safetensors": repo_files["model.safetensors"]})
    assert fetch("hf-hub:org/tiny", progress=False).sha256 == digest


def test_hub_errors_are_one_clear_line(local_hub: LocalHub, repo_files: dict[str, bytes]) -> None:
    local_hub.add_repo("org/tiny", {"config.json": repo_files["config.json"]})
    local_hub.add_repo("org/private", repo_files, private=True)
    local_hub.add_repo("org/gated", repo_files, gated=True)
    with pytest.raises(
        HubError, match=r"org/gated@main is gated: accept its terms on the Hub and set HF_TOKEN"
    ):
        fetch("hf-hub:org/gated", progress=False)
    with pytest.raises(HubError, match=r"has no model.safetensors"):
        fetch("hf-hub:org/tiny", progress=False)
    with pytest.raises(HubError, match=r"repository org/absent not found"):
        fetch("hf-hub:org/absent", progress=False)
    with pytest.raises(HubError, match=r"repository org/private not found.*HF_TOKEN"):
        fetch("hf-hub:org/private", progress=False)
    with pytest.raises(HubError, match=r"revision 'v9' not found"):
        fetch("hf-hub:org/tiny@v9", progress=False)
    with pytest.raises(InvalidInputError, match=r"hf-hub:ORG/NAME"):
        fetch("hf-hub:no-slash", progress=False)
    with pytest.raises(UnknownNameError, match=r"did you mean.*resnet50.augmix_in1k"):
        fetch("resnet50.augmixx_in1k", progress=False)


def test_token_opens_private_repos(
    local_hub: LocalHub, repo_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    local_hub.add_repo("org/private", repo_files, private=True)
    local_hub.add_repo("org/public", repo_files)
    monkeypatch.setenv("HF_TOKEN", local_hub.add_token("hf_rzoo_test"))
    assert fetch("hf-hub:org/private", progress=False).weights_file.is_file()
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(HubError, match=r"HTTP 401 \(check HF_TOKEN\)"):
        fetch("hf-hub:org/public", progress=False)


def test_offline_and_network_failures_name_the_cause(
    local_hub: LocalHub, repo_files: dict[str, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    local_hub.add_repo("org/tiny", repo_files)
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match=r"offline \(HF_HUB_OFFLINE=1\) and org/tiny@main/model.safetensors"):
        fetch("hf-hub:org/tiny", progress=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    local_hub.stop()
    with pytest.raises(HubError, match=r"cannot reach the Hub at http://127.0.0.1"):
        fetch("hf-hub:org/tiny", progress=False)
    assert not list((tmp_path / "hf-cache").rglob("*.incomplete"))


def test_unpublished_entry_without_conversion_says_how_to_build_it() -> None:
    with pytest.raises(HubError, match=r"not on the Hub yet.*rzoo fetch resnet50.prime_in1k --from-source"):
        fetch("prime", progress=False)


def test_cli_fetch_prints_the_folder_and_errors_in_one_line(
    local_hub: LocalHub, repo_files: dict[str, bytes]
) -> None:
    commit = local_hub.add_repo("org/tiny", repo_files)
    result = runner.invoke(app, ["fetch", "hf-hub:org/tiny", "--quiet"])
    assert result.exit_code == 0, result.output
    folder = Path(result.stdout.strip())
    assert folder.name == commit and (folder / "model.safetensors").is_file()
    bad = runner.invoke(app, ["fetch", "hf-hub:org/nope"])
    assert bad.exit_code == 1
    assert bad.stderr.strip().count("\n") == 0 and bad.stderr.startswith(
        "error: repository org/nope not found"
    )
    unknown = runner.invoke(app, ["fetch", "swin_tt"])
    assert unknown.exit_code == 1 and "did you mean" in unknown.stderr and "swin_t" in unknown.stderr


def test_cli_fetch_real_subprocess_uses_the_environment(
    local_hub: LocalHub, repo_files: dict[str, bytes], tmp_path: Path
) -> None:
    commit = local_hub.add_repo("org/tiny", repo_files)
    # HF_ENDPOINT comes from the fixture; the cache from HF_HOME alone (<HF_HOME>/hub).
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_CACHE"} | {"HF_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "fetch", f"hf-hub:org/tiny@{commit}", "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == tmp_path / "home" / "hub" / "models--org--tiny" / "snapshots" / commit
    offline = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "fetch", "hf-hub:org/other"],
        capture_output=True,
        text=True,
        env={**env, "HF_HUB_OFFLINE": "1"},
        timeout=120,
    )
    assert offline.returncode == 1
    assert offline.stderr.strip() == (
        "error: offline (HF_HUB_OFFLINE=1) and org/other@main/model.safetensors is not in the cache"
    )

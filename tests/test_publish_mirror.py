"""``hub_upload.py mirror``: original (pickled) release -> safetensors + card -> one Hub commit + pin."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from huggingface_hub import ModelCard

import hub_upload
import zoo
from tests.hub_server import LocalHub
from zoo import get_weights
from zoo._registry import (
    DataConfig,
    HubLocation,
    Provenance,
    ReferenceMetrics,
    SourceRelease,
    Weights,
    register,
    unregister,
)

NAME = "test_resnet.rzoo_mirror_in1k"
ORG = "rzoo-test"
RELEASE = "test_resnet_release.pth.tar"


@pytest.fixture
def original_release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A registry entry whose original release is a DataParallel-style pickle of a tiny timm ResNet
    (``{"state_dict": {"module.*": tensor}, "epoch": ...}``), converted by a test layout."""
    import timm
    import torch

    from zoo import _convert

    monkeypatch.setitem(
        _convert.LAYOUTS,
        "test_resnet_dataparallel",
        _convert.Layout("test_resnet", _convert._strip_module, "test: module.-prefixed timm test_resnet"),
    )
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", num_classes=1000).eval()
    source_dir = tmp_path / "releases"
    source_dir.mkdir()
    state = {f"module.{k}": v for k, v in model.state_dict().items()}
    torch.save({"state_dict": state, "epoch": 90, "arch": "resnet50"}, source_dir / RELEASE)
    weights = register(
        Weights(
            name=NAME,
            architecture="test_resnet",
            recipe="a tiny stand-in for a robust ResNet-50 release",
            hub=HubLocation(repo_id=f"{ORG}/{NAME}", published=False),
            provenance=Provenance(
                paper="A Test Paper",
                paper_url="https://arxiv.org/abs/0000.00000",
                bibtex="@article{test2026, title={A Test Paper}, year={2026}}",
                license="apache-2.0",
                project_url="https://example.invalid/project",
                source=SourceRelease(
                    url="https://example.invalid/release", filename=RELEASE, layout="test_resnet_dataparallel"
                ),
            ),
            metrics=ReferenceMetrics(imagenet_c_mce=0.6, source="the test paper, Table 1"),
            data_config=DataConfig(input_size=(3, 64, 64), crop_pct=0.9, interpolation="bicubic"),
            num_params=sum(p.numel() for p in model.parameters()),
            tags=("robust",),
        )
    )
    yield weights, model, source_dir
    unregister(NAME)


def test_mirror_uploads_one_commit_and_prints_the_pin(
    local_hub: LocalHub, original_release, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    import timm
    import torch

    _, original, source_dir = original_release
    monkeypatch.setenv("HF_TOKEN", local_hub.add_token("hf_writer"))
    pins = tmp_path / "pins.json"
    argv = ["mirror", NAME, "--org", ORG, "--source-dir", str(source_dir), "--registry-out", str(pins)]
    assert hub_upload.main(argv) == 0
    out = capsys.readouterr().out
    repo = local_hub.store.get(f"{ORG}/{NAME}")
    head = repo.head()
    sha256 = head.files["model.safetensors"].sha256
    assert f"mirrored {NAME} to {ORG}/{NAME} at commit {head.sha}" in out
    assert f'hub=HubLocation(repo_id="{ORG}/{NAME}", revision="{head.sha}", sha256="{sha256}"),' in out
    assert json.loads(pins.read_text()) == {
        NAME: {"repo_id": f"{ORG}/{NAME}", "revision": head.sha, "sha256": sha256}
    }
    assert len(repo.commits) == 2 and set(head.files) == {
        ".gitattributes",
        "README.md",
        "config.json",
        "model.safetensors",
    }

    # the printed pin is what the zoo's verified fetch resolves
    fetched = zoo.fetch(f"hf-hub:{ORG}/{NAME}@{head.sha}", progress=False)
    assert (fetched.revision, fetched.sha256) == (head.sha, sha256)

    # timm loads the mirror and computes what the original network computes
    mirrored = timm.create_model(f"hf-hub:{ORG}/{NAME}", pretrained=True).eval()
    assert (
        mirrored.pretrained_cfg["interpolation"] == "bicubic" and mirrored.pretrained_cfg["crop_pct"] == 0.9
    )
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():
        assert torch.equal(mirrored(x), original(x))

    card = ModelCard.load(f"{ORG}/{NAME}")
    assert card.data.license == "apache-2.0" and card.data.eval_results is None
    assert "[`test_resnet_release.pth.tar`](https://example.invalid/release)" in card.text
    assert "| ImageNet-C mCE (%) | 60.0 |" in card.text

    # the same release again: no new commit, the same pin
    assert hub_upload.main(argv) == 0
    assert "already up to date" in capsys.readouterr().out
    assert len(repo.commits) == 2 and repo.head().sha == head.sha


def test_mirror_all_dry_run_writes_folders_and_reports_failures(
    local_hub: LocalHub, original_release, tmp_path: Path, capsys
) -> None:
    _, _, source_dir = original_release
    out_dir = tmp_path / "out"
    argv = ["mirror", "--all", "--include", "test_resnet.*", "--org", ORG, "--dry-run", str(out_dir)]
    assert hub_upload.main([*argv, "--source-dir", str(source_dir)]) == 0
    folder = out_dir / NAME
    assert {p.name for p in folder.iterdir()} == {"README.md", "config.json", "model.safetensors"}
    config = json.loads((folder / "config.json").read_text())
    assert config["architecture"] == "test_resnet" and config["pretrained_cfg"]["input_size"] == [3, 64, 64]
    assert local_hub.requests == []  # a dry run talks to nobody
    assert "dry run: wrote" in capsys.readouterr().out

    # a release missing from --source-dir: one clear line per model and a failing exit code
    assert hub_upload.main([*argv, "--source-dir", str(tmp_path / "empty")]) == 1
    err = capsys.readouterr().err
    assert f"error: {NAME}: {RELEASE} is not in" in err and "1 of 1 failed" in err
    assert (folder / "model.safetensors").is_file()  # the earlier dry-run folder is untouched


def test_mirror_refuses_entries_without_an_original_release(tmp_path: Path, capsys) -> None:
    assert get_weights("resnet50.tv_in1k").provenance.source is None
    assert (
        hub_upload.main(["mirror", "resnet50.tv_in1k", "--org", ORG, "--dry-run", str(tmp_path / "x")]) == 1
    )
    assert "has no original release to mirror" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

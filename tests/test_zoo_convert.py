"""``--from-source``: original releases in their real pickle layouts -> timm safetensors in the cache."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from tests.zoo_fixtures import TINY_ARCH, temporary_entry, tiny_state_dict
from zoo import create_model, fetch
from zoo._convert import LAYOUTS, direct_download_url, load_pickle_safely
from zoo._registry import SourceRelease
from zoo.cli import app
from zoo.errors import ChecksumError, HubError, InvalidInputError, UnsafeFileError


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test converts into its own empty cache (offline, as everywhere in the suite)."""
    import huggingface_hub.constants as constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def _source(path: Path, layout: str, **digests: str) -> SourceRelease:
    return SourceRelease(url=path.as_uri(), filename=path.name, layout=layout, note="test", **digests)


def _assert_converted(fetched, expected: dict[str, torch.Tensor], architecture: str = TINY_ARCH) -> None:
    from safetensors.torch import load_file

    converted = load_file(str(fetched.weights_file))
    assert set(converted) == set(expected)
    for key, value in expected.items():
        assert torch.equal(converted[key], value), key
    config = json.loads((fetched.folder / "config.json").read_text())
    assert config["architecture"] == architecture and config["num_classes"] == 1000
    assert (
        config["pretrained_cfg"]["interpolation"] == "bicubic" and config["pretrained_cfg"]["crop_pct"] == 0.9
    )
    assert config["rzoo_source"]["sha256"] and config["rzoo_source"]["layout"]
    repo_dir = fetched.folder.parent.parent
    assert (repo_dir / "refs" / "main").read_text() == fetched.folder.name
    assert fetched.weights_file.resolve() == repo_dir / "blobs" / fetched.sha256


@pytest.mark.parametrize(
    ("release", "wrap"),
    [
        # DeepAugment / AugMix / Stylized-ImageNet: torch.save({'state_dict': DataParallel keys, ...})
        (
            "deepaugment_and_augmix.pth.tar",
            lambda sd: {"epoch": 180, "arch": "resnet50", "state_dict": _prefixed(sd)},
        ),
        # Game of Noise (ANT): torch.save({'model_state_dict': plain keys, ...})
        ("ANT_SIN_Model.pth", lambda sd: {"model_state_dict": sd, "epoch": 120}),
        # PRIME: a bare state_dict with DataParallel keys
        ("ResNet50_ImageNet_PRIME_noJSD.ckpt", lambda sd: _prefixed(sd)),
    ],
)
def test_torchvision_style_releases_convert_exactly(tmp_path: Path, release: str, wrap) -> None:
    state_dict = tiny_state_dict(seed=3)
    original = tmp_path / release
    torch.save(wrap(state_dict), original)
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    with temporary_entry(
        f"{TINY_ARCH}.conv_test",
        published=False,
        source=_source(original, "torchvision_resnet", sha256=digest),
    ):
        fetched = fetch(f"{TINY_ARCH}.conv_test", from_source=True, progress=False)
        _assert_converted(fetched, state_dict)
        # Later loads resolve from the cache, offline, through both zoo and timm.
        model, data_config = create_model(f"{TINY_ARCH}.conv_test", pretrained=True)
        assert torch.equal(model.state_dict()["fc.weight"], state_dict["fc.weight"])
        assert data_config.interpolation == "bicubic"
        import timm

        via_timm = timm.create_model(f"hf-hub:org/{TINY_ARCH}.conv_test", pretrained=True)
        assert torch.equal(via_timm.state_dict()["fc.weight"], state_dict["fc.weight"])


def _prefixed(state_dict: dict, prefix: str = "module.") -> dict:
    return {prefix + k: v for k, v in state_dict.items()}


def test_robustness_library_checkpoint_with_the_real_resnet50(tmp_path: Path) -> None:
    """microsoft/robust-models-transfer layout: the network under module.model., an attacker copy
    and the normalizer buffers alongside, plus optimizer/schedule entries."""
    import timm

    state_dict = timm.create_model("resnet50").state_dict()
    model_entry = {f"module.model.{k}": v for k, v in state_dict.items()}
    model_entry.update({f"module.attacker.model.{k}": v for k, v in state_dict.items()})  # shared storage
    model_entry["module.normalizer.new_mean"] = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    model_entry["module.normalizer.new_std"] = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    original = tmp_path / "resnet50_l2_eps3.ckpt"
    torch.save({"model": model_entry, "optimizer": {"state": {}}, "schedule": None, "epoch": 90}, original)
    with temporary_entry(
        "resnet50.l2_test",
        published=False,
        architecture="resnet50",
        source=_source(original, "robustness_library"),
    ):
        fetched = fetch("resnet50.l2_test", from_source=True, progress=False)
    _assert_converted(fetched, state_dict, architecture="resnet50")


def test_keys_that_do_not_fit_are_named(tmp_path: Path, isolated_cache: Path) -> None:
    state_dict = tiny_state_dict()
    state_dict.pop("layer1.0.conv1.weight")
    state_dict["layer9.extra.weight"] = torch.zeros(1)
    state_dict["fc.bias"] = torch.zeros(7)
    original = tmp_path / "broken.pth"
    torch.save({"state_dict": state_dict}, original)
    with (
        temporary_entry(
            f"{TINY_ARCH}.broken", published=False, source=_source(original, "torchvision_resnet")
        ),
        pytest.raises(InvalidInputError) as err,
    ):
        fetch(f"{TINY_ARCH}.broken", from_source=True, progress=False)
    message = str(err.value)
    assert "1 missing: layer1.0.conv1.weight" in message
    assert "1 unexpected: layer9.extra.weight" in message
    assert "fc.bias (7,) != (1000,)" in message
    assert not isolated_cache.exists() or not list(isolated_cache.rglob("model.safetensors"))


def test_checksums_are_enforced_before_unpickling(tmp_path: Path, isolated_cache: Path) -> None:
    original = tmp_path / "release-deadbeef.pth"
    torch.save(tiny_state_dict(), original)
    digest = hashlib.sha256(original.read_bytes()).hexdigest()
    with (
        temporary_entry(
            f"{TINY_ARCH}.badsum",
            published=False,
            source=_source(original, "torchvision_resnet", sha256="f" * 64),
        ),
        pytest.raises(ChecksumError, match="does not match the published"),
    ):
        fetch(f"{TINY_ARCH}.badsum", from_source=True, progress=False)
    with (
        temporary_entry(
            f"{TINY_ARCH}.badprefix",
            published=False,
            source=_source(original, "torchvision_resnet", sha256_prefix="deadbeef"),
        ),
        pytest.raises(ChecksumError, match="does not start with the published deadbeef"),
    ):
        fetch(f"{TINY_ARCH}.badprefix", from_source=True, progress=False)
    assert not list(isolated_cache.rglob("model.safetensors"))
    with temporary_entry(
        f"{TINY_ARCH}.goodprefix",
        published=False,
        source=_source(original, "torchvision_resnet", sha256_prefix=digest[:8]),
    ):
        assert fetch(f"{TINY_ARCH}.goodprefix", from_source=True, progress=False).weights_file.is_file()


class _Exploit:
    """Unpickling this runs a shell command (what a hostile checkpoint would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("container", ["plain_pickle", "torch_zip"])
def test_malicious_pickle_is_refused_and_never_runs(
    tmp_path: Path, isolated_cache: Path, container: str
) -> None:
    marker = tmp_path / "pwned"
    original = tmp_path / "ANT_Model.pth"
    payload = {"model_state_dict": tiny_state_dict(), "hook": _Exploit(marker)}
    if container == "plain_pickle":
        original.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, original)
    with pytest.raises(UnsafeFileError, match="refused to unpickle"):
        load_pickle_safely(original)
    with temporary_entry(
        f"{TINY_ARCH}.evil", published=False, source=_source(original, "torchvision_resnet")
    ):
        result = CliRunner().invoke(app, ["fetch", f"{TINY_ARCH}.evil", "--from-source", "-q"])
    assert result.exit_code == 1
    assert (
        result.stderr.startswith("error: ANT_Model.pth: refused to unpickle")
        and result.stderr.count("\n") == 1
    )
    assert not marker.exists(), "the pickle's code ran"
    assert not list(isolated_cache.rglob("model.safetensors"))


def test_missing_release_and_bad_urls_are_clear(tmp_path: Path) -> None:
    with (
        temporary_entry(
            f"{TINY_ARCH}.gone", published=False, source=_source(tmp_path / "nope.pth", "torchvision_resnet")
        ),
        pytest.raises(HubError, match="original release not found"),
    ):
        fetch(f"{TINY_ARCH}.gone", from_source=True, progress=False)
    with pytest.raises(InvalidInputError, match="needs a registry name"):
        fetch("hf-hub:org/x", from_source=True)
    with pytest.raises(InvalidInputError, match="no original release"):
        fetch("swin_t", from_source=True)


def test_drive_view_links_become_direct_downloads() -> None:
    url = "https://drive.google.com/file/d/1z-1V3rdFiwqSECz7Wkmn4VJVefJGJGiF/view?usp=sharing"
    assert direct_download_url(url) == (
        "https://drive.usercontent.google.com/download?id=1z-1V3rdFiwqSECz7Wkmn4VJVefJGJGiF&export=download&confirm=t"
    )
    other = "https://zenodo.org/record/5801872/files/ResNet50_ImageNet_PRIME_noJSD.ckpt?download=1"
    assert direct_download_url(other) == other


def test_every_registry_source_names_a_known_layout() -> None:
    from zoo import get_weights, list_models

    for name in list_models():
        source = get_weights(name).provenance.source
        if source is not None:
            assert source.layout in LAYOUTS, name
            assert LAYOUTS[source.layout].architecture == get_weights(name).architecture, name

"""The weights registry: schema of every entry, names, aliases, duplicates, hints."""

from __future__ import annotations

import functools
import re

import pytest

import zoo
from zoo import get_weights, list_models, register
from zoo.errors import InvalidInputError, UnknownNameError

SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.mark.parametrize("name", list_models())
def test_entry_schema(name: str) -> None:
    w = get_weights(name)
    assert w.name == name and w.name.startswith(w.architecture + ".")
    assert w.recipe and w.provenance.paper and w.provenance.bibtex.startswith("@")
    assert w.provenance.paper_url.startswith("https://") and w.provenance.license
    c, h, wd = w.data_config.input_size
    assert c == 3 and h >= 32 and wd >= 32 and 0 < w.data_config.crop_pct <= 1
    assert w.data_config.interpolation in {"bilinear", "bicubic", "nearest"}
    assert all(0 < v < 1 for v in (*w.data_config.mean, *w.data_config.std))
    for metric in (w.metrics.imagenet_top1, w.metrics.imagenet_c_mce):
        assert metric is None or 0 < metric < 1.5
    if w.metrics.imagenet_top1 is not None or w.metrics.imagenet_c_mce is not None:
        assert w.metrics.source
    assert w.hub.repo_id.count("/") == 1 and w.hub.filename.endswith(".safetensors")
    if w.hub.sha256 is not None:
        assert SHA256.match(w.hub.sha256)
    if not w.hub.is_published:
        assert w.provenance.source is not None, "an entry must come from the Hub or an original release"
        assert w.hub.revision is None and w.hub.sha256 is None, "unpublished weights cannot be pinned"
    source = w.provenance.source
    if source is not None:
        assert source.url.startswith(("https://", "file://")) and source.filename and source.note
        for digest, length in ((source.sha256, 64), (source.md5, 32)):
            assert digest is None or re.fullmatch(f"[0-9a-f]{{{length}}}", digest)
    if w.hub.revision is not None:
        assert re.fullmatch(r"[0-9a-f]{40}", w.hub.revision), "pin a commit sha, not a branch"
    assert w.num_params > 0


@functools.cache
def _num_params(architecture: str, num_classes: int) -> int:
    import timm
    import torch

    with torch.device("meta"):  # shapes only: no memory, no init cost
        model = timm.create_model(architecture, pretrained=False, num_classes=num_classes)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list_models())
def test_entry_builds_its_architecture_with_the_stated_num_params(name: str) -> None:
    w = get_weights(name)
    assert _num_params(w.architecture, w.num_classes) == w.num_params


def test_every_backbone_of_the_paper_is_registered() -> None:
    names = set(list_models())
    paper = {
        "resnet50.tv_in1k",
        "resnet50.augmix_in1k",
        "resnet50.deepaugment_in1k",
        "resnet50.deepaugment_augmix_in1k",
        "resnet50.ant_in1k",
        "resnet50.ant_sin_in1k",
        "resnet50.sin_in1k",
        "resnet50.sin_in_in1k",
        "resnet50.sin_in_ft_in1k",
        "resnet50.prime_in1k",
        "resnet50.l2_eps0_1_in1k",
        "resnet50.l2_eps1_in1k",
        "resnet50.l2_eps3_in1k",
        "resnet50.l2_eps5_in1k",
        "swin_tiny_patch4_window7_224.ms_in1k",
        "convnext_tiny.fb_in1k",
        "deit_small_patch16_224.fb_in1k",
    }
    assert paper <= names
    assert get_weights("l2_eps0.1").name == "resnet50.l2_eps0_1_in1k"
    robust = [n for n in names if "robust" in get_weights(n).tags]
    assert robust and all(not get_weights(n).hub.is_published for n in robust)


def test_aliases_resolve() -> None:
    assert get_weights("swin_t").name == "swin_tiny_patch4_window7_224.ms_in1k"
    assert zoo.resolve_name("resnet50") == "resnet50.tv_in1k"


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(UnknownNameError, match=r"did you mean .*swin_t"):
        get_weights("swin_tt")


def test_duplicate_registration_raises() -> None:
    with pytest.raises(InvalidInputError, match="duplicate"):
        register(get_weights("resnet50.tv_in1k"))


def test_list_models_globs() -> None:
    assert "resnet50.tv_in1k" in list_models("resnet50*")
    assert not [n for n in list_models("*", exclude="resnet50*") if n.startswith("resnet50")]

"""A real pretrained ImageNet model end to end: the wheel's torchvision MobileNetV2, registered as a
local source, converted by the --from-source machinery, classified through create_model + its data config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

import zoo
from zoo._local import MOBILENET_V2_NAME

EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory: pytest.TempPathFactory):
    """Registered and converted once for this module, into a cache of its own."""
    import huggingface_hub.constants as constants

    cache = tmp_path_factory.mktemp("hf-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_CACHE", str(cache))
        weights = zoo.register_offline_mobilenet_v2()
        try:
            yield weights, cache, mp
        finally:
            from zoo._registry import unregister

            unregister(weights.name)


def _predict(model: torch.nn.Module, data_config: zoo.DataConfig, image) -> torch.Tensor:
    transform = zoo.eval_transform(data_config)
    with torch.no_grad():
        return model.eval()(transform(Image.fromarray(image)).unsqueeze(0))[0]


def test_chelsea_is_an_egyptian_cat_and_coffee_an_espresso(mobilenet) -> None:
    from skimage import data

    weights, _, _ = mobilenet
    model, data_config = zoo.create_model(MOBILENET_V2_NAME, pretrained=True)
    assert data_config == weights.data_config and data_config.interpolation == "bilinear"
    assert _predict(model, data_config, data.chelsea()).argmax().item() == EGYPTIAN_CAT
    assert _predict(model, data_config, data.coffee()).argmax().item() == ESPRESSO


def test_conversion_is_a_timm_snapshot_in_the_cache(mobilenet) -> None:
    weights, cache, _ = mobilenet
    fetched = zoo.fetch(MOBILENET_V2_NAME)  # not on any Hub: resolved from the converted snapshot
    repo_dir = cache / "models--local--mobilenetv2_100.tv_in1k"
    assert fetched.folder.parent == repo_dir / "snapshots"
    assert (repo_dir / "refs" / "main").read_text() == fetched.revision
    config = json.loads((fetched.folder / "config.json").read_text())
    assert config["architecture"] == "mobilenetv2_100" and config["num_classes"] == 1000
    # The published torch.hub prefix of the original file was checked before conversion.
    assert config["rzoo_source"]["sha256"].startswith("b0353104")
    assert weights.provenance.source.sha256_prefix == "b0353104"


@pytest.mark.usefixtures("mobilenet")
def test_load_checkpoint_and_plain_timm_agree() -> None:
    import timm
    from skimage import data

    loaded = zoo.load_checkpoint(MOBILENET_V2_NAME)
    assert loaded.kind == "classifier" and loaded.identity.source == "zoo"
    assert loaded.identity.architecture == "mobilenetv2_100" and len(loaded.identity.sha256) == 64
    via_timm = timm.create_model("hf-hub:local/mobilenetv2_100.tv_in1k", pretrained=True).eval()
    image = data.chelsea()
    ours = _predict(loaded.model, loaded.data_config, image)
    theirs = _predict(via_timm, loaded.data_config, image)
    assert torch.allclose(ours, theirs)


@pytest.mark.usefixtures("mobilenet")
def test_fine_tuning_head_and_features_keep_the_pretrained_backbone() -> None:
    model10, _ = zoo.create_model(MOBILENET_V2_NAME, pretrained=True, num_classes=10)
    full, _ = zoo.create_model(MOBILENET_V2_NAME, pretrained=True)
    assert model10.get_classifier().out_features == 10
    assert torch.equal(model10.conv_stem.weight, full.conv_stem.weight)
    features, _ = zoo.create_model(MOBILENET_V2_NAME, pretrained=True, features_only=True)
    assert torch.equal(features.conv_stem.weight, full.conv_stem.weight)
    assert features.feature_info.reduction() == [2, 4, 8, 16, 32]


def test_registration_is_idempotent(mobilenet) -> None:
    weights, _, _ = mobilenet
    assert zoo.register_offline_mobilenet_v2() is weights
    assert zoo.get_weights("mobilenet_v2_local").name == MOBILENET_V2_NAME


@pytest.mark.usefixtures("mobilenet")
def test_register_local_source_rejects_a_clash(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save({}, other)
    with pytest.raises(zoo.RzooError, match="already registered"):
        zoo.register_local_source(MOBILENET_V2_NAME, other, "torchvision_mobilenet_v2")

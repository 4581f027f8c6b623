"""Dense models (zoo.dense): build, freezing policy, channels-last backbones, on-disk round trip."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.finetune_fixtures import single_thread
from zoo.dense import (
    DenseModelConfig,
    MaskRCNNHeadConfig,
    UperNetHeadConfig,
    build_dense_model,
    load_dense_model,
    save_dense_model,
)
from zoo.dense.backbone import describe_backbone
from zoo.errors import InvalidInputError, UnsafeFileError


@pytest.fixture(autouse=True)
def _one_thread():
    yield from single_thread()


def _maskrcnn_config(arch: str = "test_resnet", **backbone) -> DenseModelConfig:
    b, norm = describe_backbone(arch, **backbone)
    return DenseModelConfig(
        head="maskrcnn",
        backbone=b,
        normalization=norm,
        num_classes=3,
        dataset="coco",
        maskrcnn=MaskRCNNHeadConfig(
            category_ids=(1, 7, 90),
            class_names=("person", "train", "toothbrush"),
            fpn_channels=16,
            min_size=96,
            max_size=128,
            train_min_sizes=(64, 96),
            box_detections_per_img=10,
        ),
    )


def _upernet_config(arch: str = "test_resnet", **backbone) -> DenseModelConfig:
    b, norm = describe_backbone(arch, **backbone)
    return DenseModelConfig(
        head="upernet",
        backbone=b,
        normalization=norm,
        num_classes=5,
        dataset="ade20k",
        upernet=UperNetHeadConfig(channels=16, aux_channels=8),
    )


def test_upernet_logits_at_input_resolution_for_sizes_not_divisible_by_32():
    torch.manual_seed(0)
    model = build_dense_model(_upernet_config()).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 45, 70))
    assert out.shape == (2, 5, 45, 70)
    assert torch.isfinite(out).all()


def test_upernet_loss_ignores_index_255():
    torch.manual_seed(0)
    model = build_dense_model(_upernet_config()).train()
    x = torch.randn(2, 3, 64, 64)
    all_ignored = torch.full((2, 64, 64), 255)
    losses = model.loss(x, all_ignored)
    assert set(losses) == {"loss_seg", "loss_aux"}
    assert torch.isnan(losses["loss_seg"])  # mean over zero valid pixels: nothing is counted
    target = torch.randint(0, 5, (2, 64, 64))
    losses = model.loss(x, target)
    assert 0.5 < losses["loss_seg"].item() < 5
    # The aux term is weighted 0.4: without the weight it equals plain cross-entropy of the aux head.
    model.eval()  # no dropout, so the two evaluations agree
    feats = model.backbone(x)
    aux_ce = torch.nn.functional.cross_entropy(
        torch.nn.functional.interpolate(model.aux_head(feats[2]), size=(64, 64), mode="bilinear"), target
    )
    model.train()
    for m in model.modules():
        if isinstance(m, (torch.nn.Dropout2d, torch.nn.BatchNorm2d)):
            m.eval()
    assert model.loss(x, target)["loss_aux"].item() == pytest.approx(0.4 * aux_ce.item(), rel=1e-5)


def test_swin_channels_last_maps_become_nchw_at_strides_4_to_32():
    config = _upernet_config("swin_tiny_patch4_window7_224")
    model = build_dense_model(config).eval()
    with torch.no_grad():
        feats = model.backbone(torch.randn(1, 3, 96, 128))
    assert model.backbone.channels_last
    assert [tuple(f.shape) for f in feats] == [
        (1, 96, 24, 32),
        (1, 192, 12, 16),
        (1, 384, 6, 8),
        (1, 768, 3, 4),
    ]


@pytest.mark.parametrize(
    ("arch", "frozen_stages", "frozen_prefixes", "trainable_prefixes"),
    [
        ("resnet10t", 1, ("conv1.", "bn1.", "layer1."), ("layer2.", "layer3.", "layer4.")),
        ("resnet10t", 0, ("conv1.", "bn1."), ("layer1.",)),
        (
            "swin_tiny_patch4_window7_224",
            2,
            ("patch_embed.", "layers_0.", "layers_1."),
            ("layers_2.", "layers_3."),
        ),
        ("mobilenetv2_100", 1, ("conv_stem.", "bn1.", "blocks.0.", "blocks.1."), ("blocks.2.", "blocks.6.")),
    ],
)
def test_frozen_stages_follow_mmdetection(arch, frozen_stages, frozen_prefixes, trainable_prefixes):
    model = build_dense_model(_maskrcnn_config(arch, frozen_stages=frozen_stages))
    params = dict(model.backbone.body.body.named_parameters())
    for name, param in params.items():
        if name.startswith(frozen_prefixes):
            assert not param.requires_grad, name
        if name.startswith(trainable_prefixes):
            assert param.requires_grad, name
    assert any(n.startswith(trainable_prefixes) for n in params)


def _bn_modes(module):
    return {n: m.training for n, m in module.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}


def test_norm_eval_keeps_every_backbone_batchnorm_in_eval_mode():
    model = build_dense_model(_maskrcnn_config("resnet10t", frozen_stages=1, norm_eval=True)).train()
    modes = _bn_modes(model.backbone.body)
    assert modes and not any(modes.values())
    assert model.roi_heads.training  # the heads do train
    # Frozen stage 1, trainable BN affine of stage 2 (norm_eval freezes statistics, not weights).
    assert model.backbone.body.body.layer2[0].bn1.weight.requires_grad


def test_fixed_segmentation_backbone_updates_bn_statistics_but_not_weights():
    config = _upernet_config("resnet10t", frozen_stages=4, frozen_norm_update=True)
    model = build_dense_model(config).train()
    body = model.backbone.body
    assert not any(p.requires_grad for p in body.parameters())
    assert all(_bn_modes(body).values())
    before = {k: v.clone() for k, v in body.state_dict().items()}
    model.loss(torch.randn(2, 3, 64, 64), torch.randint(0, 5, (2, 64, 64)))["loss_seg"].backward()
    after = body.state_dict()
    assert not torch.equal(before["bn1.running_mean"], after["bn1.running_mean"])
    assert torch.equal(before["conv1.0.weight"], after["conv1.0.weight"])
    # Without the flag the frozen backbone is in eval mode: statistics are left alone too.
    frozen = build_dense_model(_upernet_config("resnet10t", frozen_stages=4)).train()
    assert not any(_bn_modes(frozen.backbone.body).values())


def test_maskrcnn_eval_interface_and_round_trip(tmp_path):
    torch.manual_seed(0)
    model = build_dense_model(_maskrcnn_config()).eval()
    images = [torch.rand(3, 80, 120), torch.rand(3, 64, 64)]
    with torch.no_grad():
        before = model(images)
    assert len(before) == 2 and set(before[0]) == {"boxes", "labels", "scores", "masks"}
    assert before[0]["masks"].shape[-2:] == (80, 120)
    assert before[0]["labels"].numel() == 0 or int(before[0]["labels"].max()) <= 3
    folder = save_dense_model(model, tmp_path / "det")
    config_json = json.loads((folder / "config.json").read_text())
    assert config_json["rzoo_head"] == "maskrcnn"
    assert config_json["head"]["category_ids"] == [1, 7, 90]
    assert config_json["backbone"]["architecture"] == "test_resnet"
    loaded, config = load_dense_model(folder)
    assert config == model.dense_config
    assert not loaded.training
    with torch.no_grad():
        after = loaded(images)
    for a, b in zip(before, after, strict=True):
        for key in a:
            torch.testing.assert_close(a[key], b[key])


def test_maskrcnn_detections_do_not_depend_on_the_images_seen_before():
    """torchvision's RoI poolers guess their scales from the first images they see and keep them;
    a small image padded to 32 px (65 -> 96) made the guess stride 2 for the rest of the process."""
    config = replace(_maskrcnn_config(), maskrcnn=replace(_maskrcnn_config().maskrcnn, min_size=64))
    torch.manual_seed(0)
    state = build_dense_model(config).state_dict()
    small, large = torch.rand(3, 57, 56), torch.rand(3, 70, 90)
    outputs = {}
    for order in (("small", "large"), ("large", "small")):
        model = build_dense_model(config).eval()
        model.load_state_dict(state)
        with torch.no_grad():
            for name in order:
                (outputs[order, name],) = model([{"small": small, "large": large}[name]])
        pooler = model.roi_heads.box_roi_pool
        assert pooler.scales == [1 / 4, 1 / 8, 1 / 16, 1 / 32]
        assert (pooler.map_levels.k_min, pooler.map_levels.k_max) == (2, 5)
    for name in ("small", "large"):
        a, b = outputs[("small", "large"), name], outputs[("large", "small"), name]
        assert len(a["scores"]) > 0
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def test_load_names_missing_and_unexpected_keys(tmp_path):
    model = build_dense_model(_upernet_config())
    folder = save_dense_model(model, tmp_path / "seg")
    state = load_file(str(folder / "model.safetensors"))
    state["decode_head.extra.weight"] = torch.zeros(1)
    del state["decode_head.classifier.bias"]
    save_file(state, str(folder / "model.safetensors"))
    with pytest.raises(
        InvalidInputError,
        match=r"missing keys \[decode_head\.classifier\.bias\].*unexpected keys \[decode_head\.extra\.weight\]",
    ):
        load_dense_model(folder)


def test_load_refuses_pickles_and_unknown_heads(tmp_path):
    model = build_dense_model(_upernet_config())
    folder = save_dense_model(model, tmp_path / "seg")
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(UnsafeFileError, match="safetensors only"):
        load_dense_model(folder)
    data = json.loads((folder / "config.json").read_text())
    data["rzoo_head"] = "deeplab"
    (folder / "config.json").write_text(json.dumps(data))
    with pytest.raises(InvalidInputError, match="unknown rzoo_head 'deeplab'"):
        load_dense_model(folder)


def test_config_validation():
    b, _norm = describe_backbone("test_resnet")
    with pytest.raises(InvalidInputError, match="category_ids has 2 entries for 3 classes"):
        DenseModelConfig(
            head="maskrcnn", backbone=b, num_classes=3, maskrcnn=MaskRCNNHeadConfig(category_ids=(1, 2))
        )
    with pytest.raises(InvalidInputError, match="frozen_stages"):
        describe_backbone("test_resnet", frozen_stages=7)

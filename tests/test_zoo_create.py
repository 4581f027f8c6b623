"""``create_model`` and ``load_checkpoint``: references, strict loading, heads, features, refusals."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.hub_server import LocalHub
from tests.zoo_fixtures import TINY_ARCH, timm_repo_files, write_folder
from zoo import CreatedModel, create_model, load_checkpoint, to_nchw
from zoo.errors import InvalidInputError, UnknownNameError, UnsafeFileError
from zoo.safetensors_check import validate_safetensors


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write_folder(tmp_path / "tiny-timm", timm_repo_files(num_classes=10, seed=5))


def test_folder_ref_loads_strictly_with_its_data_config(folder: Path) -> None:
    created = create_model(str(folder), pretrained=True)
    assert isinstance(created, CreatedModel)
    model, data_config = created
    expected = load_file(str(folder / "model.safetensors"))
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key
    assert data_config.input_size == (3, 160, 160) and data_config.interpolation == "bicubic"
    assert data_config.crop_pct == 0.95 and data_config.mean == (0.5, 0.5, 0.5)


def test_new_head_when_num_classes_differs_and_backbone_kept(folder: Path) -> None:
    model, _ = create_model(folder, pretrained=True, num_classes=3)
    expected = load_file(str(folder / "model.safetensors"))
    assert model.get_classifier().out_features == 3
    assert torch.equal(model.state_dict()["layer1.0.conv1.weight"], expected["layer1.0.conv1.weight"])
    same, _ = create_model(folder, pretrained=True, num_classes=10)
    assert torch.equal(same.get_classifier().weight, expected["fc.weight"])


def test_pretrained_false_builds_the_architecture_only(folder: Path) -> None:
    model, _ = create_model(folder, pretrained=False, num_classes=4)
    assert model.get_classifier().out_features == 4
    assert not torch.equal(
        model.state_dict()["layer1.0.conv1.weight"],
        load_file(str(folder / "model.safetensors"))["layer1.0.conv1.weight"],
    )
    registry_model, registry_cfg = create_model("prime", pretrained=False)  # no download needed
    assert registry_model.default_cfg["architecture"] == "resnet50"
    assert registry_cfg.interpolation == "bilinear" and registry_cfg.crop_pct == 0.875


def test_features_only_loads_the_backbone_and_exposes_feature_info(folder: Path) -> None:
    features, data_config = create_model(folder, pretrained=True, features_only=True)
    expected = load_file(str(folder / "model.safetensors"))
    assert torch.equal(features.state_dict()["layer1.0.conv1.weight"], expected["layer1.0.conv1.weight"])
    maps = features(torch.randn(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == features.feature_info.channels()
    assert data_config.interpolation == "bicubic"


def test_swin_features_are_nhwc_and_to_nchw_fixes_them() -> None:
    swin, _ = create_model("swin_t", features_only=True, out_indices=(3,))
    assert str(swin.output_fmt).endswith("NHWC") and swin.feature_info.reduction() == [32]
    (nhwc,) = swin(torch.randn(1, 3, 224, 224))
    (nchw,) = to_nchw([nhwc], swin)
    assert nhwc.shape == (1, 7, 7, 768) and nchw.shape == (1, 768, 7, 7)
    assert torch.equal(nchw.permute(0, 2, 3, 1), nhwc)


def test_hf_hub_ref_through_the_local_hub(local_hub: LocalHub, tmp_path: Path) -> None:
    files = timm_repo_files(num_classes=10, seed=9)
    commit = local_hub.add_repo("org/tiny", files)
    model, _ = create_model(f"hf-hub:org/tiny@{commit}", pretrained=True, progress=False)
    (tmp_path / "w.safetensors").write_bytes(files["model.safetensors"])
    expected = load_file(str(tmp_path / "w.safetensors"))
    assert torch.equal(model.state_dict()["fc.weight"], expected["fc.weight"])
    loaded = load_checkpoint("hf-hub:org/tiny", progress=False)
    assert loaded.kind == "classifier" and not loaded.model.training
    assert loaded.identity.source == "hf-hub" and loaded.identity.revision == commit
    assert loaded.identity.name == "org/tiny" and loaded.identity.architecture == TINY_ARCH


def test_strict_load_names_missing_unexpected_and_misshapen(folder: Path) -> None:
    tensors = load_file(str(folder / "model.safetensors"))
    tensors.pop("layer1.0.bn1.weight")
    tensors["extra.weight"] = torch.zeros(2)
    tensors["fc.bias"] = torch.zeros(11)
    save_file(tensors, str(folder / "model.safetensors"))
    with pytest.raises(InvalidInputError) as err:
        create_model(folder, pretrained=True)
    message = str(err.value)
    assert "missing: layer1.0.bn1.weight" in message and "unexpected: extra.weight" in message
    assert "fc.bias (11,) != (10,)" in message


def test_load_checkpoint_folder_and_bare_safetensors(folder: Path) -> None:
    loaded = load_checkpoint(folder)
    assert loaded.kind == "classifier" and loaded.identity.source == "folder"
    assert loaded.identity.architecture == TINY_ARCH and len(loaded.identity.sha256) == 64
    assert not loaded.model.training
    bare = load_checkpoint(folder / "model.safetensors", arch=TINY_ARCH)
    assert bare.identity.source == "safetensors" and bare.identity.sha256 == loaded.identity.sha256
    assert bare.model.get_classifier().out_features == 10  # read from the header
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(bare.model(x), loaded.model(x))
    with pytest.raises(InvalidInputError, match="needs its architecture"):
        load_checkpoint(folder / "model.safetensors")
    with pytest.raises(InvalidInputError, match="is a test_resnet, not resnet50"):
        load_checkpoint(folder, arch="resnet50")


def test_pickles_and_unknown_things_are_refused(tmp_path: Path, folder: Path) -> None:
    for name in ("model.pth", "model.bin", "model.pt", "ckpt.pth.tar"):
        path = tmp_path / name
        path.write_bytes(b"not even read")
        with pytest.raises(UnsafeFileError, match="pickled checkpoints are never loaded"):
            load_checkpoint(path)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    with pytest.raises(UnsafeFileError, match="only pickled weights"):
        load_checkpoint(folder)
    with pytest.raises(UnknownNameError, match="did you mean"):
        load_checkpoint("resnet50.augmix_in1kk")


def test_only_timm_architectures_are_built(folder: Path) -> None:
    config = json.loads((folder / "config.json").read_text())
    config["architecture"] = "os.system"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnknownNameError, match=r"unknown timm architecture 'os\.system'"):
        create_model(folder, pretrained=True)


def test_onnx_is_returned_as_a_path_with_identity(tmp_path: Path) -> None:
    path = tmp_path / "net.onnx"
    path.write_bytes(b"onnx bytes")
    loaded = load_checkpoint(path)
    assert loaded.kind == "onnx" and loaded.model == path
    assert loaded.identity.source == "onnx" and loaded.identity.name == "net.onnx"
    assert loaded.identity.sha256 == hashlib.sha256(b"onnx bytes").hexdigest()


# --- safetensors header validation -------------------------------------------------------------


def _raw_safetensors(path: Path, header: dict, data: bytes, length: int | None = None) -> Path:
    blob = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(blob) if length is None else length) + blob + data)
    return path


def test_valid_file_header_is_read(folder: Path) -> None:
    header = validate_safetensors(folder / "model.safetensors")
    expected = load_file(str(folder / "model.safetensors"))
    assert set(header.tensors) == set(expected)
    assert header.tensors["fc.weight"].shape == tuple(expected["fc.weight"].shape)
    assert header.tensors["fc.weight"].dtype == "F32"
    assert header.metadata == {"format": "pt"}


@pytest.mark.parametrize(
    ("header", "data", "length", "problem"),
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, 10**9, "impossible"),
        (None, b"", None, "not valid UTF-8 JSON"),
        ({"a": {"dtype": "F99", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8, None, "unknown dtype"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 80]}}, b"\0" * 8, None, "outside"),
        ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8, None, "needs 12 bytes"),
        (
            {
                "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]},
            },
            b"\0" * 8,
            None,
            "overlaps",
        ),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, None, "gap"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, None, "cover 4 of 8"),
        ({"__metadata__": {"k": 1}}, b"", None, "strings"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b"", None, "invalid shape"),
    ],
)
def test_hostile_headers_are_refused(tmp_path: Path, header, data: bytes, length, problem: str) -> None:
    path = tmp_path / "evil.safetensors"
    if header is None:
        path.write_bytes(struct.pack("<Q", 4) + b"\xff\xfe{}" + data)
    else:
        _raw_safetensors(path, header, data, length)
    with pytest.raises(UnsafeFileError, match=problem):
        validate_safetensors(path)


def test_hostile_weights_in_a_folder_are_refused_before_loading(folder: Path) -> None:
    _raw_safetensors(
        folder / "model.safetensors",
        {"fc.weight": {"dtype": "F32", "shape": [10], "data_offsets": [0, 400]}},
        b"",
    )
    with pytest.raises(UnsafeFileError, match="outside"):
        load_checkpoint(folder)


def test_dense_folders_load_through_zoo_dense(tmp_path: Path) -> None:
    """A config.json with "rzoo_head" is a detection/segmentation model: zoo.dense loads it."""
    from zoo.dense import DenseModelConfig, UperNetHeadConfig, build_dense_model, save_dense_model
    from zoo.dense.backbone import describe_backbone

    backbone, normalization = describe_backbone(TINY_ARCH)
    config = DenseModelConfig(
        head="upernet",
        backbone=backbone,
        normalization=normalization,
        num_classes=5,
        dataset="ade20k",
        upernet=UperNetHeadConfig(channels=16, aux_channels=8),
    )
    folder = save_dense_model(build_dense_model(config).eval(), tmp_path / "seg")
    loaded = load_checkpoint(folder)
    assert loaded.kind == "dense" and loaded.data_config == config and not loaded.model.training
    assert loaded.identity.source == "folder" and loaded.identity.architecture == TINY_ARCH
    assert loaded.identity.sha256 == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()

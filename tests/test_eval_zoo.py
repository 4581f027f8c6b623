"""Checkpoints through zoo.load_checkpoint: a timm folder via `rzoo eval`, a UperNet folder via evaluate()."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from evaluator import EvalConfig, evaluate
from tests.evalkit import (
    reference_top1,
    write_ade20k,
    write_cifar10,
    write_cifar10_c,
    write_timm_folder,
    write_upernet_folder,
)
from zoo.cli import app


def test_timm_folder_checkpoint_through_the_cli(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=30)
    arrays = write_cifar10_c(tmp_path, images, labels, ["frost"])
    model = write_timm_folder(tmp_path / "ckpt", seed=3)
    out = tmp_path / "r.json"
    argv = ["eval", str(tmp_path / "ckpt"), "--task", "cifar10-c", "--data-root", str(tmp_path)]
    argv += [
        "--corruptions",
        "frost",
        "--severities",
        "2,4",
        "--out",
        str(out),
        "--quiet",
        "--format",
        "markdown",
    ]
    argv += ["--work-dir", str(tmp_path / "work")]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    saved = json.loads(out.read_text())
    assert saved["checkpoint"]["architecture"] == "test_resnet" and len(saved["checkpoint"]["sha256"]) == 64
    assert saved["metrics"]["top1"]["clean"] == pytest.approx(reference_top1(model, images, labels))
    for severity in (2, 4):
        rows = arrays["frost"][(severity - 1) * 30 : severity * 30]
        assert saved["metrics"]["top1"]["corrupted"]["frost"][str(severity)] == pytest.approx(
            reference_top1(model, rows, labels)
        )
    assert "| frost |" in res.output
    pickled = tmp_path / "model.pth"
    pickled.write_bytes(b"not really")
    refused = CliRunner().invoke(
        app, ["eval", str(pickled), "--task", "cifar10-c", "--data-root", str(tmp_path)]
    )
    assert refused.exit_code == 1 and "pickle" in refused.output


def test_upernet_folder_on_ade20k_matches_a_hand_loop(tmp_path) -> None:
    import torch
    import torch.nn.functional as F

    from evaluator.tasks.ade20k_c import confusion_matrix, keep_ratio_size, mean_iou
    from zoo.dense import load_dense_model

    write_upernet_folder(tmp_path / "seg", seed=0, test_scale=(96, 48))
    rng = np.random.default_rng(0)
    from tests.evalkit import cifar_images

    pics = list(cifar_images(2, seed=1, size=40))
    labels = [rng.integers(0, 151, (40, 40)).astype(np.uint8) for _ in pics]
    write_ade20k(tmp_path / "ade", pics, labels)
    cfg = EvalConfig(
        str(tmp_path / "seg"),
        "ade20k-c",
        tmp_path / "ade",
        corruptions=("brightness",),
        severities=(2,),
        progress=False,
    )
    result = evaluate(cfg)
    assert result.checkpoint.source == "folder" and result.primary_metric == "miou"

    from PIL import Image

    model, config = load_dense_model(tmp_path / "seg")
    norm = config.normalization
    base = tmp_path / "ade" / "ADEChallengeData2016"
    total = np.zeros((150, 150), np.int64)
    mean = torch.tensor(norm.mean).view(1, 3, 1, 1)
    std = torch.tensor(norm.std).view(1, 3, 1, 1)
    for k in range(2):
        stem = f"ADE_val_{k + 1:08d}"
        img = torch.from_numpy(np.array(Image.open(base / "images" / "validation" / f"{stem}.jpg"))).permute(
            2, 0, 1
        )
        lab = np.array(Image.open(base / "annotations" / "validation" / f"{stem}.png")).astype(np.int64) - 1
        lab[lab < 0] = 255
        x = F.interpolate(
            img[None].float(), size=keep_ratio_size(40, 40, (96, 48)), mode="bilinear", align_corners=False
        )
        with torch.inference_mode():
            logits = model((x / 255 - mean) / std)
        up = F.interpolate(logits, size=lab.shape, mode="bilinear", align_corners=False)
        total += confusion_matrix(lab, up.argmax(1)[0]).numpy()
    assert result.primary.clean == pytest.approx(mean_iou(total))


def test_rzoo_export_then_eval_the_onnx_file_gives_the_torch_numbers(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=16)
    write_cifar10_c(tmp_path, images, labels, ["snow"])
    write_timm_folder(tmp_path / "ckpt", seed=4)
    res = CliRunner().invoke(app, ["export", str(tmp_path / "ckpt"), "--onnx", str(tmp_path / "m.onnx")])
    assert res.exit_code == 0, res.output
    assert "onnx.checker ok" in res.output and "max |onnxruntime - torch|" in res.output
    diff = float(res.output.split("max |onnxruntime - torch| = ")[1].split()[0])
    assert diff < 1e-3
    results = {}
    for ref in (tmp_path / "ckpt", tmp_path / "m.onnx"):
        cfg = EvalConfig(
            str(ref), "cifar10-c", tmp_path, corruptions=("snow",), severities=(3,), progress=False
        )
        results[ref.suffix] = evaluate(cfg)
    torch_result, onnx_result = results[""], results[".onnx"]
    assert onnx_result.checkpoint.source == "onnx"
    assert onnx_result.manifest.preprocessing == torch_result.manifest.preprocessing  # travelled in metadata
    assert onnx_result.primary.clean == torch_result.primary.clean
    assert onnx_result.primary.corrupted == torch_result.primary.corrupted

"""ONNX: export parity, --runtime onnx gives the torch numbers, unsafe graphs are refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from evaluator import EvalConfig
from evaluator.engine import ModelUnderTest, evaluate_model
from evaluator.onnx_io import check_onnx_graph, export_onnx, load_onnx_file
from evaluator.results import CheckpointIdentity
from tests.evalkit import CIFAR_DATA_CONFIG, tiny_cnn, write_cifar10, write_cifar10_c
from zoo.cli import app
from zoo.errors import UnsafeFileError

IDENTITY = CheckpointIdentity(name="tiny-cnn", source="folder")


def test_export_is_checked_dynamic_and_matches_torch(tmp_path) -> None:
    import onnx
    import torch

    model = tiny_cnn()
    report = export_onnx(model, tmp_path / "m.onnx", (3, 32, 32), data_config=dict(CIFAR_DATA_CONFIG))
    assert report.max_abs_diff < 1e-4 and report.top1_agreement == 1.0
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session, digest = load_onnx_file(tmp_path / "m.onnx")
    for n in (1, 5):
        x = torch.randn(n, 3, 32, 32)
        (got,) = session.run(None, {"input": x.numpy()})
        with torch.inference_mode():
            assert np.abs(got - model(x).numpy()).max() < 1e-4
    assert len(digest) == 64


def test_runtime_onnx_and_onnx_checkpoint_give_torch_numbers(tmp_path) -> None:
    images, labels = write_cifar10(tmp_path, n=24)
    write_cifar10_c(tmp_path, images, labels, ["snow"])
    model = tiny_cnn(seed=2)
    mut = ModelUnderTest(model, CIFAR_DATA_CONFIG, "classifier", IDENTITY)
    common = {"corruptions": ("snow",), "severities": (2, 5), "progress": False, "batch_size": 8}
    torch_result = evaluate_model(mut, EvalConfig("t", "cifar10-c", tmp_path, **common))
    ort_result = evaluate_model(mut, EvalConfig("t", "cifar10-c", tmp_path, runtime="onnx", **common))
    assert ort_result.manifest.runtime.startswith("onnxruntime")
    assert ort_result.primary.clean == torch_result.primary.clean
    assert ort_result.primary.corrupted == torch_result.primary.corrupted

    # The exported file as the checkpoint, through the CLI: preprocessing travels in its metadata.
    export_onnx(model, tmp_path / "m.onnx", (3, 32, 32), data_config=dict(CIFAR_DATA_CONFIG))
    out = tmp_path / "r.json"
    argv = ["eval", str(tmp_path / "m.onnx"), "--task", "cifar10-c", "--data-root", str(tmp_path)]
    argv += ["--corruptions", "snow", "--severities", "2,5", "--quiet", "--out", str(out), "--format", "csv"]
    argv += ["--work-dir", str(tmp_path / "work")]
    res = CliRunner().invoke(app, argv)
    assert res.exit_code == 0, res.output
    saved = json.loads(out.read_text())
    assert saved["checkpoint"]["source"] == "onnx"
    assert saved["metrics"]["top1"]["clean"] == torch_result.primary.clean
    assert saved["metrics"]["top1"]["corrupted"]["snow"] == {
        "2": torch_result.primary.corrupted["snow"][2],
        "5": torch_result.primary.corrupted["snow"][5],
    }
    assert f"top1,clean,,,{torch_result.primary.clean}" in res.output


def test_custom_operator_domains_are_refused(tmp_path) -> None:
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Evil", ["x"], ["y"], domain="com.attacker")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.attacker", 1)]
    )
    with pytest.raises(UnsafeFileError, match=r"com\.attacker::Evil"):
        check_onnx_graph(proto)
    onnx.save(proto, str(tmp_path / "evil.onnx"))
    res = CliRunner().invoke(
        app, ["eval", str(tmp_path / "evil.onnx"), "--task", "cifar10-c", "--data-root", str(tmp_path)]
    )
    assert res.exit_code == 1 and "custom operators" in res.output

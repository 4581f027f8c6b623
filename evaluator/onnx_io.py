"""ONNX: export a torch classifier, refuse unsafe graphs, open an ONNX Runtime session.

- :func:`export_onnx` writes a single self-contained file with a dynamic batch axis
  (``torch.onnx.export``, TorchScript-based exporter), checks it with ``onnx.checker`` and compares
  ONNX Runtime's outputs with torch's on the same input (max absolute difference reported).
- :func:`check_onnx_graph` refuses graphs that use operators outside the standard domains
  (``""``/``ai.onnx``, ``ai.onnx.ml``): custom domains would need a custom-op library, i.e. native
  code shipped with the model.
- :func:`open_session` prefers CUDAExecutionProvider when ONNX Runtime offers it, else CPU.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.errors import InvalidInputError, UnsafeFileError

DATA_CONFIG_KEY = "rzoo.data_config"
STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})


@dataclass(frozen=True)
class ExportReport:
    path: Path
    opset: int
    max_abs_diff: float
    top1_agreement: float
    input_shape: tuple[int, ...]


def _load_proto(path: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as err:
        raise InvalidInputError(f"{path}: not a readable ONNX model ({err})") from err


def check_onnx_graph(model: Any, source: str = "model") -> None:
    """Raise UnsafeFileError when a node (in the graph, a subgraph or a local function) uses an
    operator outside the standard domains that is not one of the model's own local functions."""
    local = {(f.domain, f.name) for f in model.functions}
    custom: set[str] = set()

    def walk(nodes: Any) -> None:
        for node in nodes:
            if node.domain not in STANDARD_DOMAINS and (node.domain, node.op_type) not in local:
                custom.add(f"{node.domain}::{node.op_type}")
            for attr in node.attribute:
                if attr.HasField("g"):
                    walk(attr.g.node)
                for sub in attr.graphs:
                    walk(sub.node)

    walk(model.graph.node)
    for fn in model.functions:
        walk(fn.node)
    if custom:
        raise UnsafeFileError(
            f"{source}: ONNX graph uses custom operators {sorted(custom)}; refusing to run it"
        )


def open_session(path_or_bytes: Path | bytes, device: str = "cpu") -> Any:
    import onnxruntime as ort

    available = ort.get_available_providers()
    providers = ["CPUExecutionProvider"]
    if not device.startswith("cpu") and "CUDAExecutionProvider" in available:
        providers.insert(0, "CUDAExecutionProvider")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    target = str(path_or_bytes) if isinstance(path_or_bytes, Path) else path_or_bytes
    return ort.InferenceSession(target, sess_options=options, providers=providers)


def load_onnx_file(path: Path, device: str = "cpu") -> tuple[Any, str]:
    """A validated ONNX Runtime session for ``path`` and the file's sha256."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no such ONNX file: {path}")
    proto = _load_proto(path)
    if any(init.data_location == 1 for init in proto.graph.initializer):
        raise InvalidInputError(f"{path}: external-data ONNX files are not supported; export a single file")
    check_onnx_graph(proto, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return open_session(path, device), digest


def onnx_input_size(session: Any) -> tuple[int, int, int] | None:
    """(3, H, W) when the graph's input has static spatial dimensions."""
    shape = session.get_inputs()[0].shape
    if len(shape) == 4 and all(isinstance(d, int) for d in shape[1:]):
        return (int(shape[1]), int(shape[2]), int(shape[3]))
    return None


def read_data_config(path: Path, session: Any) -> dict[str, Any]:
    """The preprocessing stored at export (metadata ``rzoo.data_config``), else a default.

    The default is ImageNet mean/std at the graph's static input size, with timm's crop_pct 0.875
    at >= 128 px and no crop below (CIFAR-sized models).
    """
    stored = session.get_modelmeta().custom_metadata_map.get(DATA_CONFIG_KEY)
    if stored:
        try:
            config = json.loads(stored)
        except json.JSONDecodeError as err:
            raise InvalidInputError(f"{path}: malformed {DATA_CONFIG_KEY} metadata") from err
        if isinstance(config, dict):
            return config
    size = onnx_input_size(session) or (3, 224, 224)
    return {"input_size": size, "crop_pct": 0.875 if min(size[1:]) >= 128 else 1.0}


def export_onnx(
    model: Any,
    path: Path,
    input_size: tuple[int, int, int],
    *,
    opset: int = 17,
    batch_size: int = 2,
    seed: int = 0,
    data_config: dict[str, Any] | None = None,
) -> ExportReport:
    """Export ``model`` (a classifier) with a dynamic batch axis; verify it and compare with torch."""
    import numpy as np
    import onnx
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.eval()
    generator = torch.Generator().manual_seed(seed)
    example = torch.randn((batch_size, *input_size), generator=generator)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", DeprecationWarning
            )  # the TorchScript exporter: fast, still supported
            torch.onnx.export(
                model,
                (example,),
                str(tmp),
                input_names=["input"],
                output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=opset,
                dynamo=False,
            )
        proto = onnx.load(str(tmp))
        if data_config is not None:
            entry = proto.metadata_props.add()
            entry.key, entry.value = DATA_CONFIG_KEY, json.dumps(data_config)
            onnx.save(proto, str(tmp))
        onnx.checker.check_model(proto, full_check=True)
        check_onnx_graph(proto, str(path))
        session = open_session(tmp)
        probe = torch.randn((batch_size + 1, *input_size), generator=generator)  # a different batch size
        with torch.inference_mode():
            expected = model(probe).float().numpy()
        (got, *_) = session.run(None, {session.get_inputs()[0].name: probe.numpy()})
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    diff = float(np.abs(np.asarray(got) - expected).max())
    agreement = float((np.asarray(got).argmax(1) == expected.argmax(1)).mean())
    return ExportReport(path, opset, diff, agreement, tuple(probe.shape))

"""``rzoo export CKPT --onnx model.onnx``: a verified ONNX file with a dynamic batch axis."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export_command(
    checkpoint: Annotated[
        str, typer.Argument(help="Zoo name, hf-hub:ORG/NAME[@REV], folder or .safetensors.")
    ],
    onnx_path: Annotated[Path, typer.Option("--onnx", help="Where to write the .onnx file.")],
    arch: Annotated[str | None, typer.Option(help="Architecture of a bare .safetensors file.")] = None,
    opset: Annotated[int, typer.Option(help="ONNX opset.")] = 17,
) -> None:
    """Export a classifier; onnx.checker verifies it and ONNX Runtime's outputs are compared with torch."""
    import zoo
    from evaluator.onnx_io import export_onnx
    from evaluator.preprocessing import ClassifierPreprocessing
    from zoo.errors import InvalidInputError

    loaded = zoo.load_checkpoint(checkpoint, arch=arch)
    if loaded.kind != "classifier":
        raise InvalidInputError(f"only classifiers export to ONNX; {checkpoint} is a {loaded.kind} model")
    pre = ClassifierPreprocessing.from_data_config(loaded.data_config)
    report = export_onnx(
        loaded.model, onnx_path, (3, *pre.size), opset=opset, data_config=pre.to_data_config()
    )
    typer.echo(
        f"wrote {report.path} (opset {report.opset}, dynamic batch); onnx.checker ok; "
        f"max |onnxruntime - torch| = {report.max_abs_diff:.3g} on a batch of shape {list(report.input_shape)}, "
        f"top-1 agreement {100 * report.top1_agreement:.1f} %"
    )


def register(root: typer.Typer) -> None:
    root.command("export")(export_command)

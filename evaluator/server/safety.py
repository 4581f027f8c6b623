"""Checks on untrusted uploads: nothing here executes, unpickles or follows paths from the file.

* file names must be plain base names ending in ``.safetensors`` or ``.onnx``;
* pickles (``torch.save`` zips, raw pickle streams) are refused outright;
* a safetensors file must have a well-formed header whose tensors exactly tile the data section
  (``zoo.safetensors_check``; catches truncated and padded/oversized files);
* an ONNX model may use only the standard operator domains and no external-data references.
"""

from __future__ import annotations

import re
from pathlib import Path

from zoo.errors import UnsafeFileError

ALLOWED_SUFFIXES = (".safetensors", ".onnx")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")


def check_file_name(name: str) -> str:
    """The format (``safetensors`` | ``onnx``) of an upload's file name; refuses paths and other kinds."""
    if (
        not name
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or ".." in name
        or not _SAFE_NAME.match(name)
    ):
        raise UnsafeFileError(
            f"refused file name {name!r}: give a plain file name (no directories, '..' or special characters)"
        )
    lowered = name.lower()
    if lowered.endswith((".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".tar")):
        raise UnsafeFileError(
            f"refused {name!r}: pickled checkpoints are never loaded; convert it to .safetensors first"
        )
    for suffix in ALLOWED_SUFFIXES:
        if lowered.endswith(suffix):
            return suffix[1:]
    raise UnsafeFileError(f"refused {name!r}: upload a .safetensors or .onnx file")


def check_not_pickle(head: bytes) -> None:
    """Refuse ``torch.save`` archives (zip) and raw pickle streams by their magic bytes."""
    if head.startswith(b"PK\x03\x04"):
        raise UnsafeFileError("refused: a zip/torch.save archive (pickle); upload .safetensors instead")
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        raise UnsafeFileError("refused: a pickle stream; upload .safetensors instead")


def validate_safetensors(path: Path, display_name: str | None = None) -> None:
    """The zoo's header validator (``zoo.safetensors_check``): offsets, shapes and dtypes must tile
    the data section exactly, so truncated and padded (oversized) files are refused."""
    from zoo.safetensors_check import validate_safetensors as check_header

    with path.open("rb") as fh:
        check_not_pickle(fh.read(8))
    try:
        header = check_header(path)
    except UnsafeFileError as err:
        message = str(err).replace(path.name, display_name or "upload", 1)
        raise UnsafeFileError(f"refused safetensors: {message}") from None
    if not header.tensors:
        raise UnsafeFileError(f"refused safetensors: {display_name or 'upload'} holds no tensors")


def validate_onnx(path: Path) -> None:
    """Standard operator domains only (the evaluator's own check) and no external-data references
    (a path the server would read)."""
    with path.open("rb") as fh:
        check_not_pickle(fh.read(8))
    import onnx
    from onnx import TensorProto

    from evaluator.onnx_io import check_onnx_graph

    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception as err:  # protobuf raises DecodeError and friends
        raise UnsafeFileError(f"refused: not a valid ONNX model ({type(err).__name__})") from None
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for init in graph.initializer:
            if init.data_location == TensorProto.EXTERNAL:
                raise UnsafeFileError("refused: ONNX model references external data files")
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    graphs.append(attr.g)
                graphs.extend(attr.graphs)
    check_onnx_graph(model, source="refused upload")

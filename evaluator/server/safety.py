"""Checks on untrusted uploads: nothing here executes, unpickles or follows paths from the file.

* file names must be plain base names ending in ``.safetensors`` or ``.onnx``;
* pickles (``torch.save`` zips, raw pickle streams) are refused outright;
* a safetensors file must have a well-formed header whose tensors exactly tile the data section
  (catches truncated and padded/oversized files);
* an ONNX model may use only the standard operator domains and no external-data references.
"""

from __future__ import annotations

import json
import math
import re
import struct
from pathlib import Path

from zoo.errors import UnsafeFileError

ALLOWED_SUFFIXES = (".safetensors", ".onnx")
MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024
SAFETENSORS_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
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


def validate_safetensors(path: Path) -> dict[str, dict]:
    """Parse and check the header of a safetensors file; returns the tensor table."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        check_not_pickle(head)
        if len(head) < 8:
            raise UnsafeFileError("refused: truncated safetensors (shorter than its 8-byte header length)")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > MAX_SAFETENSORS_HEADER or header_len < 2:
            raise UnsafeFileError(f"refused: not a safetensors file (header length {header_len})")
        if 8 + header_len > size:
            raise UnsafeFileError("refused: truncated safetensors (the header runs past the end of the file)")
        raw = fh.read(header_len)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnsafeFileError(f"refused: safetensors header is not valid JSON ({err})") from None
    if not isinstance(header, dict):
        raise UnsafeFileError("refused: safetensors header is not a JSON object")
    data_len = size - 8 - header_len
    spans = []
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(isinstance(v, str) for v in info.values()):
                raise UnsafeFileError("refused: safetensors __metadata__ must map strings to strings")
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
            nbytes = SAFETENSORS_DTYPE_BYTES[dtype] * math.prod(int(d) for d in shape)
        except (KeyError, TypeError, ValueError):
            raise UnsafeFileError(f"refused: malformed safetensors entry for tensor {name!r}") from None
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start <= end):
            raise UnsafeFileError(f"refused: bad data offsets for tensor {name!r}")
        if end - start != nbytes:
            raise UnsafeFileError(f"refused: tensor {name!r} size does not match its shape and dtype")
        if end > data_len:
            raise UnsafeFileError(f"refused: truncated safetensors (tensor {name!r} ends past the file)")
        spans.append((start, end))
        tensors[name] = info
    spans.sort()
    cursor = 0
    for start, end in spans:
        if start != cursor:
            raise UnsafeFileError("refused: safetensors tensors overlap or leave gaps")
        cursor = end
    if cursor != data_len:
        raise UnsafeFileError(
            f"refused: safetensors has {data_len - cursor} bytes after its last tensor (oversized file)"
        )
    if not tensors:
        raise UnsafeFileError("refused: safetensors file holds no tensors")
    return tensors


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

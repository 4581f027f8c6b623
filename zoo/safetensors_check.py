"""Validate an untrusted ``.safetensors`` file's header before anything loads it.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length N,
N bytes of UTF-8 JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str:
str}}``, then the tensor bytes. A hostile file can lie in the header (a huge N, offsets past the end,
overlapping tensors, shapes that do not match the byte count); this module checks all of it with the
standard library only, so the server can run it on uploads without importing torch.

>>> header = validate_safetensors("model.safetensors")   # doctest: +SKIP
>>> header.tensors["fc.weight"].shape                     # doctest: +SKIP
(1000, 2048)
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import UnsafeFileError

# Bytes per element of every dtype safetensors defines (sub-byte float types are packed).
DTYPE_SIZES: dict[str, float] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
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
    "C64": 8,
    "F4": 0.5,
    "F6_E2M3": 0.75,
    "F6_E3M2": 0.75,
}
MAX_HEADER_BYTES = 100 * 1024 * 1024  # the reference implementation's limit


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    begin: int  # offsets into the data section (after the header)
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class SafetensorsHeader:
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    header_size: int  # the 8-byte prefix plus the JSON
    file_size: int


def validate_safetensors(path: str | Path) -> SafetensorsHeader:
    """Check ``path``'s header against its size; raise :class:`UnsafeFileError` naming the problem."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        prefix = f.read(8)
        if len(prefix) < 8:
            raise UnsafeFileError(f"{path.name}: not a safetensors file (shorter than 8 bytes)")
        (length,) = struct.unpack("<Q", prefix)
        if length > min(MAX_HEADER_BYTES, size - 8):
            raise UnsafeFileError(
                f"{path.name}: header length {length} is impossible for a file of {size} bytes"
            )
        header = f.read(length)
    return parse_header(header, size, name=path.name)


def parse_header(header: bytes, file_size: int, name: str = "file") -> SafetensorsHeader:
    """Validate the JSON header bytes of a safetensors file of ``file_size`` bytes."""
    try:
        raw = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UnsafeFileError(f"{name}: safetensors header is not valid UTF-8 JSON ({err})") from None
    if not isinstance(raw, dict):
        raise UnsafeFileError(f"{name}: safetensors header is not a JSON object")
    metadata = raw.pop("__metadata__", {}) or {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise UnsafeFileError(f"{name}: __metadata__ must map strings to strings")
    data_size = file_size - 8 - len(header)
    tensors: dict[str, TensorInfo] = {}
    for key, spec in raw.items():
        tensors[key] = _tensor_info(name, key, spec, data_size)
    # Tensors must tile the data section exactly: sorted by offset, no gap, no overlap, no tail.
    cursor = 0
    for key, info in sorted(tensors.items(), key=lambda kv: (kv[1].begin, kv[1].end)):
        if info.begin != cursor:
            problem = "overlaps the previous one" if info.begin < cursor else "leaves a gap before it"
            raise UnsafeFileError(
                f"{name}: tensor {key!r} {problem} (offset {info.begin}, expected {cursor})"
            )
        cursor = info.end
    if cursor != data_size:
        raise UnsafeFileError(f"{name}: tensors cover {cursor} of {data_size} data bytes")
    return SafetensorsHeader(
        tensors=tensors, metadata=dict(metadata), header_size=8 + len(header), file_size=file_size
    )


def _tensor_info(name: str, key: str, spec: object, data_size: int) -> TensorInfo:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise UnsafeFileError(f"{name}: tensor {key!r} needs exactly dtype, shape and data_offsets")
    dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if dtype not in DTYPE_SIZES:
        raise UnsafeFileError(f"{name}: tensor {key!r} has unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise UnsafeFileError(f"{name}: tensor {key!r} has an invalid shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and o >= 0 for o in offsets)
        or offsets[0] > offsets[1]
        or offsets[1] > data_size
    ):
        raise UnsafeFileError(
            f"{name}: tensor {key!r} has offsets {offsets!r} outside the {data_size} data bytes"
        )
    info = TensorInfo(dtype=dtype, shape=tuple(shape), begin=offsets[0], end=offsets[1])
    expected = info.numel * DTYPE_SIZES[dtype]
    if expected != info.end - info.begin:
        raise UnsafeFileError(
            f"{name}: tensor {key!r} {dtype}{list(shape)} needs {expected:g} bytes, header gives {info.end - info.begin}"
        )
    return info

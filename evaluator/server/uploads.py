"""Streaming ``multipart/form-data`` parsing for submissions: the file goes to disk chunk by chunk.

Starlette's form parser buffers the whole body before the endpoint runs; this one feeds
python-multipart's callback parser from ``request.stream()`` so the size limit is enforced while
the upload is still arriving and the file never sits in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from evaluator.server.safety import check_file_name
from evaluator.server.store import PendingUpload, StoredFile, UploadTooLarge
from zoo.errors import InvalidInputError

MAX_FIELD_BYTES = 16 * 1024
MAX_FIELDS = 32


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: StoredFile | None = None
    file_name: str | None = None


async def parse_submission_form(request: Request, store_root: Path, max_bytes: int) -> ParsedForm:
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise InvalidInputError("send the submission as multipart/form-data")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + 1024 * 1024:
        raise UploadTooLarge(f"upload larger than the server's limit of {max_bytes} bytes")

    form = ParsedForm()
    state: dict = {"headers": {}, "name": None, "value": b"", "pending": None, "error": None}
    header_field = bytearray()
    header_value = bytearray()

    def on_part_begin() -> None:
        state["headers"], state["name"], state["value"], state["pending"] = {}, None, b"", None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        state["headers"][bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disp = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = disp.get(b"name", b"").decode(errors="replace")
        state["name"] = name
        if b"filename" in disp:
            if name != "file" or form.file is not None or state["pending"] is not None:
                raise InvalidInputError("send exactly one file, in the form field 'file'")
            file_name = disp[b"filename"].decode(errors="replace")
            fmt = check_file_name(file_name)
            form.file_name = file_name
            state["pending"] = PendingUpload(store_root, fmt, max_bytes, file_name)
        elif len(form.fields) >= MAX_FIELDS:
            raise InvalidInputError("too many form fields")

    def on_part_data(data: bytes, start: int, end: int) -> None:
        pending: PendingUpload | None = state["pending"]
        if pending is not None:
            pending.write(data[start:end])
        else:
            state["value"] += data[start:end]
            if len(state["value"]) > MAX_FIELD_BYTES:
                raise InvalidInputError(f"form field {state['name']!r} is too long")

    def on_part_end() -> None:
        pending: PendingUpload | None = state["pending"]
        if pending is not None:
            form.file = pending.commit()
            state["pending"] = None
        elif state["name"]:
            form.fields[state["name"]] = state["value"].decode(errors="replace")

    parser = MultipartParser(
        params[b"boundary"],
        callbacks={
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException:
        if state["pending"] is not None:
            state["pending"].discard()
        raise
    if state["pending"] is not None:  # the body ended inside the file part
        state["pending"].discard()
        raise InvalidInputError("incomplete multipart upload")
    return form

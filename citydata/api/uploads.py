"""Streaming multipart parsing: file parts go straight to the file store's staging area.

Starlette's ``request.form()`` spools whole files before we could apply a size limit; this
parser writes each chunk as it arrives, hashes it, and aborts as soon as the limit is passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from citydata.errors import PayloadTooLarge, ValidationError
from citydata.storage.files import FileStore, StagedFile

MAX_FIELD_BYTES = 1024 * 1024


@dataclass
class ParsedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, StagedFile] = field(default_factory=dict)

    def discard(self, store: FileStore) -> None:
        for staged in self.files.values():
            store.discard(staged)


async def parse_multipart(request: Request, store: FileStore, max_bytes: int) -> ParsedForm:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise ValidationError("Expected multipart/form-data with a boundary")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FIELD_BYTES:
        raise PayloadTooLarge(f"The upload is larger than the limit of {max_bytes:,} bytes")

    form = ParsedForm()
    state: dict = {"headers": {}, "name": None, "writer": None, "buf": b"", "hname": b""}
    writers = []

    def on_part_begin() -> None:
        state["headers"] = {}
        state["writer"] = None
        state["buf"] = b""

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        key = state["hname"].lower()
        state["headers"][key] = state["headers"].get(key, b"") + data[start:end]

    def on_header_end() -> None:
        state["hname"] = b""

    def on_headers_finished() -> None:
        disp, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if filename is not None:
            w = store.writer(
                max_bytes,
                filename.decode("utf-8", "replace"),
                state["headers"].get(b"content-type", b"").decode("latin-1"),
            )
            writers.append(w)
            state["writer"] = w

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["writer"] is not None:
            state["writer"].write(data[start:end])
        else:
            state["buf"] += data[start:end]
            if len(state["buf"]) > MAX_FIELD_BYTES:
                raise ValidationError(f"Form field {state['name']!r} is too long")

    def on_part_end() -> None:
        if state["writer"] is not None:
            form.files[state["name"]] = state["writer"].finish()
            writers.remove(state["writer"])
        else:
            form.fields[state["name"]] = state["buf"].decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
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
    except BaseException as exc:
        for w in writers:
            w.abort()
        form.discard(store)
        if isinstance(exc, (ValidationError, PayloadTooLarge)):
            raise
        if isinstance(exc, Exception) and not isinstance(exc, (OSError,)):
            raise ValidationError("The multipart body could not be parsed") from exc
        raise
    return form

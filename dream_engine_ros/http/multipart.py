"""multipart/form-data parsed in memory, with limits on parts and names.

Why not Starlette's form parser: it spools file parts above 1 MB to temporary files; the body is
already bounded (`max_body_bytes`) and held in memory, so parsing it in memory leaves nothing
on disk, whatever happens to the request.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header

from dream_engine_ros.http.errors import ApiError

MAX_PARTS = 16


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytearray = field(default_factory=bytearray)


class _Collector:
    """python-multipart callbacks that gather each part's headers and bytes."""

    def __init__(self) -> None:
        self.parts: dict[str, Part] = {}
        self._headers: dict[bytes, bytes] = {}
        self._name = b""
        self._value = b""
        self._part: Part | None = None
        self.complete = False

    def on_end(self) -> None:
        self.complete = True

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._name.strip().lower()] = self._value.strip()
        self._name, self._value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise ApiError(400, "body", "multipart part", "every part needs a Content-Disposition name")
        name = options[b"name"].decode("utf-8", "replace")
        if name in self.parts:
            raise ApiError(400, name, "repeated", f"field {name!r} appears more than once")
        if len(self.parts) >= MAX_PARTS:
            raise ApiError(400, "body", len(self.parts) + 1, f"at most {MAX_PARTS} form fields")
        filename = options.get(b"filename")
        content_type = self._headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        self._part = Part(name, filename.decode("utf-8", "replace") if filename is not None else None, content_type)
        self.parts[name] = self._part

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part is not None:
            self._part.data += data[start:end]

    def on_part_end(self) -> None:
        self._part = None


def multipart_boundary(content_type: str) -> bytes:
    """The boundary of a multipart/form-data Content-Type, or a 415 naming what was sent."""
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise ApiError(415, "Content-Type", content_type or "(none)", "must be multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "Content-Type", content_type, "multipart/form-data needs a boundary")
    return boundary


def parse_multipart(body: bytes, content_type: str) -> dict[str, Part]:
    """Every part of a bounded in-memory body, by field name (repeated names are refused)."""
    collector = _Collector()
    parser = MultipartParser(multipart_boundary(content_type), {
        "on_part_begin": collector.on_part_begin,
        "on_part_data": collector.on_part_data,
        "on_part_end": collector.on_part_end,
        "on_header_field": collector.on_header_field,
        "on_header_value": collector.on_header_value,
        "on_header_end": collector.on_header_end,
        "on_headers_finished": collector.on_headers_finished,
        "on_end": collector.on_end,
    })
    try:
        parser.write(body)
        parser.finalize()
    except ApiError:
        raise
    except Exception as exc:  # python-multipart raises several types for a malformed body
        raise ApiError(400, "body", f"{len(body)} bytes", f"malformed multipart/form-data: {exc}") from None
    if not collector.complete:
        raise ApiError(400, "body", f"{len(body)} bytes", "multipart/form-data ends before its closing boundary")
    return collector.parts

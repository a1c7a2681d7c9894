"""A small Server-Sent Events reader over an httpx streaming response (what a browser's
EventSource does with the bytes), for the events tests."""

from __future__ import annotations

import json
from typing import Any

import httpx


class SSE:
    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()

    def message(self) -> dict[str, Any]:
        """The next message: its fields (``id``, ``event``, ``data``, ``retry``) and any
        ``comments``."""
        fields: dict[str, Any] = {}
        for line in self._lines:
            if line == "":
                if fields:
                    return fields
                continue
            if line.startswith(":"):
                fields.setdefault("comments", []).append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
        raise EOFError("the stream ended")

    def event(self) -> dict[str, Any]:
        """The next event (keep-alive comments skipped), with ``data`` parsed."""
        while True:
            msg = self.message()
            if "data" in msg:
                return {**msg, "id": int(msg["id"]), "data": json.loads(msg["data"])}

    def ids(self, n: int) -> list[int]:
        return [self.event()["id"] for _ in range(n)]

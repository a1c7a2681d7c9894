"""Small display helpers used as Jinja2 filters: dates, file sizes, hashes, plurals."""

from __future__ import annotations

import re
from datetime import datetime


def _parse(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def long_date(value: object) -> str:
    """GOV.UK style: 5 March 2025."""
    dt = _parse(value)
    return f"{dt.day} {dt:%B %Y}" if dt else (str(value) if value else "")


def long_datetime(value: object) -> str:
    """5 March 2025 at 14:07 (UTC, as stored)."""
    dt = _parse(value)
    return f"{dt.day} {dt:%B %Y} at {dt:%H:%M}" if dt else (str(value) if value else "")


def filesize(value: object) -> str:
    """Bytes in words a person reads quickly: 930 bytes, 12.4 KB, 3.1 MB (1 KB = 1024 bytes)."""
    if not isinstance(value, int):
        return ""
    if value < 1024:
        return f"{value} bytes" if value != 1 else "1 byte"
    size = float(value)
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}"
    return f"{value} bytes"  # pragma: no cover - loop always returns


def short_hash(value: object) -> str:
    return str(value or "")[:12]


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``3|plural('dataset')`` → '3 datasets'; 1 → '1 dataset'."""
    word = singular if count == 1 else (plural_form or singular + "s")
    return f"{count:,} {word}"


def summary(text: object, limit: int = 220) -> str:
    """The first words of a Markdown description as plain text, for result lists."""
    plain = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", str(text or ""))  # links → their text
    plain = re.sub(r"(?m)^\s*(?:#{1,6}|>|[-*+]|\d+\.)\s+", "", plain)  # headings, quotes, lists
    plain = re.sub(r"[*`]+|(?<!\w)_+|_+(?!\w)", "", plain)  # emphasis; keeps snake_case
    plain = " ".join(plain.split())
    if len(plain) <= limit:
        return plain
    return plain[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"

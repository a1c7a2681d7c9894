"""Pieces of the web layer that need no server: Markdown safety, previews, formatting."""

from __future__ import annotations

import pytest

from citydata.storage.files import FileStore
from citydata.web.formatting import filesize, long_date, summary
from citydata.web.markdown_safe import render_markdown
from citydata.web.preview import read_preview


@pytest.mark.parametrize("source", [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "[click](JaVa\tScRiPt:alert(1))",
    "![x](data:text/html;base64,PHNjcmlwdD4=)",
    '<a href="javascript:alert(1)">x</a>',
])
def test_markdown_never_lets_html_or_script_urls_through(source):
    tags = elements(str(render_markdown(source)))
    assert all(tag in ("p", "a", "img") for tag, _ in tags), tags
    for _, attrs in tags:
        assert not any(k.startswith("on") for k in attrs)
        for key in ("href", "src"):
            value = "".join((attrs.get(key) or "").split()).lower()
            assert not value.startswith(("javascript:", "data:")), attrs


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every element the browser would build from ``html``, with its attributes."""
    from html.parser import HTMLParser

    found: list[tuple[str, dict[str, str | None]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
            found.append((tag, dict(attrs)))

    Collect().feed(html)
    return found


def test_markdown_keeps_ordinary_formatting():
    html = str(render_markdown("# Title\n\n* one\n* two\n\n[site](https://data.london.gov.uk)"))
    assert "<h1>Title</h1>" in html and "<li>one</li>" in html
    assert 'href="https://data.london.gov.uk"' in html and 'rel="nofollow noopener"' in html


def stored(tmp_path, data: bytes) -> tuple[FileStore, str]:
    store = FileStore(tmp_path / "files")
    staged = store.stage([data], max_bytes=10_000_000)
    return store, store.commit(staged)


def test_preview_sniffs_semicolons_and_decodes_latin1(tmp_path):
    store, sha = stored(tmp_path, "nom;café\nA;é\nB;ü\n".encode("latin-1"))
    p = read_preview(store, sha, 10)
    assert p is not None and p.header == ["nom", "café"] and p.rows == [["A", "é"], ["B", "ü"]]
    assert p.delimiter == ";" and p.encoding == "latin-1"


def test_preview_reads_utf8_with_bom_and_tsv(tmp_path):
    store, sha = stored(tmp_path, "\ufeffa\tb\n1\t2\n".encode())
    p = read_preview(store, sha, 10, fmt="TSV")
    assert p is not None and p.header == ["a", "b"] and p.rows == [["1", "2"]]


def test_preview_reads_only_the_head_of_a_big_file(tmp_path):
    rows = "".join(f"{i},name {i}\n" for i in range(200_000))
    store, sha = stored(tmp_path, ("id,name\n" + rows).encode())
    p = read_preview(store, sha, 5)
    assert p is not None and len(p.rows) == 5 and p.rows[0] == ["0", "name 0"]


def test_preview_clips_wide_and_long_values(tmp_path):
    header = ",".join(f"c{i}" for i in range(40))
    store, sha = stored(tmp_path, f"{header}\n{'x' * 500}\n".encode())
    p = read_preview(store, sha, 5)
    assert p is not None and len(p.header) == 30 and p.truncated
    assert len(p.rows[0]) == 30 and len(p.rows[0][0]) == 200


def test_preview_of_an_empty_file_is_none_and_of_a_missing_one_an_error(tmp_path):
    from citydata.errors import NotFound

    store, sha = stored(tmp_path, b"")
    assert read_preview(store, sha, 5) is None
    with pytest.raises(NotFound, match="The stored file is missing"):
        read_preview(store, "0" * 64, 5)


def test_formatting():
    assert filesize(1) == "1 byte" and filesize(999) == "999 bytes"
    assert filesize(1_300_000) == "1.2 MB" and filesize(512 * 1024 * 1024) == "512.0 MB"
    assert long_date("2025-03-05T14:07:00") == "5 March 2025"
    assert summary("**Bold** " + "word " * 100).startswith("Bold word")
    assert len(summary("word " * 100)) <= 221

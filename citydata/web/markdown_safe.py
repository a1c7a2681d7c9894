"""Markdown for descriptions written by publishers, rendered without letting them inject HTML.

Raw HTML in the source is shown as text (python-markdown's HTML block and inline HTML
handlers are removed, so the escaper sees it), and links or images may only use http(s),
mailto, relative or fragment URLs: ``javascript:`` and ``data:`` URLs are dropped.
"""

from __future__ import annotations

import xml.etree.ElementTree as etree
from urllib.parse import urlsplit

import markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor
from markupsafe import Markup

SAFE_SCHEMES = {"", "http", "https", "mailto"}


class _SafeUrls(Treeprocessor):
    def run(self, root: etree.Element) -> None:
        for el in root.iter():
            for attr in ("href", "src"):
                value = el.get(attr)
                if value is None:
                    continue
                # Browsers ignore control characters and spaces inside a scheme; so do we.
                cleaned = "".join(ch for ch in value if ch > " ")
                if urlsplit(cleaned).scheme.lower() not in SAFE_SCHEMES:
                    del el.attrib[attr]
            if el.tag == "a" and el.get("href", "").startswith(("http://", "https://")):
                el.set("rel", "nofollow noopener")


class _EscapeHtml(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 - library API
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_SafeUrls(md), "citydata_safe_urls", 0)


def render_markdown(text: str | None) -> Markup:
    """Render publisher Markdown to HTML that is safe to place in a page."""
    if not text:
        return Markup("")
    md = markdown.Markdown(extensions=[_EscapeHtml(), "sane_lists"], output_format="html")
    return Markup(md.convert(text))

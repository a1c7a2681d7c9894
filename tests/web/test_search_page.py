"""The search page: facets filter, counts respect visibility, filters are removable."""

from __future__ import annotations

import re

from tests.web.conftest import login


def titles(html: str) -> list[str]:
    return re.findall(r'<h3 class="result__title"><a href="[^"]+">([^<]+)</a>', html)


def facet_links(html: str, facet: str) -> dict[str, tuple[str, int]]:
    """label -> (href, count) for one facet of the sidebar."""
    section = html.split(f'id="facet-{facet}"', 1)[1].split("</section>", 1)[0]
    out = {}
    for href, label, count in re.findall(
        r'<a class="facet__option[^"]*" href="([^"]+)">.*?'
        r'<span class="facet__label">([^<]+)</span>\s*<span class="facet__count">(\d+)',
        section, re.S):
        out[label] = (href.replace("&amp;", "&"), int(count))
    return out


def test_search_lists_public_datasets_with_count(client, catalog):
    html = client.get("/dataset").text
    assert "3 datasets found" in html
    assert sorted(titles(html)) == ["Camden EV charge points", "Camden street trees",
                                    "TfL bus stops"]


def test_facet_links_filter_results(client, catalog):
    html = client.get("/dataset").text
    publishers = facet_links(html, "organization")
    assert publishers["London Borough of Camden"][1] == 2
    assert publishers["Transport for London"][1] == 1
    href, _ = publishers["Transport for London"]
    filtered = client.get(href).text
    assert titles(filtered) == ["TfL bus stops"]
    assert "1 dataset found" in filtered
    # The chosen value is shown selected, and as a removable filter.
    assert "facet__option--selected" in filtered
    remove = re.search(
        r'<a class="chip" href="([^"]+)"><span class="visually-hidden">Remove filter', filtered)
    assert remove and "3 datasets found" in client.get(remove.group(1).replace("&amp;", "&")).text


def test_filters_combine_and_theme_labels_show(client, catalog):
    html = client.get("/dataset?tags=transport").text
    assert sorted(titles(html)) == ["Camden EV charge points", "TfL bus stops"]
    themes = facet_links(html, "theme")
    assert themes["Transport"][1] == 2 and themes["Energy"][1] == 1
    both = client.get(themes["Energy"][0]).text
    assert titles(both) == ["Camden EV charge points"]
    assert "Theme: Energy" in both and "Tag: transport" in both


def test_search_never_counts_private_datasets_for_anonymous(client, catalog):
    # "camden-secret" is tagged ev; anonymous counts must not reveal it anywhere.
    html = client.get("/dataset?tags=ev").text
    assert "1 dataset found" in html and "Camden secret survey" not in html
    assert facet_links(html, "tags")["ev"][1] == 1
    assert "Private" not in facet_links(client.get("/dataset").text, "access_level")
    assert "0 datasets found" in client.get("/dataset?q=secret").text
    login(client, "editor", "editor-pass-1")
    member = client.get("/dataset?tags=ev").text
    assert "2 datasets found" in member and "Camden secret survey" in member


def test_text_search_and_sort(client, catalog):
    html = client.get("/dataset?q=charge").text
    assert titles(html) == ["Camden EV charge points"]
    assert '<option value="relevance" selected>' in html
    by_title = client.get("/dataset?sort=title").text
    assert titles(by_title) == sorted(titles(by_title))
    # An unknown sort falls back to the default instead of failing.
    assert client.get("/dataset?sort=nonsense").status_code == 200


def test_pagination(client, catalog, make_ctx):
    from citydata.catalog import datasets

    with make_ctx() as ctx:
        for i in range(25):
            datasets.create_dataset(ctx, {"name": f"bulk-{i:02d}", "title": f"Bulk {i:02d}",
                                          "owner_org": "tfl"})
    first = client.get("/dataset?organization=tfl&sort=title").text
    assert "26 datasets found" in first and len(titles(first)) == 20
    assert 'rel="next"' in first and 'aria-current="page" aria-label="Page 1"' in first
    second = client.get("/dataset?organization=tfl&sort=title&page=2").text
    assert len(titles(second)) == 6 and 'rel="prev"' in second
    assert not set(titles(first)) & set(titles(second))


def test_odd_queries_do_not_break_the_page(client, catalog):
    for q in ['"', "foo:bar", "a) OR (b", "x" * 2000, "<script>"]:
        r = client.get("/dataset", params={"q": q})
        assert r.status_code == 200, q
        assert "<script>" not in r.text.split("<main", 1)[1]
    assert client.get("/dataset?page=abc&tags=%22").status_code == 200

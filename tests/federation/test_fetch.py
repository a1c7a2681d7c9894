"""The bounded fetcher against real (fake, hostile) HTTP servers."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from citydata.federation.fetch import Fetched, Fetcher, HTTPStatusError, Limits
from citydata.federation.records import SourceError
from tests.federation.fakes import HostileServer


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer(slow_interval=1.0, huge_bytes=100 * 1024 * 1024) as server:
        yield server


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(Limits(max_bytes=1024 * 1024, timeout=5.0, connect_timeout=2.0)) as f:
        yield f


def _human(err: SourceError, url: str) -> None:
    """Messages are for people: they name the URL and carry no exception dumps."""
    assert url in err.message
    assert err.url
    for noise in ("Traceback", "httpx", "httpcore", "Errno", "<class"):
        assert noise not in err.message


def test_get_returns_the_response(hostile: HostileServer, fetcher: Fetcher) -> None:
    got = fetcher.get(f"{hostile.url}/ok")
    assert isinstance(got, Fetched)
    assert got.status == 200
    assert got.url == f"{hostile.url}/ok"
    assert got.content_type == "application/json"
    assert json.loads(got.body) == {"ok": True}
    assert got.headers["content-type"] == "application/json;charset=utf-8"


def test_headers_params_and_user_agent_are_sent(hostile: HostileServer) -> None:
    with Fetcher(headers={"X-Portal-Token": "abc"}) as f:
        echo = f.json(f"{hostile.url}/echo?a=1", params={"b": "two words", "skip": None})
    assert echo["query"] == {"a": "1", "b": "two words"}
    assert echo["headers"]["user-agent"] == "citydata-harvester/1"
    assert echo["headers"]["x-portal-token"] == "abc"
    assert echo["headers"]["accept"] == "application/json"


def test_per_request_headers(hostile: HostileServer, fetcher: Fetcher) -> None:
    echo = fetcher.json(f"{hostile.url}/echo", headers={"Authorization": "k1"})
    assert echo["headers"]["authorization"] == "k1"
    assert "authorization" not in fetcher.json(f"{hostile.url}/echo")["headers"]


def test_body_exactly_at_the_limit_is_accepted_one_byte_less_is_not(
    hostile: HostileServer,
) -> None:
    size = len(b'{"ok":true}')
    with Fetcher(Limits(max_bytes=size)) as f:
        assert f.json(f"{hostile.url}/ok") == {"ok": True}
    with Fetcher(Limits(max_bytes=size - 1)) as f, pytest.raises(SourceError) as err:
        f.get(f"{hostile.url}/ok")
    assert "larger than the limit" in err.value.message


def test_too_big_by_content_length_fails_at_once(
    hostile: HostileServer, fetcher: Fetcher
) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}/huge")
    assert time.monotonic() - started < 2
    assert "larger than the limit of 1 MB" in err.value.message
    assert "announces 100 MB" in err.value.message
    _human(err.value, f"{hostile.url}/huge")


def test_too_big_while_streaming_without_content_length(
    hostile: HostileServer, fetcher: Fetcher
) -> None:
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}/huge-stream")
    assert time.monotonic() - started < 3
    assert "larger than the limit" in err.value.message
    assert "sent more than that" in err.value.message
    _human(err.value, f"{hostile.url}/huge-stream")


def test_compressed_bomb_is_limited_by_its_inflated_size(
    hostile: HostileServer, fetcher: Fetcher
) -> None:
    assert len(hostile.gzip_bomb()) < 1024 * 1024 // 4  # small on the wire
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}/gzip-bomb")
    assert "larger than the limit" in err.value.message


def test_slow_loris_is_cut_off_at_the_total_timeout(hostile: HostileServer) -> None:
    # One byte a second never trips a per-read timeout; the total deadline must.
    with Fetcher(Limits(timeout=1.5)) as f:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            f.get(f"{hostile.url}/slow")
        elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 2.0
    assert "within 1.5 s" in err.value.message
    _human(err.value, f"{hostile.url}/slow")


def test_slow_loris_in_the_headers_is_cut_off_too(hostile: HostileServer) -> None:
    with Fetcher(Limits(timeout=1.5)) as f:
        started = time.monotonic()
        with pytest.raises(SourceError) as err:
            f.get(f"{hostile.url}/slow-headers")
        elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 2.0
    assert "within 1.5 s" in err.value.message


def test_a_server_that_never_answers_times_out() -> None:
    # The kernel accepts the connection; nobody ever reads the request or answers.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/silent"
        with Fetcher(Limits(timeout=0.6)) as f:
            started = time.monotonic()
            with pytest.raises(SourceError) as err:
                f.get(url)
            assert time.monotonic() - started < 2.5
    assert "within 0.6 s" in err.value.message
    _human(err.value, url)


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        url = f"http://127.0.0.1:{port}/x"
        with Fetcher(Limits(timeout=2)) as f, pytest.raises(SourceError) as err:
            f.get(url)
    assert "could not connect" in err.value.message
    _human(err.value, url)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/file", "file:///etc/passwd", "javascript:alert(1)", "/relative"]
)
def test_only_http_and_https(url: str, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.get(url)
    assert "only http:// and https://" in err.value.message


def test_redirect_to_another_host_is_refused(hostile: HostileServer, fetcher: Fetcher) -> None:
    before = len(hostile.requests_to("/ok"))
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}/redirect-away")
    assert "redirects to another host are not followed" in err.value.message
    assert "127.0.0.2" in err.value.message
    _human(err.value, f"{hostile.url}/redirect-away")
    assert len(hostile.requests_to("/ok")) == before


def test_redirect_to_another_scheme_is_refused(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}/redirect-scheme")
    assert "redirects to another host are not followed" in err.value.message


def test_same_host_redirects_are_followed(hostile: HostileServer, fetcher: Fetcher) -> None:
    got = fetcher.get(f"{hostile.url}/redirect-same")
    assert got.status == 200
    assert got.url == f"{hostile.url}/ok"
    assert fetcher.json(f"{hostile.url}/redirect-chain/5") == {"ok": True}  # exactly the limit


def test_too_many_redirects(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}/redirect-chain/6")
    assert "more than 5 redirects" in err.value.message


def test_redirect_loop_is_bounded(hostile: HostileServer) -> None:
    before = len(hostile.requests_to("/redirect-loop"))
    with Fetcher(Limits(max_redirects=3)) as f, pytest.raises(SourceError) as err:
        f.get(f"{hostile.url}/redirect-loop")
    assert "more than 3 redirects" in err.value.message
    assert len(hostile.requests_to("/redirect-loop")) - before == 4


@pytest.mark.parametrize("path", ["/html", "/html-as-json"])
def test_html_instead_of_json(path: str, hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.json(f"{hostile.url}{path}")
    assert err.value.message.startswith("expected JSON but got an HTML page from")
    _human(err.value, f"{hostile.url}{path}")


def test_html_is_fine_for_get(hostile: HostileServer, fetcher: Fetcher) -> None:
    got = fetcher.get(f"{hostile.url}/html", accept="text/html")
    assert got.content_type == "text/html"
    assert b"<h1>Welcome" in got.body


def test_invalid_json(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.json(f"{hostile.url}/invalid-json")
    assert err.value.message.startswith(f"invalid JSON from {hostile.url}/invalid-json: ")
    assert "line 1 column" in err.value.message
    _human(err.value, f"{hostile.url}/invalid-json")


def test_absurdly_nested_json(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.json(f"{hostile.url}/deep-json")
    assert "nested too deeply" in err.value.message


def test_xml_instead_of_json(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.json(f"{hostile.url}/entity.rdf")
    assert "expected JSON but got" in err.value.message


@pytest.mark.parametrize("path,status", [("/notfound", 404), ("/error", 500),
                                         ("/unavailable", 503)])
def test_http_errors(path: str, status: int, hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.get(f"{hostile.url}{path}")
    assert err.value.message == f"HTTP {status} from {hostile.url}{path}"
    assert isinstance(err.value, HTTPStatusError)
    assert err.value.status == status
    assert err.value.fetched.status == status  # the error page is kept, for adapters


def test_sign_is_called_with_the_full_url_and_again_after_a_redirect(
    hostile: HostileServer,
) -> None:
    calls: list[tuple[str, str, bytes]] = []

    def sign(method: str, url: str, body: bytes) -> dict[str, str]:
        calls.append((method, url, body))
        return {"X-Signature": f"sig-{len(calls)}"}

    with Fetcher(sign=sign) as f:
        echo = f.json(f"{hostile.url}/echo", params={"q": "trees"})
        assert calls == [("GET", f"{hostile.url}/echo?q=trees", b"")]
        assert echo["headers"]["x-signature"] == "sig-1"
        calls.clear()
        f.get(f"{hostile.url}/redirect-chain/2")
    assert [c[1] for c in calls] == [
        f"{hostile.url}/redirect-chain/2",
        f"{hostile.url}/redirect-chain/1",
        f"{hostile.url}/ok",
    ]


def test_post_json(hostile: HostileServer) -> None:
    seen: list[bytes] = []

    def sign(method: str, url: str, body: bytes) -> dict[str, str]:
        seen.append(body)
        return {}

    with Fetcher(sign=sign) as f:
        got = f.post_json(f"{hostile.url}/echo", {"q": "Camden", "n": 1})
    echo = json.loads(got.body)
    assert echo["method"] == "POST"
    assert json.loads(echo["body"]) == {"q": "Camden", "n": 1}
    assert echo["headers"]["content-type"] == "application/json"
    assert seen == [echo["body"].encode()]


def test_post_json_error_status(hostile: HostileServer, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError) as err:
        fetcher.post_json(f"{hostile.url}/error", {"x": 1})
    assert err.value.message == f"HTTP 500 from {hostile.url}/error"

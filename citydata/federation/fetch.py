"""Bounded HTTP for harvesting sources we do not control.

A harvest source may be slow, huge, broken or hostile. Every request made through
:class:`Fetcher` is bounded: the body size, the *total* time (including a body that trickles
in a byte at a time), the number of redirects, and where redirects may lead (only back to the
same scheme, host and port). With ``guard_private`` it also connects only to public
addresses, vetting each address a name resolves to at connection time (so a name cannot be
re-pointed at a private address after a check; see :mod:`citydata.net`). Whatever goes
wrong surfaces as a :class:`~citydata.federation.records.SourceError` whose message names the
URL and says what happened in plain words.
"""

from __future__ import annotations

import json as jsonlib
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from citydata.federation.records import SourceError
from citydata.net import AddressRefused, public_addresses

_REDIRECTS = (301, 302, 303, 307, 308)
_DEFAULT_PORTS = {"http": 80, "https": 443}

Signer = Callable[[str, str, bytes], dict[str, str]]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 1024 * 1024  # per response body
    timeout: float = 30.0  # total seconds per request, including a slow body
    connect_timeout: float = 10.0
    max_redirects: int = 5
    max_pages: int = 1000  # callers use this for paging loops
    user_agent: str = "citydata-harvester/1"


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL after redirects
    status: int
    content_type: str  # lower-cased media type without parameters
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names


class HTTPStatusError(SourceError):
    """The source answered with an HTTP error status (4xx, 5xx); ``fetched`` holds the answer
    (its body read within the limits), for adapters that can explain it better."""

    def __init__(self, message: str, url: str, fetched: Fetched) -> None:
        super().__init__(message, url)
        self.status = fetched.status
        self.fetched = fetched


class _Decoder:
    """Undoes gzip/deflate content encoding without ever inflating more than asked for:
    a few kB of gzip can inflate to gigabytes, so the size limit applies to the output."""

    def __init__(self, encoding: str, url: httpx.URL) -> None:
        codings = [c.strip().lower() for c in encoding.split(",")]
        codings = [c for c in codings if c and c != "identity"]
        self._url = url
        self._z: Any = None
        self._deflate = False
        if not codings:
            return
        if len(codings) > 1 or codings[0] not in ("gzip", "x-gzip", "deflate"):
            raise SourceError(
                f"the response from {url} uses a content encoding we do not accept "
                f"({encoding[:40]})",
                str(url),
            )
        self._deflate = codings[0] == "deflate"
        self._z = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS)
        self._started = False

    def decode(self, chunk: bytes, room: int) -> bytes:
        """At most ``room + 1`` bytes of output: one more than room means 'too big'."""
        if self._z is None:
            return chunk
        try:
            if self._z.eof:
                return b""
            try:
                out: bytes = self._z.decompress(chunk, room + 1)
            except zlib.error:
                if not (self._deflate and not self._started):
                    raise
                # "deflate" sent without its zlib header, as some servers do.
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                out = self._z.decompress(chunk, room + 1)
            self._started = True
            return out
        except zlib.error as exc:
            raise SourceError(
                f"the response from {self._url} could not be decoded (bad compression)",
                str(self._url),
            ) from exc


#: The deadline of the request this thread is making (time.monotonic()), if any.
_DEADLINE = threading.local()


def _clamp(timeout: float | None) -> float | None:
    """A socket timeout that never reaches past the current request's deadline."""
    deadline = getattr(_DEADLINE, "value", None)
    if deadline is None:
        return timeout
    remaining = max(deadline - time.monotonic(), 0.001)
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write is bounded by the request's total deadline:
    a server trickling a byte a second (in the headers or the body) is cut off on time."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Refused(httpcore.ConnectError):
    """The host is, or resolves to, an address the guard does not let us connect to."""


class _DeadlineBackend(httpcore.NetworkBackend):
    """Opens connections bounded by the request's deadline; with ``guard_private``, only to
    a public address the host resolves to (the very address vetted, never a fresh lookup)."""

    def __init__(self, inner: httpcore.NetworkBackend, guard_private: bool = False) -> None:
        self._inner = inner
        self._guard_private = guard_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if not self._guard_private:
            return _DeadlineStream(self._inner.connect_tcp(host, port, _clamp(timeout),
                                                           local_address, socket_options))
        try:
            addresses = public_addresses(host, port)
        except AddressRefused as exc:
            raise _Refused(str(exc)) from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return _DeadlineStream(self._inner.connect_tcp(
                    address, port, _clamp(timeout), local_address, socket_options))
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # public_addresses never returns an empty list
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if self._guard_private:
            raise _Refused(f"{path} is a local socket")
        return _DeadlineStream(self._inner.connect_unix_socket(path, _clamp(timeout),
                                                               socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _deadline_transport(guard_private: bool = False) -> httpx.BaseTransport:
    transport = httpx.HTTPTransport(trust_env=False)
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(backend, httpcore.NetworkBackend):
        # httpx offers no total timeout; bound each socket operation by the deadline instead.
        # (Should a future httpcore move this attribute, the checks between body chunks
        # still hold, only less precisely.)
        pool._network_backend = _DeadlineBackend(  # type: ignore[union-attr]
            backend, guard_private)
    elif guard_private:
        # The address guard has no such fallback: refuse to fetch rather than go unguarded.
        raise RuntimeError("cannot install the address guard in this httpx/httpcore version")
    return transport


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} kB"
    return f"{n} bytes"


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host.lower(), url.port or _DEFAULT_PORTS.get(url.scheme, 0))


def _parse_url(url: str | httpx.URL, params: dict[str, Any] | None = None) -> httpx.URL:
    text = str(url)
    try:
        parsed = httpx.URL(text)
        if params:
            parsed = parsed.copy_merge_params(
                {k: v for k, v in params.items() if v is not None}
            )
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise SourceError(f"not a valid URL: {text[:200]}", text) from exc
    if parsed.scheme not in ("http", "https"):
        raise SourceError(f"only http:// and https:// URLs can be fetched: {text[:200]}", text)
    if not parsed.host:
        raise SourceError(f"the URL has no host: {text[:200]}", text)
    return parsed


class Fetcher:
    """An HTTP client with hard limits; one per harvest job (it keeps connections open)."""

    def __init__(
        self,
        limits: Limits = Limits(),
        *,
        headers: dict[str, str] | None = None,
        sign: Signer | None = None,
        transport: httpx.BaseTransport | None = None,
        guard_private: bool = False,
    ) -> None:
        """``guard_private`` connects only to public addresses (see the module docstring);
        it guards the built-in transport, not one passed in as ``transport``."""
        self.limits = limits
        self._headers = {
            "User-Agent": limits.user_agent,
            "Accept-Encoding": "gzip, deflate",
            **(headers or {}),
        }
        self._sign = sign
        self._client = httpx.Client(
            follow_redirects=False,
            trust_env=False,
            transport=transport if transport is not None
            else _deadline_transport(guard_private),
            timeout=httpx.Timeout(limits.timeout, connect=limits.connect_timeout),
        )

    # -- public API ------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        accept: str = "*/*",
        headers: dict[str, str] | None = None,
    ) -> Fetched:
        """GET ``url`` (``params`` added to its query); ``headers`` for this request only."""
        return self._request(
            "GET", _parse_url(url, params), b"", {**(headers or {}), "Accept": accept}
        )

    def post_json(self, url: str, payload: Any) -> Fetched:
        body = jsonlib.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        return self._request("POST", _parse_url(url), body, headers)

    def json(
        self,
        url: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """GET and parse JSON; HTML pages and invalid JSON are SourceErrors."""
        fetched = self.get(url, params=params, accept="application/json", headers=headers)
        return parse_json(fetched)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _request(
        self, method: str, url: httpx.URL, body: bytes, headers: dict[str, str]
    ) -> Fetched:
        deadline = time.monotonic() + self.limits.timeout
        _DEADLINE.value = deadline
        try:
            return self._follow(method, url, body, headers, deadline)
        finally:
            _DEADLINE.value = None

    def _follow(
        self, method: str, url: httpx.URL, body: bytes, headers: dict[str, str], deadline: float
    ) -> Fetched:
        original = url
        origin = _origin(url)
        for _hop in range(self.limits.max_redirects + 1):
            fetched, location = self._once(method, url, body, headers, deadline, original)
            if location is None:
                if fetched.status >= 400:
                    raise HTTPStatusError(
                        f"HTTP {fetched.status} from {url}", str(url), fetched
                    )
                return fetched
            try:
                joined = url.join(location)
            except (httpx.InvalidURL, TypeError, ValueError) as exc:
                raise SourceError(
                    f"{url} redirects to an invalid address: {location[:200]}", str(original)
                ) from exc
            target = _parse_url(joined)
            if _origin(target) != origin:
                raise SourceError(
                    f"redirects to another host are not followed: {url} redirects to "
                    f"{str(target)[:200]}",
                    str(original),
                )
            if fetched.status == 303 or (fetched.status in (301, 302) and method == "POST"):
                method, body = "GET", b""
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
        raise SourceError(
            f"more than {self.limits.max_redirects} redirects from {original}: giving up",
            str(original),
        )

    def _once(
        self,
        method: str,
        url: httpx.URL,
        body: bytes,
        headers: dict[str, str],
        deadline: float,
        original: httpx.URL,
    ) -> tuple[Fetched, str | None]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._too_slow(original)
        request_headers = {**self._headers, **headers}
        if self._sign is not None:
            request_headers.update(self._sign(method, str(url), body))
        timeout = httpx.Timeout(
            remaining,
            connect=min(self.limits.connect_timeout, remaining),
            read=remaining,
            write=remaining,
            pool=remaining,
        )
        try:
            with self._client.stream(
                method, url, content=body or None, headers=request_headers, timeout=timeout
            ) as resp:
                location = resp.headers.get("location")
                if resp.status_code in _REDIRECTS and location:
                    return self._fetched(url, resp, b""), location
                if resp.status_code >= 400:
                    # An error page is only read for its explanation: a little of it is enough.
                    data = self._read_error_body(resp, deadline)
                else:
                    data = self._read_body(url, resp, deadline, original)
                return self._fetched(url, resp, data), None
        except SourceError:
            raise
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise SourceError(
                    f"could not connect to {url} within {self.limits.connect_timeout:g} s",
                    str(original),
                ) from exc
            raise self._too_slow(original) from exc
        except httpx.ConnectError as exc:
            if isinstance(exc.__cause__, _Refused):
                raise SourceError(f"refused: {exc.__cause__}", str(original)) from exc
            raise SourceError(
                f"could not connect to {url}: the server is unreachable or refused the "
                "connection",
                str(original),
            ) from exc
        except httpx.DecodingError as exc:
            raise SourceError(
                f"the response from {url} could not be decoded (bad compression)",
                str(original),
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceError(
                f"the request to {url} failed ({type(exc).__name__}): the connection broke "
                "or the server did not speak HTTP properly",
                str(original),
            ) from exc

    def _read_body(
        self, url: httpx.URL, resp: httpx.Response, deadline: float, original: httpx.URL
    ) -> bytes:
        max_bytes = self.limits.max_bytes
        declared = resp.headers.get("content-length", "")
        if declared.strip().isdigit() and int(declared) > max_bytes:
            raise self._too_big(url, original, f"it announces {_size(int(declared))}")
        decoder = _Decoder(resp.headers.get("content-encoding", ""), url)
        chunks: list[bytes] = []
        total = 0
        for raw in resp.iter_raw():
            chunk = decoder.decode(raw, max_bytes - total)
            total += len(chunk)
            if total > max_bytes:
                raise self._too_big(url, original, "it sent more than that")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise self._too_slow(original)
        return b"".join(chunks)

    def _read_error_body(self, resp: httpx.Response, deadline: float) -> bytes:
        cap = min(self.limits.max_bytes, 64 * 1024)
        decoder = _Decoder(resp.headers.get("content-encoding", ""), resp.url)
        chunks: list[bytes] = []
        total = 0
        try:
            for raw in resp.iter_raw():
                chunk = decoder.decode(raw, cap - total)
                chunks.append(chunk)
                total += len(chunk)
                if total >= cap or time.monotonic() > deadline:
                    break
        except SourceError:
            pass  # an undecodable error page: the status alone will do
        return b"".join(chunks)[:cap]

    def _fetched(self, url: httpx.URL, resp: httpx.Response, data: bytes) -> Fetched:
        ctype = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        return Fetched(
            url=str(url),
            status=resp.status_code,
            content_type=ctype,
            body=data,
            headers=dict(resp.headers.items()),
        )

    def _too_big(self, url: httpx.URL, original: httpx.URL, why: str) -> SourceError:
        return SourceError(
            f"the response from {url} is larger than the limit of "
            f"{_size(self.limits.max_bytes)} ({why})",
            str(original),
        )

    def _too_slow(self, url: httpx.URL) -> SourceError:
        return SourceError(
            f"{url} did not send its whole answer within {self.limits.timeout:g} s",
            str(url),
        )


def parse_json(fetched: Fetched) -> Any:
    """The JSON body of a response, or a SourceError saying why it is not JSON."""
    url = fetched.url
    head = fetched.body[:512].lstrip()
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip()
    xml = fetched.content_type.endswith(("/xml", "+xml")) and "html" not in fetched.content_type
    if xml and head.startswith(b"<"):
        raise SourceError(f"expected JSON but got an XML document from {url}", url)
    if fetched.content_type in ("text/html", "application/xhtml+xml") or head.startswith(b"<"):
        raise SourceError(
            f"expected JSON but got an HTML page from {url} (is this the right address?)", url
        )
    try:
        return jsonlib.loads(fetched.body)
    except jsonlib.JSONDecodeError as exc:
        raise SourceError(
            f"invalid JSON from {url}: {exc.msg} at line {exc.lineno} column {exc.colno}", url
        ) from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"invalid JSON from {url}: the text is not UTF-8", url) from exc
    except RecursionError as exc:
        raise SourceError(f"invalid JSON from {url}: nested too deeply", url) from exc

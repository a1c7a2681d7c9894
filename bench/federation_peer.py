"""Servers for the federation benchmark, each run in its own process.

    python -m bench.federation_peer ckan --port P --count 50000
    python -m bench.federation_peer proxy --port P --upstream http://127.0.0.1:Q --delay 2

``ckan``: the fake CKAN 2.10 portal of the tests (``tests.federation.fakes.FakeCkan``) over
``ckan_package(0 … count-1)``, until killed. In its own process, its JSON encoding does not
take the harvester's GIL.

``proxy``: a small asyncio HTTP/1.1 proxy that waits ``--delay`` seconds before forwarding each
request to ``--upstream``, then streams the answer back (one request per connection: it adds
``Connection: close``). Two paths are its own and never delayed: ``/__proxy/ready`` (200) and
``/__proxy/delay?seconds=S`` (sets the delay, so one run can measure the node healthy and slow
through the same proxy).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
MAX_HEAD = 64 * 1024


# ------------------------------------------------------------------- fake CKAN portal


def serve_ckan(port: int, count: int) -> None:
    from tests.federation import fakes

    packages = [fakes.ckan_package(i) for i in range(count)]
    portal = fakes.FakeCkan(packages)
    httpd = fakes._HTTPServer((HOST, port), fakes._Handler)
    httpd.app = portal
    portal._httpd = httpd
    print(f"fake CKAN with {count} packages on http://{HOST}:{port}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()


# ------------------------------------------------------------------- delaying proxy


class DelayProxy:
    def __init__(self, upstream: str, delay: float) -> None:
        parts = urlsplit(upstream)
        self.up_host = parts.hostname or HOST
        self.up_port = parts.port or 80
        self.delay = delay
        self.forwarded = 0

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, status: str, body: bytes) -> None:
        writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: "
                     f"{len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        await writer.drain()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) > MAX_HEAD:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, _version = lines[0].split(" ", 2)
            headers = [ln for ln in lines[1:] if ln]
            length = 0
            for ln in headers:
                name, _, value = ln.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
            body = await reader.readexactly(length) if length else b""
            path = urlsplit(target)
            if path.path == "/__proxy/ready":
                await self._reply(writer, "200 OK", b"ready")
                return
            if path.path == "/__proxy/delay":
                self.delay = float(parse_qs(path.query).get("seconds", ["0"])[0])
                await self._reply(writer, "200 OK", f"delay {self.delay}".encode())
                return
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            kept = [ln for ln in headers
                    if ln.partition(":")[0].strip().lower() not in ("connection", "keep-alive")]
            out = "\r\n".join([f"{method} {target} HTTP/1.1", *kept, "Connection: close"])
            up_reader, up_writer = await asyncio.open_connection(self.up_host, self.up_port)
            try:
                up_writer.write(out.encode("latin-1") + b"\r\n\r\n" + body)
                await up_writer.drain()
                self.forwarded += 1
                while chunk := await up_reader.read(65536):
                    writer.write(chunk)
                    await writer.drain()
            finally:
                up_writer.close()
                with contextlib.suppress(OSError):
                    await up_writer.wait_closed()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError,
                ValueError, OSError):
            pass  # the client hung up (a search past its deadline does): nothing to answer
        finally:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()


async def _serve_proxy(port: int, upstream: str, delay: float) -> None:
    proxy = DelayProxy(upstream, delay)
    server = await asyncio.start_server(proxy.handle, HOST, port, limit=MAX_HEAD * 2)
    print(f"proxy http://{HOST}:{port} -> {upstream}, delay {delay} s", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.federation_peer", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    ckan = sub.add_parser("ckan", help="serve the fake CKAN portal")
    ckan.add_argument("--port", type=int, required=True)
    ckan.add_argument("--count", type=int, default=50_000)
    proxy = sub.add_parser("proxy", help="serve a delaying HTTP proxy")
    proxy.add_argument("--port", type=int, required=True)
    proxy.add_argument("--upstream", required=True)
    proxy.add_argument("--delay", type=float, default=2.0)
    args = p.parse_args(argv)
    if args.command == "ckan":
        serve_ckan(args.port, args.count)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve_proxy(args.port, args.upstream, args.delay))


if __name__ == "__main__":
    main()

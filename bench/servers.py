"""Run the real servers under test in their own processes, on loopback ports only.

citydata: ``create_app(platform=Platform(Settings(...)))`` under uvicorn (one worker, uvloop and
httptools when installed, access log off), started as ``python -m bench.servers``.
Datasette: ``datasette serve`` (itself uvicorn) on the prepared copy of the SQLite catalog.
A separate process per server keeps the benchmark client off the server's GIL.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def run_server(cmd: list[str], ready_url: str, log: Path, timeout: float = 90,
               env: dict[str, str] | None = None) -> Iterator[None]:
    """Run ``cmd`` until ``ready_url`` answers 200; stop it when the block ends."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited ({proc.returncode}); see {log}:\n"
                                       + log.read_text(errors="replace")[-2000:])
                try:
                    if httpx.get(ready_url, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server not ready after {timeout}s: {ready_url}")
                time.sleep(0.2)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def citydata_server(database_url: str, home: Path) -> Iterator[str]:
    """Serve citydata on ``database_url``; yields its base URL."""
    port = free_port()
    home.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.servers", "--database-url", database_url,
           "--home", str(home), "--port", str(port)]
    base = f"http://{HOST}:{port}"
    with run_server(cmd, f"{base}/api/3/action/status_show", home / "citydata-server.log"):
        yield base


@contextmanager
def datasette_server(db_path: Path, log_dir: Path) -> Iterator[str]:
    """Serve ``db_path`` with Datasette; yields its base URL (database name = file stem)."""
    port = free_port()
    exe = Path(sys.executable).with_name("datasette")
    cmd = [str(exe) if exe.exists() else "datasette", "serve", str(db_path), "--host", HOST,
           "--port", str(port),
           # Let every facet and count finish (the defaults would cut them off at 200 ms and
           # make Datasette look faster by doing less); no suggested facets (we do not either).
           "--setting", "facet_time_limit_ms", "30000",
           "--setting", "sql_time_limit_ms", "30000",
           "--setting", "suggest_facets", "off"]
    base = f"http://{HOST}:{port}"
    with run_server(cmd, f"{base}/-/versions.json", log_dir / "datasette-server.log"):
        yield base


def main() -> None:
    """Entry point of the citydata server subprocess."""
    import uvicorn

    from citydata.app import create_app
    from citydata.platform import Platform
    from citydata.settings import Settings

    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(env="dev", home=args.home, database_url=args.database_url,
                        site_url=f"http://{HOST}:{args.port}", postcodes="none")
    app = create_app(platform=Platform(settings))
    uvicorn.run(app, host=HOST, port=args.port, log_level="warning", access_log=False,
                lifespan="off")


if __name__ == "__main__":
    main()

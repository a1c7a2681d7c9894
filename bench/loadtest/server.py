"""The server under load: ``citydata serve --workers N`` in its own process group.

Started with the production settings the caller gives (environment), on a loopback port; ready
when ``/readyz`` answers 200 and every worker process exists. Stopped with SIGTERM to the
group (uvicorn's supervisor stops its workers), SIGKILL after a grace period, always: the
caller uses it as a context manager, so an error or Ctrl-C still ends it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HOST = "127.0.0.1"


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc (every thread's ``children`` list)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return sorted(set(out))


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def role(pid: int, parent: int) -> str:
    """``parent``, ``worker`` (a uvicorn worker) or ``helper`` (e.g. multiprocessing's
    resource tracker, which the spawn start method adds)."""
    if pid == parent:
        return "parent"
    cmd = cmdline(pid)
    return "helper" if "resource_tracker" in cmd or "semaphore_tracker" in cmd else "worker"


@dataclass
class Server:
    """A running server: its base URL, the parent's pid and the workers seen at start."""

    base: str
    proc: subprocess.Popen[bytes]
    log: Path
    workers_at_start: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def processes(self) -> dict[int, str]:
        """Every process of the server now (parent and all descendants), with its role."""
        seen: dict[int, str] = {}
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            if pid in seen or not os.path.exists(f"/proc/{pid}"):
                continue
            seen[pid] = role(pid, self.pid)
            todo += children(pid)
        return seen

    def workers(self) -> list[int]:
        return sorted(p for p, r in self.processes().items() if r == "worker")

    def alive(self) -> bool:
        return self.proc.poll() is None


@contextmanager
def serve(env: dict[str, str], port: int, workers: int, log: Path,
          timeout: float = 180) -> Iterator[Server]:
    """Run ``citydata serve`` until the block ends; yields the ready :class:`Server`."""
    cmd = [sys.executable, "-m", "citydata.cli", "serve", "--host", HOST, "--port", str(port),
           "--workers", str(workers)]
    base = f"http://{HOST}:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        server = Server(base, proc, log)
        try:
            _wait_ready(server, workers, timeout)
            server.workers_at_start = server.workers()
            yield server
        finally:
            stop(proc)


def _wait_ready(server: Server, workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if not server.alive():
            raise RuntimeError(f"citydata serve exited ({server.proc.returncode}); see "
                               f"{server.log}:\n" + server.log.read_text(errors="replace")[-2000:])
        try:
            ready = httpx.get(f"{server.base}/readyz", timeout=5).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and len(server.workers()) >= workers:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not ready after {timeout:.0f} s; see {server.log}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after ``grace``."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # Workers the supervisor did not take down with it (or a parent that would not stop).
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait()

"""A test hook for the crash-safety tests: named pause points inside critical sections.

Code that must survive a crash calls :func:`pause_point` at the moments where a crash would
hurt most — inside a transaction after some rows are written, between moving a file into the
store and committing the row that points at it. Normally this costs one environment lookup
and does nothing. When ``CITYDATA_PAUSE_AT`` names the point, the process writes the marker
file ``$CITYDATA_HOME/paused-<name>`` and sleeps, so a test can see that the process is
provably inside that section and ``kill -9`` it there (see ``tests/crash/`` and
``docs/crash-safety.md``).

``CITYDATA_PAUSE_AT=<name>#<n>`` pauses at the n-th time the point is reached (e.g. the second
page of a harvest), so a test can let the first ones commit.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "CITYDATA_PAUSE_AT"
#: Long enough for any test to notice the marker and kill the process; short enough that a
#: forgotten variable only slows a process down rather than hanging it.
PAUSE_SECONDS = 60.0

_reached: dict[str, int] = {}


def pause_point(name: str) -> None:
    """Pause here if ``CITYDATA_PAUSE_AT`` names this point (a test hook; otherwise a no-op)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != (int(nth) if nth.isdigit() else 1):
        return
    home = Path(os.environ.get("CITYDATA_HOME", "var"))
    home.mkdir(parents=True, exist_ok=True)
    marker = home / f"paused-{name}"
    staged = marker.with_name(f".{marker.name}.{os.getpid()}")
    staged.write_text(str(os.getpid()))
    os.replace(staged, marker)  # the test sees the marker only once it is complete
    time.sleep(PAUSE_SECONDS)


__all__ = ["pause_point"]

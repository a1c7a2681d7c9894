"""Dependency audit for ``make lint``: pip-audit over the project's own environment.

pip-audit says "No known vulnerabilities found" and exits 0 even when it could not look a
single package up (its service unreachable, or answering 404 through a proxy): every package
is then merely "skipped". This wrapper reads pip-audit's JSON report and tells the three
outcomes apart:

* a known vulnerability in any installed package: exit 1, listing each;
* some package could not be audited (or pip-audit failed outright): the audit was NOT done;
  exit 2, unless ``CITYDATA_AUDIT_OFFLINE_OK=1``, which turns only this case into exit 0 —
  with the same loud message, never a pass;
* every package audited and nothing found: exit 0.

The editable ``citydata`` package itself is skipped (it is this code, not a dependency).
Usage: ``python scripts/audit.py [--pip-audit PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

OFFLINE_OK = "CITYDATA_AUDIT_OFFLINE_OK"
EDITABLE = "distribution marked as editable"


@dataclass
class Outcome:
    """What one pip-audit report says."""

    audited: list[str] = field(default_factory=list)
    unaudited: dict[str, str] = field(default_factory=dict)  # package -> pip-audit's reason
    vulnerable: dict[str, list[str]] = field(default_factory=dict)  # package -> advisory ids


def read_report(report: dict) -> Outcome:
    """Sort a pip-audit ``--format json`` report's packages into the three outcomes."""
    out = Outcome()
    for dep in report.get("dependencies", []):
        name = f"{dep.get('name')} {dep.get('version', '')}".strip()
        reason = dep.get("skip_reason")
        if reason:
            if reason != EDITABLE:
                out.unaudited[name] = reason
            continue
        out.audited.append(name)
        ids = [v.get("id", "?") for v in dep.get("vulns", [])]
        if ids:
            out.vulnerable[name] = ids
    return out


def verdict(outcome: Outcome | None, offline_ok: bool, failure: str = "") -> tuple[int, str]:
    """The exit status and message for an outcome (``None``: pip-audit produced no report)."""
    if outcome is not None and outcome.vulnerable:
        lines = [f"  {name}: {', '.join(ids)}" for name, ids in sorted(outcome.vulnerable.items())]
        return 1, "DEPENDENCY AUDIT FAILED: known vulnerabilities in\n" + "\n".join(lines)
    if outcome is None or outcome.unaudited:
        if outcome is None:
            why = f"pip-audit did not produce a report ({failure or 'no output'})"
        else:
            total = len(outcome.unaudited) + len(outcome.audited)
            sample = next(iter(outcome.unaudited.values()))
            why = (f"{len(outcome.unaudited)} of {total} packages could not be audited "
                   f"(e.g. {sample!r}); is the vulnerability service reachable?")
        banner = "!" * 72
        message = (f"{banner}\nDEPENDENCY AUDIT NOT DONE: {why}\n"
                   "No claim is made that the dependencies are free of known vulnerabilities."
                   f"\n{banner}")
        if offline_ok:
            return 0, message + f"\n({OFFLINE_OK}=1: continuing without the audit)"
        return 2, message + f"\nSet {OFFLINE_OK}=1 to continue without it."
    return 0, f"Dependency audit: {len(outcome.audited)} packages audited, no known vulnerabilities"


def run_pip_audit(pip_audit: str) -> tuple[dict | None, str]:
    """pip-audit's JSON report of the environment it runs in, or None and why not."""
    cmd = [pip_audit, "--format", "json", "--progress-spinner", "off", "--skip-editable"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    try:
        return json.loads(done.stdout), ""
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"exit {done.returncode}: {last}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(sys.executable).with_name("pip-audit")
    parser.add_argument("--pip-audit", default=str(default) if default.exists()
                        else shutil.which("pip-audit") or "pip-audit")
    args = parser.parse_args(argv)
    report, failure = run_pip_audit(args.pip_audit)
    status, message = verdict(read_report(report) if report is not None else None,
                              os.environ.get(OFFLINE_OK) == "1", failure)
    print(message, file=sys.stderr if status or "NOT DONE" in message else sys.stdout)
    return status


if __name__ == "__main__":
    sys.exit(main())

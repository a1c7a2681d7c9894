"""The dependency audit wrapper (scripts/audit.py): a found vulnerability fails, an audit that
could not be done is reported as NOT done (and fails unless explicitly allowed), and only a
complete clean audit passes. pip-audit's service is the outside world here, so its reports are
canned; the wrapper runs for real, as a subprocess, against a stand-in pip-audit."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.py"

spec = importlib.util.spec_from_file_location("citydata_audit_script", SCRIPT)
assert spec and spec.loader
audit = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = audit  # dataclasses look their module up
spec.loader.exec_module(audit)

EDITABLE = {"name": "citydata", "skip_reason": "distribution marked as editable"}
#: What pip-audit 2.10 reports on this machine, where PyPI's per-version JSON answers 404.
UNREACHABLE = {"dependencies": [EDITABLE, {
    "name": "anyio", "skip_reason": "Dependency not found on PyPI and could not be audited: "
    "anyio (4.16.0)"}], "fixes": []}
CLEAN = {"dependencies": [EDITABLE, {"name": "anyio", "version": "4.16.0", "vulns": []},
                          {"name": "click", "version": "8.3.0", "vulns": []}], "fixes": []}
VULNERABLE = {"dependencies": [EDITABLE, {"name": "anyio", "version": "4.16.0", "vulns": []}, {
    "name": "jinja2", "version": "2.10", "vulns": [
        {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": []}]}], "fixes": []}


def test_clean_audit_passes():
    status, message = audit.verdict(audit.read_report(CLEAN), offline_ok=False)
    assert status == 0 and "2 packages audited, no known vulnerabilities" in message


@pytest.mark.parametrize("offline_ok", [False, True])
def test_vulnerability_fails_even_offline_ok(offline_ok):
    status, message = audit.verdict(audit.read_report(VULNERABLE), offline_ok=offline_ok)
    assert status == 1 and "jinja2 2.10: PYSEC-2019-217" in message


def test_unreachable_service_is_not_a_pass():
    outcome = audit.read_report(UNREACHABLE)
    assert list(outcome.unaudited) == ["anyio"] and outcome.audited == []  # editable excluded
    status, message = audit.verdict(outcome, offline_ok=False)
    assert status == 2 and "DEPENDENCY AUDIT NOT DONE" in message
    assert "1 of 1 packages could not be audited" in message
    status, message = audit.verdict(outcome, offline_ok=True)
    assert status == 0 and "DEPENDENCY AUDIT NOT DONE" in message  # allowed, still said
    status, message = audit.verdict(None, offline_ok=False, failure="exit 1: no network")
    assert status == 2 and "did not produce a report (exit 1: no network)" in message


def fake_pip_audit(tmp_path: Path, report: dict | None) -> Path:
    exe = tmp_path / "pip-audit"
    body = (f"print({json.dumps(json.dumps(report))})" if report is not None
            else "import sys; sys.stderr.write('ConnectionError: unreachable\\n'); sys.exit(1)")
    exe.write_text(f"#!{sys.executable}\n{body}\n")
    exe.chmod(0o755)
    return exe


@pytest.mark.parametrize(("report", "env", "status", "says"), [
    (CLEAN, {}, 0, "no known vulnerabilities"),
    (VULNERABLE, {"CITYDATA_AUDIT_OFFLINE_OK": "1"}, 1, "PYSEC-2019-217"),
    (UNREACHABLE, {}, 2, "DEPENDENCY AUDIT NOT DONE"),
    (UNREACHABLE, {"CITYDATA_AUDIT_OFFLINE_OK": "1"}, 0, "DEPENDENCY AUDIT NOT DONE"),
    (None, {}, 2, "ConnectionError: unreachable"),
])
def test_the_script_end_to_end(tmp_path, report, env, status, says):
    exe = fake_pip_audit(tmp_path, report)
    environ = {k: v for k, v in os.environ.items() if k != "CITYDATA_AUDIT_OFFLINE_OK"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--pip-audit", str(exe)],
                          capture_output=True, text=True, env={**environ, **env}, check=False)
    assert done.returncode == status, done.stderr
    assert says in done.stdout + done.stderr


def test_make_lint_runs_the_audit():
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "$(BIN)/python scripts/audit.py --pip-audit $(BIN)/pip-audit" in lint
    assert "CITYDATA_AUDIT_OFFLINE_OK" not in lint  # never allowed silently by the target

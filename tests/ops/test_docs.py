"""docs/operations.md stays true: every ``citydata`` command it names exists, every
``CITYDATA_*`` variable is a setting, every metric it lists is served."""

from __future__ import annotations

import re
from pathlib import Path

import click

from citydata.cli import main
from citydata.settings import Settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
#: Commands as written to be run: lines of fenced blocks and `inline spans` that start with
#: ``citydata`` (after any VAR=value assignments or a path to the executable).
_RUN = re.compile(
    r"^\s*(?:[A-Z_]+=\S+\s+)*(?:ExecStart=)?(?:\S*/)?citydata ((?:[a-z][a-z-]+ ?){1,2})", re.M)
CODE = "\n".join(re.findall(r"```[a-z]*\n(.*?)```", DOC, re.S)
                 + re.findall(r"`([^`\n]+)`", DOC))


def test_every_command_in_the_guide_exists():
    named = {n.strip() for n in _RUN.findall(CODE)}
    assert {"db upgrade", "jobs run", "serve", "node-key create"} <= named
    for words in named:
        command: click.Command = main
        for part in words.split():
            if not isinstance(command, click.Group):
                break  # a leaf command; the rest are its arguments
            found = command.get_command(click.Context(command), part)
            assert found is not None, f"citydata {words}: no such command"
            command = found


def test_every_setting_in_the_guide_exists():
    fields = {name.upper() for name in Settings.model_fields}
    named = set(re.findall(r"CITYDATA_([A-Z0-9_]+[A-Z0-9])", DOC)) - {"HOME/files"}
    assert named, "the guide names no settings"
    missing = {n for n in named if n not in fields}
    assert not missing, f"not settings: {missing}"


def test_every_metric_in_the_guide_is_served(client):
    served = client.get("/metrics").text
    for name in set(re.findall(r"`(citydata_[a-z_]+)`", DOC)):
        family = name.removesuffix("_total")
        assert f"# TYPE {family}" in served or f"# TYPE {name}" in served, name

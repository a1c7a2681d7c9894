"""Every core command, run through click as a user would, on both backends."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from citydata.cli import main


@pytest.fixture
def run(monkeypatch, settings):
    monkeypatch.setenv("CITYDATA_HOME", str(settings.home))
    monkeypatch.setenv("CITYDATA_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYDATA_POSTCODES", "none")
    runner = CliRunner()

    def _run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return _run


def test_full_cli_flow(run, tmp_path):
    assert run("init").exit_code == 0
    assert run("init").exit_code == 0  # idempotent
    r = run(
        "user",
        "create",
        "alice",
        "--email",
        "alice@example.org",
        "--password",
        "alice-pass-1",
        "--sysadmin",
    )
    assert r.exit_code == 0 and "sysadmin" in r.output
    r = run("token", "create", "alice", "--name", "laptop", "--expires-days", "30")
    assert r.exit_code == 0 and r.output.strip().startswith("cdt_")
    assert (
        run(
            "org",
            "create",
            "hackney",
            "--title",
            "London Borough of Hackney",
            "--kind",
            "borough",
            "--admin",
            "alice",
        ).exit_code
        == 0
    )
    f = tmp_path / "trees.csv"
    f.write_text("tree_id,species\n1,London plane\n")
    r = run("publish", str(f), "--org", "hackney", "--title", "Street trees in Hackney")
    assert r.exit_code == 0, r.output
    assert "version 1" in r.output and "street-trees-in-hackney" in r.output
    f.write_text("tree_id,species\n1,London plane\n2,Lime\n")
    r = run("publish", str(f), "--org", "hackney", "--title", "Street trees in Hackney")
    assert "version 2" in r.output
    r = run("search", "trees")
    assert "1 datasets found" in r.output and "street-trees-in-hackney" in r.output
    assert run("db", "upgrade").exit_code == 0


def test_cli_errors_are_clear(run, tmp_path):
    run("init")
    r = run("user", "create", "Bad Name", "--email", "nope", "--password", "short")
    assert r.exit_code == 1
    assert "Error:" in r.output and "email" in r.output and "password" in r.output
    assert "Traceback" not in r.output
    f = tmp_path / "x.csv"
    f.write_text("a\n")
    r = run("publish", str(f), "--org", "nowhere", "--title", "X")
    assert r.exit_code == 1 and "nowhere" in r.output
    r = run("token", "create", "ghost")
    assert r.exit_code == 1 and "ghost" in r.output


def test_every_command_has_help():
    """A command's docstring is its help: none may be missing."""
    import click

    def walk(cmd: click.Command, path: str):
        yield path, cmd
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                yield from walk(sub, f"{path} {name}")

    for path, cmd in walk(main, "citydata"):
        assert (cmd.help or "").strip(), f"{path} has no help text"

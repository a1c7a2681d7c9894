"""The ``citydata webhooks`` commands, run through click as an operator would, on both
backends, against a real receiver."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from citydata.catalog import users
from citydata.cli import main
from tests.webhooks.conftest import add
from tests.webhooks.receiver import Behaviour


@pytest.fixture
def run(platform):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def _run(*args: str):  # type: ignore[no-untyped-def]
        # The platform (with the test stream registered) is the commands' platform.
        return runner.invoke(main, list(args), obj=platform, catch_exceptions=False)

    return _run


def test_add_list_dispatch_deliveries_replay_remove(run, platform, receiver):
    platform.settings.webhook_max_attempts = 1
    added = run("webhooks", "add", "whtest", receiver.url_for("cli"), "--filter", "kind=tree",
                "--description", "from the command line")
    assert added.exit_code == 0, added.output
    sub_id = re.search(r"Added webhook ([0-9a-f-]{36}): whtest -> ", added.output).group(1)
    secret = re.search(r"Secret \(shown only now\): (whsec_\S+)", added.output).group(1)
    receiver.secrets["/cli"] = secret

    ids = add(platform, "tree", "bench", "tree")
    ran = run("webhooks", "dispatch-once")
    assert ran.exit_code == 0 and "delivered 2" in ran.output and "failed 0" in ran.output
    assert sorted(receiver.ids("cli")) == [ids[0], ids[2]]
    assert all(a.verified for a in receiver.at("cli"))

    listed = run("webhooks", "list")
    assert sub_id in listed.output and "2 delivered" in listed.output
    assert f"cursor {ids[-1]}" in listed.output and secret not in listed.output
    (item,) = json.loads(run("webhooks", "list", "--json").output)
    assert item["filters"] == {"kind": "tree"} and item["description"] == "from the command line"

    receiver.behaviour["/cli"] = Behaviour(status=500)
    replayed = run("webhooks", "replay", sub_id, "--from", str(ids[0]))
    assert replayed.exit_code == 0 and f"from event {ids[0] + 1}" in replayed.output
    assert "dead 1" in run("webhooks", "dispatch-once").output
    dead = run("webhooks", "deliveries", sub_id, "--status", "dead")
    assert f"event {ids[2]}" in dead.output and "HTTP 500" in dead.output
    assert [d["event_id"] for d in json.loads(
        run("webhooks", "deliveries", sub_id, "--json").output)] == [ids[2]]

    assert "Paused" in run("webhooks", "pause", sub_id).output
    assert "paused" in run("webhooks", "list").output
    assert "Resumed" in run("webhooks", "resume", sub_id).output
    removed = run("webhooks", "remove", sub_id)
    assert removed.exit_code == 0 and "Removed" in removed.output
    assert "No webhooks yet" in run("webhooks", "list").output


def test_owned_by_a_user(run, platform, receiver, make_ctx):

    with make_ctx() as ctx:
        users.create_user(ctx.session, "ada", "ada@example.org", "a-long-password")
    added = run("webhooks", "add", "whtest", receiver.url_for("ada"), "--as", "ada")
    assert added.exit_code == 0, added.output
    (item,) = json.loads(run("webhooks", "list", "--json").output)
    assert item["owner"] == "ada"


def test_errors_are_clear(run, receiver):
    for args, says in (
        (("add", "nowhere", receiver.url), "There is no event stream"),
        (("add", "whtest", "ftp://example.org/h"), "http:// or https://"),
        (("add", "whtest", receiver.url, "--filter", "kind"), "is not NAME=VALUE"),
        (("add", "whtest", receiver.url, "--filter", "colour=red"), "Unknown filter: colour"),
        (("remove", "0" * 36), "No webhook"),
        (("replay", "0" * 36, "--from", "0"), "No webhook"),
        (("deliveries", "0" * 36), "No webhook"),
    ):
        result = run("webhooks", *args)
        assert result.exit_code == 1, (args, result.output)
        assert says in result.output and "Traceback" not in result.output, result.output

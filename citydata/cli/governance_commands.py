"""Governed sharing commands: agreements, the audit log, the node key, periodic jobs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from citydata.cli import _platform, main


@contextmanager
def _as(click_ctx: click.Context, user_name: str | None):
    """A catalog context acting as ``user_name`` (their memberships), or as the system."""
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx
    from citydata.catalog.users import actor_for_user, get_user

    platform = _platform(click_ctx)
    with platform.db.session() as session:
        actor = Actor.system()
        if user_name:
            actor = actor_for_user(session, get_user(session, user_name))
        yield Ctx(session, actor, platform.settings, platform.files)


def _show(ag: dict) -> None:
    click.echo(f"{ag['reference']}  {ag['status_label']}  {ag['title']}")
    click.echo(f"  provider: {ag['provider']['title'] if ag['provider'] else '?'}")
    for r in ag["recipients"]:
        org = r["organization"]["title"] if r.get("organization") else ""
        who = r.get("user") or ""
        click.echo(f"  recipient: {who}{' for ' if who and org else ''}{org}")
    click.echo(f"  purpose: {ag['purpose_label']} ({ag['purpose']})")
    click.echo(f"  lawful basis: {ag['lawful_basis_label']}")
    c = ag["conditions"]
    click.echo(f"  permits: {', '.join(c['actions'])}"
               + (f"; columns {', '.join(c['columns'])}" if c["columns"] else "")
               + (f"; groups under {c['min_cell_count']} suppressed"
                  if c["min_cell_count"] else ""))
    if ag["start"] or ag["end"]:
        click.echo(f"  runs: {ag['start'] or '?'} to {ag['end'] or '?'}")


@main.group()
def agreements() -> None:
    """Data sharing agreements: list, show, decide, revoke, sweep."""


@agreements.command("list")
@click.option("--as", "as_user", default=None, help="List the agreements this user is party to.")
@click.option("--status", default="", help="Only this status.")
@click.pass_context
def agreements_list(ctx: click.Context, as_user: str | None, status: str) -> None:
    """List agreements (all of them, or those a user is party to with --as)."""
    from sqlalchemy import select

    from citydata.access.agreement_views import agreement_dict, list_mine
    from citydata.storage.models_access import Agreement

    with _as(ctx, as_user) as c:
        if as_user:
            items = list_mine(c, status=status)
        else:
            rows = c.session.scalars(select(Agreement).order_by(Agreement.created.desc()))
            items = [agreement_dict(c, ag) for ag in rows]
            items = [a for a in items if not status or a["status"] == status]
        for ag in items:
            click.echo(f"{ag['reference']}  {ag['status']:10}  {ag['title']}")
        click.echo(f"{len(items)} agreement(s)")


@agreements.command("show")
@click.argument("reference")
@click.pass_context
def agreements_show(ctx: click.Context, reference: str) -> None:
    """Show one agreement and its history."""
    from citydata.access.agreement_views import show

    with _as(ctx, None) as c:
        ag = show(c, reference)
        _show(ag)
        for e in ag["history"]:
            note = f": {e['note']}" if e["note"] else ""
            click.echo(f"  {e['at']}  {e['actor']} {e['action']}{note}")


def _decide(ctx: click.Context, as_user: str, work: Callable[[Any], Any]) -> None:
    from citydata.access import notify
    from citydata.access.agreement_views import agreement_dict

    with _as(ctx, as_user) as c:
        _show(agreement_dict(c, work(c)))
    platform = _platform(ctx)
    notify.deliver_pending(platform.db, platform.settings)


@agreements.command("approve")
@click.argument("reference")
@click.option("--as", "as_user", required=True, help="The data owner deciding (an org admin).")
@click.option("--actions", default=None, help="Comma-separated: read, query, download; or "
                                              "aggregate (aggregate-only).")
@click.option("--columns", default=None, help="Comma-separated columns the recipients may see.")
@click.option("--min-cell-count", type=int, default=None, help="Aggregate-only: suppress "
                                                                "groups smaller than this.")
@click.option("--end-date", default=None, help="YYYY-MM-DD (default: start + requested days).")
@click.option("--note", default="")
@click.pass_context
def agreements_approve(ctx: click.Context, reference: str, as_user: str, actions: str | None,
                       columns: str | None, min_cell_count: int | None, end_date: str | None,
                       note: str) -> None:
    """Approve a request, setting its conditions; it is active at once unless it starts later."""
    from citydata.access.agreements import approve

    data: dict = {"note": note}
    for key, value in (("actions", actions), ("columns", columns),
                       ("min_cell_count", min_cell_count), ("end_date", end_date)):
        if value is not None:
            data[key] = value
    _decide(ctx, as_user, lambda c: approve(c, reference, data))


@agreements.command("refuse")
@click.argument("reference")
@click.option("--as", "as_user", required=True, help="The data owner deciding.")
@click.option("--note", required=True, help="Why (the requester is told).")
@click.pass_context
def agreements_refuse(ctx: click.Context, reference: str, as_user: str, note: str) -> None:
    """Refuse a request."""
    from citydata.access.agreements import refuse

    _decide(ctx, as_user, lambda c: refuse(c, reference, note))


@agreements.command("revoke")
@click.argument("reference")
@click.option("--as", "as_user", required=True, help="A data owner or a recipient.")
@click.option("--note", required=True, help="Why (every party is told).")
@click.pass_context
def agreements_revoke(ctx: click.Context, reference: str, as_user: str, note: str) -> None:
    """Revoke an agreement: the very next request under it is refused."""
    from citydata.access.agreements import revoke

    _decide(ctx, as_user, lambda c: revoke(c, reference, note))


@agreements.command("sweep")
@click.pass_context
def agreements_sweep(ctx: click.Context) -> None:
    """Record expiries and activations that time has brought (the server does this itself)."""
    from citydata.access.agreements import sweep

    with _as(ctx, None) as c:
        counts = sweep(c)
    click.echo(f"{counts['activated']} activated, {counts['expired']} expired")


@main.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Re-walk the hash chain (and signed checkpoints); exit 1 naming the first broken entry."""
    from citydata.access.audit import verify
    from citydata.access.keys import load_key

    platform = _platform(ctx)
    key = load_key(platform.settings)
    with platform.db.engine.connect() as conn:
        result = verify(conn, key)
    if result.ok:
        click.echo(result.summary())
        return
    click.secho(result.summary(), fg="red", err=True)
    sys.exit(1)


@audit.command("checkpoint")
@click.pass_context
def audit_checkpoint(ctx: click.Context) -> None:
    """Sign a checkpoint of the log's head with the node key."""
    from citydata.access.audit import write_checkpoint
    from citydata.access.keys import load_key
    from citydata.errors import ValidationError

    platform = _platform(ctx)
    key = load_key(platform.settings)
    if key is None:
        raise ValidationError("This node has no key: create one with 'citydata node-key create'")
    with platform.db.session() as session:
        cp = write_checkpoint(session, key)
    click.echo(f"Signed checkpoint at entry {cp.seq}" if cp else "Nothing new since the last "
               "checkpoint")


@audit.command("export")
@click.argument("org_name", metavar="ORG")
@click.option("--as", "as_user", required=True, help="A data owner (admin) of ORG.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the CSV here (default: standard output).")
@click.option("--since", default="", help="From this date (YYYY-MM-DD).")
@click.pass_context
def audit_export(ctx: click.Context, org_name: str, as_user: str, output: Path | None,
                 since: str) -> None:
    """Export ORG's access log as CSV."""
    from citydata.access.access_log import LogFilter, access_log_csv

    with _as(ctx, as_user) as c:
        chunks = access_log_csv(c, org_name, LogFilter(since=since))
        if output is None:
            for chunk in chunks:
                click.echo(chunk, nl=False)
            return
        with output.open("w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(chunk)
    click.echo(f"Wrote {output}")


@main.group("node-key")
def node_key() -> None:
    """This node's Ed25519 key (signs audit checkpoints)."""


@node_key.command("create")
@click.option("--force", is_flag=True, help="Replace an existing key.")
@click.pass_context
def node_key_create(ctx: click.Context, force: bool) -> None:
    """Create the node key under CITYDATA_HOME/keys (mode 0600)."""
    from citydata.access.keys import create_key, key_path

    settings = _platform(ctx).settings
    key = create_key(settings, force=force)
    click.echo(f"Node key {key.key_id} written to {key_path(settings)}")
    click.echo(f"Public key (Ed25519, base64): {key.public_b64}")


@node_key.command("show")
@click.pass_context
def node_key_show(ctx: click.Context) -> None:
    """Print the node key's id and public key."""
    from citydata.access.keys import load_key
    from citydata.errors import NotFound

    key = load_key(_platform(ctx).settings)
    if key is None:
        raise NotFound("This node has no key: create one with 'citydata node-key create'")
    click.echo(f"{key.key_id} {key.public_b64}")


@main.group()
def jobs() -> None:
    """Periodic jobs (the server runs them itself; a separate worker can too)."""


@jobs.command("run")
@click.pass_context
def jobs_run(ctx: click.Context) -> None:
    """Run the periodic jobs once: agreement sweep, queued e-mail, audit checkpoint."""
    from citydata.jobs import run_once

    out = run_once(_platform(ctx))
    click.echo(", ".join(f"{k}: {v}" for k, v in out.items()))



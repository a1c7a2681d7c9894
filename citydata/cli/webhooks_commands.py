"""Webhook commands: subscribe URLs to event streams, inspect and replay their deliveries."""

from __future__ import annotations

import json

import click

from citydata.cli import _platform, main
from citydata.cli.governance_commands import _as
from citydata.errors import field_error


@main.group()
def webhooks() -> None:
    """Signed webhooks: POST the events of a stream to a URL (see docs/webhooks.md)."""


def _filters(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise field_error("filter", f"{pair!r} is not NAME=VALUE")
        out[name.strip()] = value
    return out


@webhooks.command("add")
@click.argument("stream")
@click.argument("url")
@click.option("--filter", "filters", multiple=True, metavar="NAME=VALUE",
              help="One of the stream's filters (repeatable), e.g. type=application.decided.")
@click.option("--description", default="")
@click.option("--as", "as_user", default=None, help="Owned by this user (default: system).")
@click.pass_context
def webhooks_add(ctx: click.Context, stream: str, url: str, filters: tuple[str, ...],
                 description: str, as_user: str | None) -> None:
    """Subscribe URL to STREAM; prints the signing secret, shown only this once."""
    from citydata.events.webhooks import create

    with _as(ctx, as_user) as c:
        sub = create(_platform(ctx), c, {"stream": stream, "url": url,
                                         "filters": _filters(filters),
                                         "description": description})
        click.echo(f"Added webhook {sub.id}: {sub.stream} -> {sub.url}")
        click.echo(f"Secret (shown only now): {sub.secret}")


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def webhooks_list(ctx: click.Context, as_json: bool) -> None:
    """Every webhook, its status, cursor and delivery counts."""
    from citydata.events.webhooks import list_subscriptions, subscription_dicts

    with _as(ctx, None) as c:
        items = subscription_dicts(c.session, list_subscriptions(c))
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No webhooks yet: add one with `citydata webhooks add STREAM URL`.")
    for s in items:
        error = f"  last error: {s['last_error']}" if s["last_error"] else ""
        click.echo(f"{s['id']}  {s['status']:<6} {s['stream']:<12} {s['url']}\n"
                   f"    cursor {s['cursor']}, {s['delivered']} delivered, {s['failed']} "
                   f"failed, {s['retrying']} retrying, {s['dead']} dead{error}")


@webhooks.command("remove")
@click.argument("webhook_id")
@click.pass_context
def webhooks_remove(ctx: click.Context, webhook_id: str) -> None:
    """Unsubscribe a webhook (its retries and dead letters go too)."""
    from citydata.events.webhooks import delete

    with _as(ctx, None) as c:
        delete(c, webhook_id)
    click.echo(f"Removed webhook {webhook_id}")


@webhooks.command("pause")
@click.argument("webhook_id")
@click.pass_context
def webhooks_pause(ctx: click.Context, webhook_id: str) -> None:
    """Send nothing to a webhook until it is resumed (events wait)."""
    from citydata.events.webhooks import set_status

    with _as(ctx, None) as c:
        set_status(c, webhook_id, "paused")
    click.echo(f"Paused webhook {webhook_id}")


@webhooks.command("resume")
@click.argument("webhook_id")
@click.pass_context
def webhooks_resume(ctx: click.Context, webhook_id: str) -> None:
    """Resume a paused webhook from its cursor."""
    from citydata.events.webhooks import set_status

    with _as(ctx, None) as c:
        set_status(c, webhook_id, "active")
    click.echo(f"Resumed webhook {webhook_id}")


@webhooks.command("replay")
@click.argument("webhook_id")
@click.option("--from", "from_event_id", type=click.IntRange(min=0), required=True,
              help="Send again every matching event with an id above this (0: all).")
@click.pass_context
def webhooks_replay(ctx: click.Context, webhook_id: str, from_event_id: int) -> None:
    """Send a webhook's events again, delivered before or not."""
    from citydata.events.webhooks import replay

    with _as(ctx, None) as c:
        sub = replay(c, webhook_id, from_event_id)
        click.echo(f"Webhook {sub.id} will send again from event {sub.cursor + 1}")


@webhooks.command("deliveries")
@click.argument("webhook_id")
@click.option("--status", type=click.Choice(["retrying", "dead", "delivered"]), default=None)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def webhooks_deliveries(ctx: click.Context, webhook_id: str, status: str | None, limit: int,
                        as_json: bool) -> None:
    """A webhook's retries and dead letters (events that did not arrive at once)."""
    from citydata.events.webhooks import deliveries, delivery_dict

    with _as(ctx, None) as c:
        items = [delivery_dict(d) for d in deliveries(c, webhook_id, status or "", 0, limit)]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("Nothing waiting or given up on.")
    for d in items:
        due = f", next {d['next_attempt_at']}" if d["next_attempt_at"] else ""
        click.echo(f"event {d['event_id']:<8} {d['status']:<9} {d['attempts']} attempts"
                   f"{due}: {d['last_error'] or ''}")


@webhooks.command("dispatch-once")
@click.pass_context
def webhooks_dispatch_once(ctx: click.Context) -> None:
    """Run one dispatcher pass now (new events and due retries) and print what it did."""
    from citydata.events.webhooks import dispatch_once_sync

    report = dispatch_once_sync(_platform(ctx))
    click.echo(", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.items()))

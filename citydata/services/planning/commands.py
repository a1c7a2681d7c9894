"""``citydata planning``: the Planning Datahub's feeds, ingest runs, issue log, scorecard and
live replay, from the command line."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click


def _platform(ctx: click.Context) -> Any:
    from citydata.cli import _platform as platform_of  # the CLI loads this module

    return platform_of(ctx)


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@click.group()
def planning() -> None:
    """The Planning Datahub: London's planning applications as one live, normalised feed."""


@planning.command("feeds")
@click.pass_context
def feeds_cmd(ctx: click.Context) -> None:
    """List the authorities' feeds: applications held and the last run."""
    from citydata.services.planning import stats

    platform = _platform(ctx)
    with platform.db.session() as session:
        rows = stats.overview(session)
    for r in rows:
        last = r["last_run"]["status"] if r["last_run"] else "never run"
        click.echo(f"{r['slug']:<24} {r['lpa_code']}  {r['applications']:>7} applications  "
                   f"{last}")


@planning.command("ingest")
@click.argument("feeds", nargs=-1)
@click.option("--file", "location", default=None,
              help="Read this export instead of the feed's registered location (one feed).")
@click.option("--delta", is_flag=True, help="The export holds changes only (no 'missing').")
@click.option("--force", is_flag=True, help="Read the export even if it has not changed.")
@click.option("--json", "as_json", is_flag=True, help="Print the run reports as JSON.")
@click.option("--workers", default=1, show_default=True,
              help="Processes ingesting feeds at once (harmonising is CPU-bound).")
@click.option("--publish/--no-publish", default=True, show_default=True,
              help="Refresh the catalog dataset's snapshot when anything changed.")
@click.pass_context
def ingest_cmd(ctx: click.Context, feeds: tuple[str, ...], location: str | None, delta: bool,
               force: bool, as_json: bool, workers: int, publish: bool) -> None:
    """Ingest the feeds (all of them, or those named). Exit code 1 if a run failed."""
    from citydata.services.planning.ingest import run_feed
    from citydata.services.planning.service import ingest_all

    platform = _platform(ctx)
    kind = "delta" if delta else "full"
    if location:
        if len(feeds) != 1:
            raise click.UsageError("--file needs exactly one feed")
        reports = [run_feed(platform.db, feeds[0], location=location, kind=kind, force=force)]
    else:
        reports = ingest_all(platform, kind=kind, only=list(feeds) or None, force=force,
                             workers=max(1, workers))
    if as_json:
        _echo_json(reports)
    else:
        for r in reports:
            line = (f"{r['feed']}: {r['status']} — {r['rows_read']} rows read, {r['created']} "
                    f"new, {r['updated']} changed, {r['unchanged']} unchanged, "
                    f"{r['quarantined']} quarantined, {r['flagged']} with flagged values")
            click.echo(line)
            for note in r["notes"]:
                click.echo(f"  note: {note}")
            if r["error"]:
                click.secho(f"  error: {r['error']}", fg="red")
    if publish and any(r["created"] or r["updated"] for r in reports):
        from citydata.errors import CitydataError
        from citydata.services.planning.service import publish_dataset

        try:
            publish_dataset(platform)
        except CitydataError as exc:  # the ingest stands; say why the snapshot did not
            click.secho(f"The catalog dataset was not refreshed: {exc.message}", fg="yellow",
                        err=True)
    if any(r["status"] == "failed" for r in reports):
        sys.exit(1)


@planning.command("issues")
@click.option("--lpa", default=None, help="One authority's feed slug.")
@click.option("--code", default=None, help="Only this kind of issue (e.g. impossible_date).")
@click.option("--limit", default=50, show_default=True)
@click.pass_context
def issues_cmd(ctx: click.Context, lpa: str | None, code: str | None, limit: int) -> None:
    """The open issues: source values the pipeline did not take, and why."""
    from citydata.services.planning import history

    platform = _platform(ctx)
    with platform.db.session() as session:
        found = history.issues(session, feed=lpa, code=code, limit=limit)
    click.echo(f"{found['count']} open issues")
    for i in found["results"]:
        where = i["application"] or f"row {i['row']}"
        click.echo(f"{i['feed']:<20} {where:<28} {i['code']:<22} {i['field']}={i['value']!r}")


@planning.command("quality")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def quality_cmd(ctx: click.Context, as_json: bool) -> None:
    """The data quality scorecard of every authority."""
    from citydata.services.planning import stats

    platform = _platform(ctx)
    with platform.db.session() as session:
        cards = stats.scorecards(session)
    if as_json:
        _echo_json(cards)
        return
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v * 100:.0f}%"

    click.echo(f"{'authority':<40} {'apps':>6} {'complete':>8} {'valid':>6} {'lag d':>6} "
               f"{'issues':>6}")
    for c in cards:
        lag = c["timeliness_median_days"]
        click.echo(f"{c['lpa_name']:<40} {c['applications']:>6} "
                   f"{pct(c['completeness_overall']):>8} {pct(c['validity']):>6} "
                   f"{'-' if lag is None else lag:>6} {c['issues_open']:>6}")


@planning.command("publish")
@click.pass_context
def publish_cmd(ctx: click.Context) -> None:
    """Publish every application as the catalog dataset london-planning-applications."""
    from citydata.services.planning.service import publish_dataset

    ds = publish_dataset(_platform(ctx), progress=click.echo)
    click.echo(f"published {ds['name']}")


@planning.command("replay")
@click.option("--rate", default=60.0, show_default=True, help="Changes per minute.")
@click.option("--count", default=0, help="Stop after this many changes (0: run until Ctrl-C).")
@click.pass_context
def replay_cmd(ctx: click.Context, rate: float, count: int) -> None:
    """Emit live changes (new applications, validations, decisions) at a chosen rate, each
    through the pipeline as a small delta export, so subscribers see them as events."""
    from citydata.services.planning.service import Replayer

    if rate <= 0:
        raise click.BadParameter("a positive number of changes per minute", param_hint="--rate")
    replayer = Replayer(_platform(ctx))
    done = 0
    try:
        while not count or done < count:
            started = time.monotonic()
            for r in replayer.tick():
                click.echo(f"{r['feed']}: {r['created']} new, {r['updated']} changed"
                           + (f" ({r['error']})" if r["error"] else ""))
            done += 1
            time.sleep(max(0.0, 60.0 / rate - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass

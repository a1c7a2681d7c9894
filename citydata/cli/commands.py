"""Core commands: init, db, demo, serve, user, token, org, publish, search, gc."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

import click

from citydata.cli import _platform, main


@contextmanager
def _ctx(click_ctx: click.Context):
    from citydata.access.actors import Actor
    from citydata.catalog.context import Ctx

    platform = _platform(click_ctx)
    with platform.db.session() as session:
        yield Ctx(session, Actor.system(), platform.settings, platform.files)


@main.command()
@click.pass_context
def init(ctx: click.Context) -> None:
    """Create the database, or migrate it to the newest schema (safe to repeat)."""
    from citydata.storage.migrate import upgrade

    platform = _platform(ctx)
    rev = upgrade(platform.db)
    click.echo(f"Database ready at schema {rev}: {platform.db.engine.url.render_as_string()}")


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Migrate the database to the newest schema (idempotent)."""
    ctx.invoke(init)


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Load London reference data and the demo catalog (idempotent; fast when up to date)."""
    from rich.console import Console

    from citydata.storage.migrate import upgrade

    platform = _platform(ctx)
    upgrade(platform.db)
    console = Console(stderr=True)

    def progress(message: str) -> None:
        console.print(f"[dim]{message}[/dim]")

    for counts in platform.plugins.hook.citydata_demo(platform=platform, progress=progress):
        if counts:
            click.echo(", ".join(f"{k}: {v}" for k, v in counts.items()))


@main.command()
@click.option("--host", default=None, help="Interface to bind (default from CITYDATA_HOST).")
@click.option("--port", default=None, type=int, help="Port (default from CITYDATA_PORT, 8000).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
@click.option("--workers", default=1, type=int, help="Worker processes.")
@click.pass_context
def serve(
    ctx: click.Context, host: str | None, port: int | None, reload: bool, workers: int
) -> None:
    """Serve the web site and APIs with uvicorn."""
    import logging
    import os

    import uvicorn

    from citydata.ops.logging import configure_logging

    settings = _platform(ctx).settings
    host = host or settings.host
    port = port or settings.port
    os.environ.setdefault("CITYDATA_SITE_URL", f"http://{host}:{port}")
    # Our handler and format for every logger, uvicorn's too; the request middleware writes
    # the access lines (each worker process configures itself again in citydata.asgi).
    configure_logging(settings)
    if settings.log_format == "json":
        logging.getLogger("citydata").info("serving %s at http://%s:%s/",
                                           settings.site_title, host, port)
    else:
        click.echo(f"Serving {settings.site_title} at http://{host}:{port}/")
    uvicorn.run(
        "citydata.asgi:app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=None if reload else workers,
        log_level="info",
        log_config=None,
        access_log=False,
    )


@main.group()
def user() -> None:
    """Manage user accounts."""


@user.command("create")
@click.argument("name")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--fullname", default="")
@click.option("--sysadmin", is_flag=True, help="Give the user full rights over the site.")
@click.pass_context
def user_create(
    ctx: click.Context, name: str, email: str, password: str, fullname: str, sysadmin: bool
) -> None:
    """Create a user account."""
    from citydata.catalog.users import create_user

    with _ctx(ctx) as c:
        create_user(c.session, name, email, password, sysadmin=sysadmin, fullname=fullname)
    click.echo(f"Created user {name}{' (sysadmin)' if sysadmin else ''}")


@main.group()
def token() -> None:
    """Manage API tokens."""


@token.command("create")
@click.argument("user_name", metavar="USER")
@click.option("--name", default="cli", help="A label to recognise the token by.")
@click.option("--expires-days", type=int, default=None, help="Expire after this many days.")
@click.option("--scope", type=click.Choice(["read", "write", "admin"]), default="admin",
              show_default=True, help="What the token may do.")
@click.option("--agreement", default=None,
              help="Bind the token to this agreement: it reads governed data only under it.")
@click.pass_context
def token_create(ctx: click.Context, user_name: str, name: str, expires_days: int | None,
                 scope: str, agreement: str | None) -> None:
    """Create an API token for USER and print it (it is shown only once)."""
    from citydata.catalog.users import create_token

    with _ctx(ctx) as c:
        tok = create_token(c.session, c.actor, user_name, name=name, expires_days=expires_days,
                           scope=scope, agreement=agreement)
    click.echo(tok)


@main.group()
def org() -> None:
    """Manage organisations (publishers)."""


@org.command("create")
@click.argument("name")
@click.option("--title", default="")
@click.option("--description", default="")
@click.option("--kind", default="other", help="borough, gla, transport, utility, private, ...")
@click.option("--admin", "admin_user", default=None, help="User to make the organisation admin.")
@click.pass_context
def org_create(
    ctx: click.Context, name: str, title: str, description: str, kind: str, admin_user: str | None
) -> None:
    """Create an organisation."""
    from citydata.catalog.organizations import add_member, create_organization

    with _ctx(ctx) as c:
        create_organization(
            c.session,
            c.actor,
            {"name": name, "title": title, "description": description, "kind": kind},
        )
        if admin_user:
            add_member(c.session, c.actor, name, admin_user, "admin")
    click.echo(f"Created organisation {name}")


@org.command("member")
@click.argument("org_name", metavar="ORG")
@click.argument("user_name", metavar="USER")
@click.option("--role", type=click.Choice(["member", "editor", "admin"]), default="editor")
@click.pass_context
def org_member(ctx: click.Context, org_name: str, user_name: str, role: str) -> None:
    """Give USER a role in ORG."""
    from citydata.catalog.organizations import add_member

    with _ctx(ctx) as c:
        add_member(c.session, c.actor, org_name, user_name, role)
    click.echo(f"{user_name} is now {role} of {org_name}")


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_name", required=True, help="Publishing organisation (name).")
@click.option("--title", required=True, help="Dataset title.")
@click.option("--dataset", "dataset_name", default=None, help="Dataset name (URL slug).")
@click.option("--description", default="", help="Dataset description (Markdown).")
@click.option(
    "--access-level",
    default=None,
    type=click.Choice(["open", "registered", "shared", "restricted", "private"]),
)
@click.option("--reason", default=None,
              type=click.Choice(["personal-data", "special-category-data",
                                 "commercial-confidentiality", "security", "licence"]),
              help="Why the data is not open (required for restricted).")
@click.option("--discovery", default=None, type=click.Choice(["existence", "schema", "sample"]),
              help="What outsiders see of shared or restricted data.")
@click.option("--standard", default=None,
              help="Data standard the dataset follows (see 'citydata standards list').")
@click.pass_context
def publish(
    ctx: click.Context,
    file: Path,
    org_name: str,
    title: str,
    dataset_name: str | None,
    description: str,
    access_level: str | None,
    reason: str | None,
    discovery: str | None,
    standard: str | None,
) -> None:
    """Upload FILE into a dataset (created if needed); re-publishing adds a version.

    Tabular files are loaded so their rows can be queried; if the dataset follows a data
    standard, every row is checked and problems are listed. A file that cannot be read or
    fails its standard is kept with its report, the previous version stays live, and the
    command exits with status 1."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from citydata.catalog.publish import publish_file

    meta: dict = {"notes": description}
    if access_level:
        meta["access_level"] = access_level
    if reason:
        meta["restriction_reason"] = reason
    if discovery:
        meta["discovery"] = discovery
    if standard:
        meta["conforms_to"] = standard
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(f"Uploading {file.name}", total=file.stat().st_size)
        with _ctx(ctx) as c:
            ds, res = publish_file(
                c,
                file,
                org=org_name,
                title=title,
                dataset_name=dataset_name,
                metadata=meta,
                progress=lambda n: bar.advance(task, n),
            )
    new = max(res["versions"], key=lambda v: v["version"])
    click.echo(f"Uploaded {file.name} as version {new['version']} of resource {res['id']}")
    click.echo(f"Dataset: {ds['name']} ({len(ds['resources'])} resources)")
    _print_ingest_report(new, current=res["version"])
    if new["version"] != res["version"]:
        sys.exit(1)  # the upload was kept with its report but did not replace the live data


def _print_ingest_report(version: dict, *, current: int | None) -> None:
    """Say what happened to the rows: loaded, unreadable, or failing the standard."""
    report = version.get("report") or {}
    status = version.get("ingest_status")
    if status == "ok":
        cols = len(version.get("columns") or [])
        click.echo(f"Rows: {version['row_count']:,} in {cols} columns, queryable now")
    for warning in report.get("warnings", []):
        click.secho(f"Note: {warning}", fg="yellow")
    for error in report.get("errors", []):
        click.secho(f"Could not read the file: {error}", fg="red", err=True)
    validation = report.get("validation") or {}
    if validation.get("errors"):
        click.secho(
            f"{validation['error_count']:,} problems against {validation['standard']}:",
            fg="red",
            err=True,
        )
        for e in validation["errors"][:10]:
            click.echo(f"  row {e.get('row')}, {e.get('field')}: {e.get('message')}", err=True)
    if status in ("failed", "invalid") and current and current != version["version"]:
        click.secho(f"Version {current} stays current.", fg="yellow", err=True)


@main.command()
@click.argument("query", default="")
@click.option("--fq", default="", help="Filters, e.g. 'organization:camden tags:parking'.")
@click.option("--rows", default=20, type=int)
@click.pass_context
def search(ctx: click.Context, query: str, fq: str, rows: int) -> None:
    """Search the catalog as an anonymous visitor would."""
    from citydata.access.actors import Actor
    from citydata.catalog.search import search_datasets
    from citydata.storage.models import Dataset

    with _ctx(ctx) as c:
        found = search_datasets(c.session, Actor.anonymous(), q=query, fq=fq, rows=rows)
        click.echo(f"{found['count']} datasets found")
        for i in found["ids"]:
            ds = c.session.get(Dataset, i)
            if ds is not None:
                click.echo(f"  {ds.name:50}  {ds.title}")


@main.group()
def quality() -> None:
    """Dataset quality scores."""


@quality.command("refresh")
@click.pass_context
def quality_refresh(ctx: click.Context) -> None:
    """Re-assess every dataset (run daily: 'updated on time' depends on the date)."""
    from citydata.catalog.quality import refresh_all

    with _ctx(ctx) as c:
        changed = refresh_all(c.session)
    click.echo(f"{changed} datasets changed score")


@main.command()
@click.option(
    "--staging-age",
    default=3600,
    type=int,
    show_default=True,
    help="Only remove staging files and unreferenced stored files older than this many "
    "seconds (a file an upload is committing right now is younger).",
)
@click.pass_context
def gc(ctx: click.Context, staging_age: int) -> None:
    """Remove stale upload staging files, stored files no version refers to, and old search
    change-log entries. Run it daily."""
    from citydata.catalog.facet_index import prune_changes
    from citydata.catalog.resources import referenced_blobs

    platform = _platform(ctx)
    with platform.db.session() as session:
        referenced = referenced_blobs(session)
        prune_changes(session)
    removed = platform.files.collect_garbage(referenced, tmp_older_than=staging_age)
    click.echo(f"Removed {removed['tmp']} staging files and {removed['blobs']} unreferenced files")
    if "cache_evicted" in removed:
        click.echo(f"Removed {removed['cache_evicted']} cached copies of stored files; the cache "
                   f"now holds {removed['cache_bytes']:,} bytes")

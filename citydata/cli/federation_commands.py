"""Federation commands: harvest sources and jobs, inviting and joining nodes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from citydata.cli import _platform, main
from citydata.cli.governance_commands import _as


@main.group()
def harvest() -> None:
    """Harvest other catalogs (CKAN portals, DCAT catalogs, citydata nodes) into this one."""


@harvest.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["ckan", "dcat"]), required=True)
@click.option("--url", required=True, help="CKAN: the portal's base URL; DCAT: the catalog's.")
@click.option("--org", "organization", required=True,
              help="The organisation harvested datasets are catalogued under.")
@click.option("--schedule", type=click.Choice(["manual", "hourly", "daily", "weekly"]),
              default="manual", show_default=True)
@click.option("--title", default="")
@click.option("--api-key", default="", help="CKAN API token, if the portal needs one.")
@click.option("--include-private", is_flag=True,
              help="Also import records the source marks private (needs --api-key).")
@click.option("--as", "as_user", default=None, help="Act as this user (default: system).")
@click.pass_context
def harvest_add(ctx: click.Context, name: str, kind: str, url: str, organization: str,
                schedule: str, title: str, api_key: str, include_private: bool,
                as_user: str | None) -> None:
    """Add a harvest source."""
    from citydata.federation.harvest import add_source

    with _as(ctx, as_user) as c:
        source = add_source(c, {"name": name, "kind": kind, "url": url, "schedule": schedule,
                                "organization": organization, "title": title,
                                "api_key": api_key, "include_private": include_private})
        click.echo(f"Added {source.name} ({source.kind}, {source.schedule}): {source.url}")


@harvest.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def harvest_list(ctx: click.Context, as_json: bool) -> None:
    """Harvest sources, their schedule and last job."""
    from citydata.federation.harvest import harvested_count, list_sources, source_dict

    with _as(ctx, None) as c:
        items = [source_dict(s, last_job=j) | {"datasets": harvested_count(c.session, s)}
                 for s, j in list_sources(c.session)]
    if as_json:
        click.echo(json.dumps(items, indent=2))
        return
    if not items:
        click.echo("No harvest sources yet: add one with `citydata harvest add`.")
    for s in items:
        job = s.get("last_job")
        last = (f"last job {job['status']} {job['started'][:16]} (+{job['added']} "
                f"~{job['updated']} -{job['withdrawn']} !{job['errors']})" if job else
                "never run")
        stale = "  STALE" if s["stale"] else ""
        click.echo(f"{s['name']:<28} {s['kind']:<5} {s['schedule']:<7} "
                   f"{s['datasets']:>6} datasets  {last}{stale}")


@harvest.command("run")
@click.argument("name")
@click.option("--full", is_flag=True, help="Ignore the high-water mark: fetch everything.")
@click.pass_context
def harvest_run(ctx: click.Context, name: str, full: bool) -> None:
    """Harvest a source now and print the job report."""
    from citydata.federation.harvest import run_harvest

    report = run_harvest(_platform(ctx), name, full=full)
    _print_report(report)
    if report["status"] != "finished":
        sys.exit(1)


@harvest.command("report")
@click.argument("name")
@click.option("--job", "job_id", default=None, help="A job id (default: the latest).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def harvest_report(ctx: click.Context, name: str, job_id: str | None, as_json: bool) -> None:
    """The report of a source's latest (or a given) job, with every error."""
    from citydata.errors import NotFound
    from citydata.federation.harvest import get_source, job_report, last_job

    with _as(ctx, None) as c:
        source = get_source(c.session, name)
        if job_id is None:
            job = last_job(c.session, source)
            if job is None:
                raise NotFound(f"{name} has not been harvested yet")
            job_id = job.id
        report = job_report(c.session, job_id)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_report(report)


@harvest.command("set")
@click.argument("name")
@click.option("--title", default=None)
@click.option("--url", default=None, help="A new address (the next run is then a full one).")
@click.option("--schedule", type=click.Choice(["manual", "hourly", "daily", "weekly"]),
              default=None)
@click.option("--api-key", default=None)
@click.option("--include-private/--no-include-private", default=None)
@click.pass_context
def harvest_set(ctx: click.Context, name: str, title: str | None, url: str | None,
                schedule: str | None, api_key: str | None,
                include_private: bool | None) -> None:
    """Change a source's title, address, schedule or credentials."""
    from citydata.federation.harvest import update_source

    changes = {k: v for k, v in (("title", title), ("url", url), ("schedule", schedule),
                                 ("api_key", api_key), ("include_private", include_private))
               if v is not None}
    with _as(ctx, None) as c:
        source = update_source(c, name, changes)
        click.echo(f"{source.name}: {source.kind} {source.url}, {source.schedule}")


@harvest.command("remove")
@click.argument("name")
@click.option("--keep-datasets", is_flag=True, help="Keep what it harvested.")
@click.pass_context
def harvest_remove(ctx: click.Context, name: str, keep_datasets: bool) -> None:
    """Remove a source (and withdraw the datasets only it fed, unless --keep-datasets)."""
    from citydata.federation.harvest import remove_source

    with _as(ctx, None) as c:
        gone = remove_source(c, name, withdraw_datasets=not keep_datasets)
    click.echo(f"Removed {name}; {gone} datasets withdrawn")


def _print_report(r: dict) -> None:
    kind = "incremental" if r.get("incremental") else "full"
    click.echo(f"{r.get('source')}: job {r['id']} {r['status']} ({kind}, stage {r['stage']})")
    click.echo(f"  added {r['added']}, updated {r['updated']}, withdrawn {r['withdrawn']}, "
               f"unchanged {r['unchanged']}, skipped {r['skipped']}, errors {r['errors']}")
    if r.get("message"):
        click.echo(f"  {r['message']}")
    for e in r.get("error_records", [])[:20]:
        click.echo(f"  ! [{e['stage']}] {e['remote_id'] or '-'}: {e['message']}")
    if len(r.get("error_records", [])) > 20:
        click.echo(f"  … {len(r['error_records']) - 20} more (use --json)")


@main.group()
def federation() -> None:
    """Work with other citydata nodes: invite, join, list."""


@federation.command("invite")
@click.argument("node")
@click.option("--org", "organization", required=True,
              help="The local organisation the node's datasets are catalogued under.")
@click.pass_context
def federation_invite(ctx: click.Context, node: str, organization: str) -> None:
    """(Registry) A one-time code for NODE to join with (valid 7 days)."""
    from citydata.federation.nodes import invite

    with _as(ctx, None) as c:
        code = invite(c, node, organization)
    click.echo(code)


@federation.command("join")
@click.argument("registry_url")
@click.option("--code", required=True, help="The registration code the registry gave you.")
@click.pass_context
def federation_join(ctx: click.Context, registry_url: str, code: str) -> None:
    """(Owner node) Register this node with the registry at REGISTRY_URL."""
    from citydata.federation.nodes import join

    platform = _platform(ctx)
    result = join(platform.db, platform.settings, registry_url, code)
    reg = result["registry"]
    click.echo(f"Joined registry {reg['name']} at {reg['url']} (its key id {reg['key_id']}).")
    click.echo("The registry will harvest this node's catalog; data stays here.")


def _set_node_status(ctx: click.Context, node: str, status: str) -> None:
    from citydata.federation.nodes import set_status

    with _as(ctx, None) as c:
        set_status(c, node, status)
    click.echo(f"{node} is {status}")


@federation.command("suspend")
@click.argument("node")
@click.pass_context
def federation_suspend(ctx: click.Context, node: str) -> None:
    """Refuse NODE's signed requests, stop harvesting and searching it (e.g. a lost key)."""
    _set_node_status(ctx, node, "suspended")


@federation.command("resume")
@click.argument("node")
@click.pass_context
def federation_resume(ctx: click.Context, node: str) -> None:
    """Make a suspended NODE active again."""
    _set_node_status(ctx, node, "active")


@federation.command("nodes")
@click.pass_context
def federation_nodes(ctx: click.Context) -> None:
    """Nodes this node knows (its registry, or the members registered with it)."""
    from citydata.federation.nodes import list_nodes, node_dict, node_info

    platform = _platform(ctx)
    info = node_info(platform.settings)
    me = (f"{info['name']} (key id {info['key_id']})" if info.get("federated")
          else "not federated: set CITYDATA_NODE_NAME and run `citydata node-key create`")
    click.echo(f"This node: {me}")
    with _as(ctx, None) as c:
        for n in map(node_dict, list_nodes(c.session)):
            seen = n["last_seen"][:16] if n["last_seen"] else "never"
            err = f"  last error: {n['last_error']}" if n["last_error"] else ""
            click.echo(f"  {n['name']:<20} {n['role']:<8} {n['status']:<7} {n['url']}  "
                       f"seen {seen}{err}")


@main.command("demo-federation")
@click.option("--dir", "directory", default="var/federation", show_default=True,
              type=click.Path(path_type=Path), help="Where the three nodes live.")
@click.option("--base-port", default=8100, show_default=True, type=int,
              help="The registry's port; camden and hackney take the next two.")
def demo_federation(directory: Path, base_port: int) -> None:
    """Three federated nodes on this machine (registry, camden, hackney), served until Ctrl-C:
    see the README's federation walkthrough."""
    from citydata.demo.federation import main as run_demo

    run_demo(directory, base_port)

"""Datastore and standards commands: diff, standards list, standards show."""

from __future__ import annotations

import json

import click

from citydata.cli import _platform, main
from citydata.cli.commands import _ctx


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


@main.command()
@click.argument("resource_id")
@click.option("--from", "from_version", type=int, required=True, help="The older version.")
@click.option("--to", "to_version", type=int, required=True, help="The newer version.")
@click.option("--key", multiple=True, help="Key column identifying a row (repeatable).")
@click.option("--limit", type=int, default=20, show_default=True, help="Example rows shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@click.pass_context
def diff(
    ctx: click.Context,
    resource_id: str,
    from_version: int,
    to_version: int,
    key: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """Show the rows added, removed and changed between two versions of a resource."""
    from rich.console import Console
    from rich.table import Table

    from citydata.datastore.diff import diff_versions

    keys = [c.strip() for k in key for c in k.split(",") if c.strip()] or None
    with _ctx(ctx) as c:
        result = diff_versions(c, resource_id, from_version, to_version, key=keys, limit=limit)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    console = Console(width=120)
    s = result["summary"]
    how = {
        "given": "given",
        "standard": "from the dataset's standard",
        "detected": "detected",
        "row": "none: whole rows compared",
    }[result["key_source"]]
    console.print(
        f"Version {result['from']} ({s['rows_from']:,} rows) → version {result['to']} "
        f"({s['rows_to']:,} rows); key: {', '.join(result['key']) or '—'} ({how})"
    )
    summary = Table("added", "removed", "changed", "unchanged", title="Rows")
    summary.add_row(*(f"{s[k]:,}" for k in ("added", "removed", "changed", "unchanged")))
    console.print(summary)
    sch = result["schema"]
    for c in sch["added"]:
        console.print(f"Column added: {c['name']} ({c['type']})")
    for c in sch["removed"]:
        console.print(f"Column removed: {c['name']} ({c['type']})")
    for c in sch["retyped"]:
        console.print(f"Column retyped: {c['name']} {c['from']} → {c['to']}")
    for kind in ("added", "removed"):
        rows = result[kind]
        if rows:
            table = Table(*rows[0].keys(), title=f"{kind.capitalize()} rows")
            for row in rows:
                table.add_row(*(_cell(v) for v in row.values()))
            console.print(table)
    if result["changed"]:
        table = Table(*result["key"], "field", "old", "new", title="Changed rows")
        for row in result["changed"]:
            for change in row["changes"]:
                table.add_row(
                    *(_cell(v) for v in row["key"].values()),
                    change["field"],
                    _cell(change["old"]),
                    _cell(change["new"]),
                )
        console.print(table)


@main.group()
def standards() -> None:
    """The city's data standards (Table Schemas that datasets conform to)."""


@standards.command("list")
@click.pass_context
def standards_list(ctx: click.Context) -> None:
    """List every registered data standard and its versions."""
    from rich.console import Console
    from rich.table import Table

    from citydata.standards.registry import build_registry

    table = Table("name", "latest", "versions", "title")
    for s in build_registry(_platform(ctx).plugins).summaries():
        table.add_row(s["name"], s["latest"], ", ".join(s["versions"]), s["title"])
    Console(width=120).print(table)


@standards.command("show")
@click.argument("name")
@click.option("--version", default=None, help="A version; default the newest.")
@click.option("--json", "as_json", is_flag=True, help="Print the Table Schema as JSON.")
@click.pass_context
def standards_show(ctx: click.Context, name: str, version: str | None, as_json: bool) -> None:
    """Show one data standard: its fields and their constraints."""
    from rich.console import Console
    from rich.table import Table

    from citydata.standards.registry import build_registry

    schema = build_registry(_platform(ctx).plugins).get(name, version)
    if as_json:
        click.echo(json.dumps(schema, indent=2, ensure_ascii=False))
        return
    console = Console(width=120)
    console.print(f"{schema['name']}@{schema['version']}: {schema['title']}")
    if schema["description"]:
        console.print(schema["description"])
    pk = schema.get("primaryKey") or []
    table = Table("field", "type", "constraints", title=f"Primary key: {', '.join(pk) or '—'}")
    for f in schema["fields"]:
        cons = "; ".join(f"{k}={v}" for k, v in f["constraints"].items())
        table.add_row(f["name"], f["type"] + (f" ({f['format']})" if f.get("format") else ""), cons)
    console.print(table)

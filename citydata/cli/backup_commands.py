"""Backup and restore: one consistent archive of the database, stored files and audit chain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from citydata.cli import _platform, main


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it already exists.")
@click.option("--no-node-key", is_flag=True,
              help="Leave the node key out (keep it safe separately: without it a restored "
                   "node cannot sign, and signed audit checkpoints cannot be checked).")
@click.pass_context
def backup(ctx: click.Context, path: Path, force: bool, no_node_key: bool) -> None:
    """Write a consistent backup (database, stored files, audit chain, node key) to PATH, a
    .tar file; given a folder, a time-stamped file is written inside it. Safe while the
    server runs."""
    from citydata.storage.backup import backup as write_backup

    report = write_backup(_platform(ctx), path, overwrite=force, node_key=not no_node_key)
    click.echo(f"Backed up {report.tables} tables ({report.rows:,} rows) and {report.files} "
               f"stored files ({_size(report.file_bytes)}) to {report.path}")
    click.echo(f"Audit log head: entry {report.audit_seq} ({report.audit_hash[:16]}…)"
               + ("; node key included" if report.node_key else "; no node key"))


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Restore even if the database holds data: everything in it is replaced.")
@click.option("--check", "check_only", is_flag=True,
              help="Only verify the archive (every hash and row count); restore nothing.")
@click.pass_context
def restore(ctx: click.Context, path: Path, force: bool, check_only: bool) -> None:
    """Restore the backup at PATH into this instance's database and file store, then verify
    the audit chain. The database must be empty (or new) unless --force."""
    from citydata.storage.backup import Archive

    if check_only:
        with Archive(path) as archive:
            summary = archive.check()
            m = archive.manifest
        click.echo(f"{path} is intact: {summary['tables']} tables ({summary['rows']:,} rows) "
                   f"and {summary['files']} stored files, schema {m['schema_revision']}, "
                   f"made {m.get('created', '?')} on {m.get('backend', '?')}")
        return
    from citydata.storage.restore import restore as run_restore

    report = run_restore(_platform(ctx), path, force=force)
    click.echo(f"Restored {report.tables} tables ({report.rows:,} rows) and {report.files} "
               f"stored files from {report.path} (schema {report.revision}, made "
               f"{report.created} on {report.backend})")
    if report.node_key == "restored":
        click.echo("Restored the node key")
    elif report.node_key == "kept":
        click.secho("This node already has another node key, which was kept: checkpoints "
                    "signed with the backup's key are not checked", fg="yellow", err=True)
    if report.verification.ok:
        click.echo(report.verification.summary())
        return
    click.secho(report.verification.summary(), fg="red", err=True)
    sys.exit(1)

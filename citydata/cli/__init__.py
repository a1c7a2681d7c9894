"""The ``citydata`` command line. Each command is one library call; its docstring is its help."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from citydata.errors import CitydataError


class CitydataGroup(click.Group):
    """Turns domain errors into a clear message and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        from sqlalchemy.orm.exc import StaleDataError

        try:
            return super().invoke(ctx)
        except StaleDataError:
            click.secho("Error: someone else changed this at the same time; try again",
                        fg="red", err=True)
            sys.exit(1)
        except CitydataError as exc:
            click.secho(f"Error: {exc.message}", fg="red", err=True)
            for field, msgs in exc.fields.items():
                for msg in msgs:
                    click.echo(f"  {field}: {msg}", err=True)
            sys.exit(1)


def _platform(ctx: click.Context):
    if ctx.obj is None:
        from pydantic import ValidationError as SettingsError

        from citydata.platform import Platform
        from citydata.settings import Settings

        try:
            ctx.obj = Platform(Settings())
        except SettingsError as exc:
            raise click.ClickException(f"Bad settings: {exc.errors()[0]['msg']}") from None
    return ctx.obj


@click.group(cls=CitydataGroup)
@click.version_option(package_name="citydata")
@click.pass_context
def main(ctx: click.Context) -> None:
    """citydata: the city's data catalog, APIs and data services."""


from citydata.cli import (  # noqa: E402,F401  (registers commands)
    backup_commands,
    commands,
    datastore_commands,
    federation_commands,
    governance_commands,
    webhooks_commands,
)


def _load_plugin_commands() -> None:
    from citydata.plugins import get_plugin_manager

    for cmds in get_plugin_manager().hook.citydata_commands():
        for cmd in cmds or []:
            main.add_command(cmd)


_load_plugin_commands()

__all__ = ["main", "_platform", "Path"]

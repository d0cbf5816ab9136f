"""The CLI's shared state (configuration and database, opened lazily, with clear errors) and its
command group, which loads heavy commands on first use.

Nothing here is imported before a command needs it, so ``tracker --help`` stays fast: the config
(which imports the source registry) and the database layer (sqlite-utils) load on first use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import sqlite_utils

    from tracker.config import Config


class UsageProblem(click.ClickException):
    """A user error (bad config, missing database): one line on stderr, exit status 2."""

    exit_code = 2


@dataclass
class App:
    """What every command gets: ``--config`` / ``--db`` resolved on first use."""

    config_path: str | None
    db_override: str | None
    _config: Config | None = field(default=None, repr=False)
    migrations_ran: list[str] = field(default_factory=list)

    @property
    def config(self) -> Config:
        if self._config is None:
            from tracker.config import ConfigError, load_config  # the source registry loads only when needed

            try:
                self._config = load_config(self.config_path, self.db_override)
            except ConfigError as exc:
                raise UsageProblem(f"invalid configuration: {exc}") from None
        return self._config

    @property
    def db_path(self) -> Path:
        return Path(self.config.database_path)

    def open_db(self, create: bool = False) -> sqlite_utils.Database:
        """The database; ``create`` makes (or migrates) it, otherwise it must exist and be initialised."""
        from db.schema import applied_migrations, connect, ensure_schema  # sqlite-utils loads only when needed

        path = self.db_path
        if not path.parent.exists():
            raise UsageProblem(f"database directory does not exist: {path.parent.resolve()}")
        if not create and not path.exists():
            raise UsageProblem(f"database not found: {path} (run `tracker init` first)")
        try:
            db = connect(path)
            if create:
                self.migrations_ran = ensure_schema(db)
            elif not applied_migrations(db):
                raise UsageProblem(f"{path} is not a policy-tracker database (run `tracker init`)")
        except Exception as exc:  # sqlite3.DatabaseError on a file that is not SQLite, permissions...
            if isinstance(exc, click.ClickException):
                raise
            raise UsageProblem(f"cannot open database {path}: {exc}") from None
        return db


pass_app = click.make_pass_decorator(App)


class CommandGroup(click.Group):
    """The `tracker` command group: ``LAZY`` commands are imported on first use; ``--help`` lists them with
    their one-line help from here, so listing does not import them."""

    LAZY = {"serve": ("tracker.serve", "serve",
                      "Datasette over the database (read-only for the web) with metadata, canned queries and plugins.")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY and name not in self.commands:
            module, attribute, _ = self.LAZY[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in self.LAZY and name not in self.commands:
                rows.append((name, click.utils.make_default_short_help(self.LAZY[name][2], limit)))
            elif not (command := self.get_command(ctx, name)).hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


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

    def open_db(self, create: bool = False, write: bool | None = None, check: bool | None = None) -> sqlite_utils.Database:
        """The database; ``create`` makes (or migrates) it, otherwise it must exist and be initialised.

        Guards, each a one-line `UsageProblem`: a missing directory or database; a read-only location
        when writing (``write``, default ``create``); a damaged header (always, microseconds); SQLite's
        quick check (``check``, default ``write``: a writer refuses a corrupted file before it writes;
        ~0.6 s per GB cached, so past 1 GB a writer repeats it only once a day, `db.schema.integrity_due`;
        ``check=True`` always runs it); a database from a newer schema (always, before any write).
        """
        from db.schema import (DatabaseCorrupt, DatabaseProblem, applied_migrations, check_header, check_integrity,
                               check_version, connect, ensure_schema, integrity_due, record_integrity)

        path = self.db_path
        write = create if write is None else write
        always = check is True  # asked for (`tracker status`); a writer's default check is bounded by size and age
        check = write if check is None else check
        if not path.parent.exists():
            raise UsageProblem(f"database directory does not exist: {path.parent.resolve()}")
        if not create and not path.exists():
            raise UsageProblem(f"database not found: {path} (run `tracker init` first)")
        if write and (problem := read_only(path)):
            raise UsageProblem(f"cannot write database {path}: {problem}")
        try:
            if path.exists():
                check_header(path)
            db = connect(path, read_only=not write and path.exists() and read_only(path) is not None)
            check_version(db)
            if check and path.exists() and (always or integrity_due(db, path.stat().st_size)):
                check_integrity(db)
                if write:
                    record_integrity(db)
            if create:
                self.migrations_ran = ensure_schema(db)
            elif not applied_migrations(db):
                raise UsageProblem(f"{path} is not a policy-tracker database (run `tracker init`)")
        except DatabaseProblem as exc:
            hint = "; nothing was written: restore a backup (or sqlite3's .recover)" if isinstance(exc, DatabaseCorrupt) else ""
            raise UsageProblem(f"cannot open database {path}: {exc}{hint}") from None
        except Exception as exc:  # sqlite3.DatabaseError on a file that is not SQLite, permissions...
            if isinstance(exc, click.ClickException):
                raise
            raise UsageProblem(f"cannot open database {path}: {exc}") from None
        return db


def read_only(path: Path) -> str | None:
    """Why the database at ``path`` cannot be written (a read-only file, directory or file system), or
    None. SQLite also writes ``-wal`` / ``-shm`` files beside it, so the directory must be writable."""
    import os

    if path.exists() and not os.access(path, os.W_OK):
        return f"the file is read-only for this user{_mount_hint(path)}"
    if not os.access(path.parent, os.W_OK):
        return f"the directory {path.parent.resolve()} is read-only for this user{_mount_hint(path.parent)}"
    return None


def _mount_hint(path: Path) -> str:
    import os

    try:
        return " (read-only file system)" if os.statvfs(path).f_flag & os.ST_RDONLY else ""
    except OSError:
        return ""


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not permitted, unknown host), or None when it is
    free; probed with ``SO_REUSEADDR`` like the server will be, so a port in TIME_WAIT is free."""
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (OSError, UnicodeError) as exc:
        return f"cannot resolve {host!r}: {getattr(exc, 'strerror', None) or exc}"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


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


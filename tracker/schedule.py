"""What `tracker schedule --cron | --systemd` does (declared in `tracker.cli`): print a working scheduler configuration for this installation.

Both run `tracker run` (the tick) every 15 minutes by default with absolute paths: the `tracker`
executable (the one running now, else the one on PATH), the configuration file and the database.
Secrets (SMTP URL, API keys) stay out of the output: cron reads them from the environment file
sourced before the command, systemd from ``EnvironmentFile=``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

import click

from tracker.app import App, UsageProblem

UNIT = "policy-tracker"


def tracker_executable() -> str:
    """Absolute path of the `tracker` console script: sys.argv[0] when that is it, else the one installed
    beside the running interpreter (``python -m tracker``, a venv that is not on PATH), else PATH."""
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "tracker":
        resolved = argv0 if argv0.is_absolute() else Path(shutil.which(str(argv0)) or argv0).absolute()
        if resolved.exists():
            return str(resolved)
    beside = Path(sys.executable).absolute().parent / "tracker" if sys.executable else None
    if beside is not None and beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("tracker")
    if found:
        return str(Path(found).absolute())
    raise UsageProblem("cannot find the `tracker` executable (install the package so that `tracker` is on PATH)")


def command_line(app: App) -> list[str]:
    """``tracker [--config ABS] --db ABS run`` for this installation."""
    args = [tracker_executable()]
    if app.config.path is not None:
        args += ["--config", str(Path(app.config.path).resolve())]
    args += ["--db", str(app.db_path.resolve()), "run"]
    return args


def every_minutes(every: str, seconds: float) -> int:
    """``--every`` (given as ``every``, parsed to ``seconds``) as whole minutes a scheduler can express."""
    minutes = seconds / 60
    if minutes < 1 or minutes != int(minutes) or (minutes < 60 and 60 % minutes) or (minutes >= 60 and minutes % 60):
        raise UsageProblem(f"--every: expected whole minutes dividing an hour (5m, 10m, 15m, 30m) or whole hours, got {every!r}")
    return int(minutes)


def cron_text(app: App, minutes: int) -> str:
    args = command_line(app)
    env_file = app.db_path.resolve().parent / "tracker.env"
    log_file = app.db_path.resolve().parent / "tracker-run.log"
    when = f"*/{minutes} * * * *" if minutes < 60 else f"0 */{minutes // 60} * * *"
    command = " ".join(shlex.quote(a) for a in args)
    return (
        "# policy-tracker: the scheduled tick (install with `crontab -e`).\n"
        f"# Secrets (TRACKER_SMTP_URL, API keys) go in {env_file} as `export NAME=value` lines.\n"
        f"# Overlapping ticks are prevented by a lock in the database.\n"
        f"{when} " + (f"[ -f {shlex.quote(str(env_file))} ] && . {shlex.quote(str(env_file))}; "
                      f"{command} >> {shlex.quote(str(log_file))} 2>&1").replace("%", "\\%") + "\n"  # cron: % is a newline
    )


def systemd_units(app: App, minutes: int) -> dict[str, str]:
    args = command_line(app)
    workdir = app.db_path.resolve().parent
    calendar = f"*:0/{minutes}" if minutes < 60 else f"0/{minutes // 60}:00"
    service = (
        "[Unit]\n"
        "Description=policy-tracker tick: crawl due sources, NLP, send due digests\n"
        "Wants=network-online.target\n"
        "After=network-online.target\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"WorkingDirectory={_specifiers(workdir)}\n"
        f"# Secrets (TRACKER_SMTP_URL=..., API keys) as NAME=value lines; the file is optional.\n"
        f"EnvironmentFile=-{_specifiers(workdir / 'tracker.env')}\n"
        f"ExecStart={' '.join(_systemd_quote(a) for a in args)}\n"
        "TimeoutStartSec=6h\n"
        "Nice=10\n"
    )
    timer = (
        "[Unit]\n"
        "Description=Run the policy-tracker tick periodically\n"
        "\n"
        "[Timer]\n"
        f"OnCalendar={calendar}\n"
        "Persistent=true\n"
        "RandomizedDelaySec=60\n"
        f"Unit={UNIT}.service\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )
    return {f"{UNIT}.service": service, f"{UNIT}.timer": timer}


def _specifiers(path: Path) -> str:
    """A path for a unit setting: ``%`` starts a specifier there (``%h`` is the home directory)."""
    return str(path).replace("%", "%%")


def _systemd_quote(arg: str) -> str:
    if arg and not any(c in arg for c in ' "\'\\;$%'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$") + '"'


def emit(app: App, kind: str, minutes: int, out_dir: str | None) -> None:
    """Print the crontab line or the systemd units (``kind``), or write the units into ``out_dir``."""
    if kind == "cron":
        click.echo(cron_text(app, minutes), nl=False)
        return
    units = systemd_units(app, minutes)
    if out_dir:
        target = Path(out_dir)
        if not target.is_dir():  # never created silently: a typo would install units nowhere systemd looks
            raise UsageProblem(f"--write: no such directory: {target} (create it first)")
        for name, text in units.items():
            try:
                (target / name).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UsageProblem(f"--write: cannot write {target / name}: {exc.strerror or exc}") from None
            click.echo(f"wrote {target / name}")
        click.echo(f"then: systemctl daemon-reload && systemctl enable --now {UNIT}.timer")
        return
    for name, text in units.items():
        click.echo(f"# ---- {name} ----")
        click.echo(text)
    click.echo(f"# install: copy both into /etc/systemd/system/, then systemctl daemon-reload && "
               f"systemctl enable --now {UNIT}.timer")

"""PLACEHOLDER: being written by another engineer; replace this whole module."""

import click


@click.command("run")
def run() -> None:
    """(in progress)"""
    raise click.ClickException("not implemented yet")

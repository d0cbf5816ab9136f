"""What the project's own Datasette routes (`/-/diff/...`, `/-/feeds/...`) share: which database a
request is about, and whether its actor may read it."""

from __future__ import annotations

from datasette.utils.asgi import Forbidden


def target_database(datasette, request) -> str | None:
    """The database named by ``?db=`` (None if there is no such database), else the first served one."""
    wanted = request.args.get("db")
    names = [n for n in datasette.databases if not n.startswith("_")]
    if wanted:
        return wanted if wanted in names else None
    return names[0] if names else None


async def allowed(datasette, request, permissions: list) -> bool:
    """True when the request's actor has every permission (Datasette's ``ensure_permissions`` form)."""
    try:
        await datasette.ensure_permissions(request.actor, permissions)
    except Forbidden:
        return False
    return True

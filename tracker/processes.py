"""Whether a process on this host is still alive: how the tick lock and a digest's delivery claim tell a
holder that died from one still at work."""

from __future__ import annotations

import os


def pid_alive(pid: int | None) -> bool:
    """True when a process with this id exists on this host (owned by anyone)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True

"""A replay upstream: a real HTTP server on 127.0.0.1 (pytest-httpserver) answering from recorded files.

Routes match on the path and, optionally, on a predicate over the request (query parameters, body,
headers); each route can be limited to a number of uses, so a test can script "500 twice, then
200" or "200 with an ETag, then 304". Every request is logged for assertions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug import Request, Response

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass
class Route:
    path: str
    body: bytes | Callable[[Request], Response]
    status: int = 200
    headers: dict = field(default_factory=dict)
    when: Callable[[Request], bool] | None = None
    times: int | None = None


class Replay:
    """Register routes, point a source's base_url at ``url()``, inspect ``requests`` afterwards."""

    def __init__(self, httpserver):
        self.server = httpserver
        self.routes: list[Route] = []
        self.requests: list[Request] = []
        httpserver.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def url(self, path: str = "") -> str:
        return self.server.url_for(path).rstrip("/") if not path else self.server.url_for(path)

    def add(self, path: str, body: bytes | str | Path | Callable = b"", status: int = 200,
            headers: dict | None = None, content_type: str | None = None,
            when: Callable[[Request], bool] | None = None, times: int | None = None) -> Route:
        if isinstance(body, Path):
            body = body.read_bytes()
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = dict(headers or {})
        if content_type:
            headers["Content-Type"] = content_type
        route = Route(path, body, status, headers, when, times)
        self.routes.insert(0, route)  # later registrations win, so a test can override a default
        return route

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def _handle(self, request: Request) -> Response:
        self.requests.append(request)
        for route in self.routes:
            if route.path != request.path or (route.when and not route.when(request)):
                continue
            if route.times is not None:
                if route.times <= 0:
                    continue
                route.times -= 1
            if callable(route.body):
                return route.body(request)
            return Response(route.body, status=route.status, headers=route.headers)
        return Response(b"not recorded", status=404)

"""A replay upstream for the demo: a real HTTP server on 127.0.0.1 answering from recorded files.

Standard library only (``http.server.ThreadingHTTPServer`` on a free port, in a daemon thread). The
routes come from ``recordings/manifest.json``; each route is::

    {"method": "GET", "path": "/federal-register/api/v1/documents.json",
     "query": {"conditions[term]": "LOGINK", "page": null},   # listed keys must match (null: absent)
     "json": {"offsetMark": "*", "query": {"prefix": "\\"LOGINK\\""}},  # POST JSON body keys (optional)
     "accept": "application/pdf",                             # the Accept header must contain this
     "file": "federal-register/documents_page1.json",          # relative to the recordings directory
     "content_type": "application/json", "status": 200, "headers": {},
     "etag": "\\"v1\\"", "last_modified": "...",              # optional: conditional GET answers 304
     "rewrite": true,                                         # replace the manifest's "hosts" in the body
     "phase": [2]}                                            # only in these crawl passes (default: all)

Routes are tried in manifest order; the first that matches answers. A request nothing matches gets
``404 not recorded`` and is remembered in ``misses`` (a recording gap shows up as a source error).
``hosts`` maps upstream origins written in project-made recordings (``https://harbourledger.example``)
to a path on this server (``/news-rss/hl``), or to ``localhost:/...`` for the other loopback name
(so a cross-site link stays cross-site).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

MAX_REQUEST_BODY = 1_000_000
SOCKET_TIMEOUT_S = 10


@dataclass
class Route:
    """One recorded answer and the requests it matches."""

    method: str
    path: str
    body: bytes
    status: int = 200
    content_type: str | None = None
    headers: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    json: dict = field(default_factory=dict)
    accept: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    rewrite: bool = False
    phases: tuple[int, ...] | None = None

    def matches(self, method: str, path: str, query: dict[str, list[str]], body: bytes, accept: str, phase: int) -> bool:
        if method != self.method or path != self.path or (self.phases and phase not in self.phases):
            return False
        if self.accept and self.accept not in accept:
            return False
        for key, expected in self.query.items():
            values = query.get(key)
            if expected is None:
                if values:
                    return False
            elif not values or values[0] != expected:
                return False
        if self.json:
            try:
                sent = json.loads(body or b"{}")
            except ValueError:
                return False
            for key, expected in self.json.items():
                value = sent.get(key) if isinstance(sent, dict) else None
                if isinstance(expected, dict) and "prefix" in expected:
                    if not (isinstance(value, str) and value.startswith(expected["prefix"])):
                        return False
                elif value != expected:
                    return False
        return True


def load_manifest(directory: Path) -> tuple[list[Route], dict[str, str]]:
    """The routes and host map of ``directory/manifest.json``; files are read once, here."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    routes = []
    for spec in manifest["routes"]:
        body = (directory / spec["file"]).read_bytes() if spec.get("file") else spec.get("body", "").encode("utf-8")
        routes.append(Route(
            method=spec.get("method", "GET"), path=spec["path"], body=body, status=spec.get("status", 200),
            content_type=spec.get("content_type"), headers=dict(spec.get("headers", {})),
            query=dict(spec.get("query", {})), json=dict(spec.get("json", {})), accept=spec.get("accept"), etag=spec.get("etag"),
            last_modified=spec.get("last_modified"), rewrite=bool(spec.get("rewrite")),
            phases=tuple(spec["phase"]) if spec.get("phase") else None,
        ))
    return routes, dict(manifest.get("hosts", {}))


def manifest_files(directory: Path) -> list[str]:
    """Every file the manifest names (relative paths), for packaging checks."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    return sorted({spec["file"] for spec in manifest["routes"] if spec.get("file")})


class ReplayServer:
    """The recorded upstream on ``http://127.0.0.1:<free port>``; use as a context manager.

    ``phase`` selects the crawl pass (routes limited to other passes are skipped); ``requests`` counts
    what was answered, ``misses`` lists what was not recorded.
    """

    def __init__(self, directory: Path):
        self.routes, self.hosts = load_manifest(directory)
        self.phase = 1
        self.requests = 0
        self.misses: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-replay", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "") -> str:
        return f"http://{self.netloc}{path}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self, method: str, target: str, body: bytes, headers) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body for one request."""
        parts = urlsplit(target)
        path, query = unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)
        accept = headers.get("Accept", "")
        route = next((r for r in self.routes if r.matches(method, path, query, body, accept, self.phase)), None)
        with self._lock:
            self.requests += 1
            if route is None:
                self.misses.append(f"{method} {target}")
        if route is None:
            return 404, {"Content-Type": "text/plain"}, b"not recorded"
        out = dict(route.headers)
        if route.content_type:
            out["Content-Type"] = route.content_type
        if route.etag:
            out["ETag"] = route.etag
        if route.last_modified:
            out["Last-Modified"] = route.last_modified
        if (route.etag and headers.get("If-None-Match") == route.etag) or (
                route.last_modified and not route.etag and headers.get("If-Modified-Since") == route.last_modified):
            return 304, {k: v for k, v in out.items() if k != "Content-Type"}, b""
        payload = route.body
        if route.rewrite:
            payload = self._rewrite(payload)
        return route.status, out, payload

    def _rewrite(self, payload: bytes) -> bytes:
        text = payload.decode("utf-8")
        for origin, target in self.hosts.items():
            host, _, path = target.partition(":") if target.startswith("localhost:") else ("127.0.0.1", "", target)
            text = text.replace(origin, f"http://{host}:{self.port}{path}")
        return text.encode("utf-8")


def _handler_for(server: ReplayServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = SOCKET_TIMEOUT_S

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BODY:
                self._send(413, {"Content-Type": "text/plain"}, b"request body too large")
                return
            body = self.rfile.read(length) if length else b""
            self._send(*server.answer(self.command, self.path, body, self.headers))

        def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status not in (204, 304):
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if status not in (204, 304) and self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_HEAD = _serve

        def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
            """Quiet: the demo prints its own progress."""

    return Handler

"""A raw TCP server on 127.0.0.1 for faults an HTTP framework cannot produce: resets mid-body,
bodies shorter than their Content-Length, stalls, a status line or headers trickled a byte at a
time. Each accepted connection gets the next scripted behaviour (the last one repeats)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

Behaviour = Callable[[socket.socket], None]


def respond(raw: bytes, close: bool = True, delay_s: float = 0.0) -> Behaviour:
    """Send ``raw`` (after ``delay_s``), then close the connection."""

    def behave(conn: socket.socket) -> None:
        conn.recv(65536)
        if delay_s:
            time.sleep(delay_s)
        conn.sendall(raw)
        if close:
            conn.close()

    return behave


def reset_after(raw: bytes) -> Behaviour:
    """Send part of a response, then reset the connection (RST, not FIN)."""

    def behave(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(raw)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    return behave


def trickle(head: bytes, rest: bytes, every_s: float) -> Behaviour:
    """Send ``head`` at once, then ``rest`` one byte every ``every_s`` seconds (each read of the
    client returns a byte, so no read timeout ever fires), until the client goes away."""

    def behave(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(head)
        for byte in rest:
            time.sleep(every_s)
            conn.sendall(bytes([byte]))
        conn.close()

    return behave


class RawServer:
    def __init__(self, behaviours: list[Behaviour]):
        self.behaviours = behaviours
        self.connections = 0
        self.closed_at: list[float] = []  # monotonic time each behaviour ended (client gone or done)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            behaviour = self.behaviours[min(self.connections, len(self.behaviours) - 1)]
            self.connections += 1
            threading.Thread(target=self._run, args=(behaviour, conn), daemon=True).start()

    def _run(self, behaviour: Behaviour, conn: socket.socket) -> None:
        try:
            behaviour(conn)
        except OSError:
            pass
        finally:
            self.closed_at.append(time.monotonic())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

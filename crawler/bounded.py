"""A persistent child process that extracts PDF and DOCX text under hard limits.

pypdf and python-docx can spend minutes and gigabytes on a few kilobytes of hostile input (pages
sharing one huge content stream, a zip whose document.xml inflates 300x). So `extract` sends the
bytes to a worker process (``python -m crawler.bounded``) that runs `crawler.pdfdocx` with an
address-space limit (RLIMIT_AS = ``memory_mb``) and a CPU limit per document (RLIMIT_CPU), while
the parent waits at most ``timeout_s`` and kills the worker past it. The worker stays up between
documents (start-up costs about 0.3 s once; see docs/reliability.md for the per-document overhead);
a killed or dead worker is replaced on the next call. Calls are serialised by a lock: one worker
per crawling process.

Wire format, both ways: a 4-byte big-endian length, then a JSON header; requests are followed by
an 8-byte length and the document bytes. Nothing is unpickled.
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
from importlib import import_module
from pathlib import Path

from crawler.errors import ExtractionLimit, ParseError
from crawler.limits import ExtractLimits

log = logging.getLogger("crawler.extract")

KINDS = {"pdf": "pdf_text", "docx": "docx_text"}  # functions of crawler.pdfdocx
_ROOT = str(Path(__file__).resolve().parent.parent)


class _Worker:
    """The parent's handle on one worker process (its memory limit is fixed at start)."""

    def __init__(self, memory_mb: int):
        self.memory_mb = memory_mb
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [_ROOT, os.environ.get("PYTHONPATH")])))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crawler.bounded", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, close_fds=True)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> str:
        """End the process; say how it ended (for the error message)."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()
        return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"

    def call(self, header: dict, content: bytes, timeout_s: float) -> dict | None:
        """Send one document, return the reply, or None when the worker died or ran out of time."""
        try:
            self.proc.stdin.write(_frame(header) + struct.pack(">Q", len(content)) + content)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        end = time.monotonic() + timeout_s
        data = self._read(4, end)
        if data is None:
            return None
        body = self._read(struct.unpack(">I", data)[0], end)
        return None if body is None else json.loads(body)

    def _read(self, size: int, end: float) -> bytes | None:
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while got < size:
                remaining = end - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(fd, min(size - got, 1 << 20))
                if not chunk:
                    return None
                chunks.append(chunk)
                got += len(chunk)
        return b"".join(chunks)


_lock = threading.Lock()
_worker: _Worker | None = None


def extract(kind: str, content: bytes, limits: ExtractLimits) -> tuple[str, list[str]]:
    """Text and warnings of a ``pdf`` or ``docx`` document, extracted in the worker within ``limits``.
    Raises `ParseError` for broken input and `ExtractionLimit` (logged as a warning) over a limit."""
    global _worker
    with _lock:
        if _worker is None or not _worker.alive() or _worker.memory_mb != limits.memory_mb:
            if _worker is not None:
                _worker.kill()
            _worker = _Worker(limits.memory_mb)
        started = time.monotonic()
        reply = _worker.call({"kind": kind, "limits": limits.as_dict()}, content, limits.timeout_s)
        if reply is None:
            ended = _worker.kill()
            _worker = None
            if time.monotonic() - started >= limits.timeout_s:
                reason = f"took longer than extract_timeout_s = {limits.timeout_s:g}"
            else:
                reason = (f"ended the extraction process ({ended}; limits: extract_memory_mb = {limits.memory_mb}, "
                          f"CPU {limits.timeout_s:g} s)")
            error = ExtractionLimit(f"{kind.upper()} {reason}")
        elif "error" in reply:
            error = (ExtractionLimit if reply["error"] == "limit" else ParseError)(reply["message"])
            if reply.get("restart"):
                _worker.kill()
                _worker = None
        else:
            return reply["text"], reply["warnings"]
    if isinstance(error, ExtractionLimit):
        log.warning("extraction refused: %s", error)
    raise error


def _frame(header: dict) -> bytes:
    data = json.dumps(header).encode("utf-8")
    return struct.pack(">I", len(data)) + data


def _read_exact(stream, size: int) -> bytes | None:
    data = stream.read(size)
    return data if data is not None and len(data) == size else None


def _serve(memory_mb: int) -> None:
    """The worker's loop: one document per request until stdin closes."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    logging.disable(logging.CRITICAL)  # pypdf's warnings about broken files are not ours to print
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print cannot corrupt the replies
    source = sys.stdin.buffer
    pdfdocx = import_module("crawler.pdfdocx")
    while (size := _read_exact(source, 4)) is not None:
        header = json.loads(_read_exact(source, struct.unpack(">I", size)[0]))
        content = _read_exact(source, struct.unpack(">Q", _read_exact(source, 8))[0])
        limits = ExtractLimits(**header["limits"])
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = math.ceil(used.ru_utime + used.ru_stime + limits.timeout_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, resource.RLIM_INFINITY))
        try:
            text, warnings = getattr(pdfdocx, KINDS[header["kind"]])(content, limits)
            reply = {"text": text, "warnings": warnings}
        except ExtractionLimit as exc:
            reply = {"error": "limit", "message": str(exc)}
        except ParseError as exc:
            reply = {"error": "parse", "message": str(exc)}
        except MemoryError:  # the heap may be fragmented or half-freed: this worker ends after replying
            reply = {"error": "limit", "message": f"{header['kind'].upper()} needs more than extract_memory_mb = {memory_mb}",
                     "restart": True}
        except Exception as exc:  # noqa: BLE001 - a library bug on hostile input is an unreadable document
            reply = {"error": "parse", "message": f"unreadable {header['kind'].upper()}: {type(exc).__name__}: {exc}"}
        del content
        out.write(_frame(reply))
        out.flush()
        if reply.get("restart"):
            return


if __name__ == "__main__":
    _serve(int(sys.argv[1]))

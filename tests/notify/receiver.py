"""A real webhook receiver for tests: a stdlib ThreadingHTTPServer on 127.0.0.1 that records every request
and answers from a script (status, headers) — 200 once the script runs out — optionally holding requests
until released, to stand for a receiver that hangs."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

SAFETY_TIMEOUT = 30.0   # seconds: only so a broken test fails instead of hanging; never a pass/fail threshold


@dataclass
class Received:
    path: str
    headers: httpx.Headers
    body: bytes
    status: int
    at: datetime | None       # the notifier's (virtual) clock when the request arrived

    def json(self) -> Any:
        return json.loads(self.body)


def verify(secret: str, headers: httpx.Headers, body: bytes) -> bool:
    """The receiver side as docs/notifications.md describes it, written independently of fleet.notify."""
    ts = headers.get("x-fleet-timestamp", "")
    sig = headers.get("x-fleet-signature", "")
    expected = "sha256=" + hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return bool(ts) and hmac.compare_digest(expected, sig)


class Receiver:
    def __init__(self, script: list[tuple[int, dict[str, str]]] | None = None, *,
                 clock: Callable[[], datetime] | None = None, hold: threading.Event | None = None):
        self.script = list(script or [])
        self.clock = clock
        self.hold = hold                 # when set up, each request waits for it before answering
        self.requests: list[Received] = []
        self.in_flight = 0
        self.cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = outer.clock() if outer.clock else None
                with outer.cond:
                    outer.in_flight += 1
                    outer.cond.notify_all()
                if outer.hold is not None:
                    outer.hold.wait(SAFETY_TIMEOUT)
                with outer.cond:
                    status, headers = outer.script.pop(0) if outer.script else (200, {})
                    outer.requests.append(Received(self.path, httpx.Headers(dict(self.headers.items())), body,
                                                   status, at))
                    outer.in_flight -= 1
                    outer.cond.notify_all()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_until(self, pred: Callable[[Receiver], bool]) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self), SAFETY_TIMEOUT):
                raise AssertionError(f"receiver: condition not met; got {[r.status for r in self.requests]}")

    def delivered(self) -> list[Received]:
        with self.cond:
            return [r for r in self.requests if 200 <= r.status < 300]

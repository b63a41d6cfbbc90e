"""A small recording HTTP server that the cloud emulators build on (stdlib only, no SDK).

Routes are ``(METHOD, regex, handler)``; a handler gets ``(match, body, request)`` and returns
``(status, body_or_None, headers)``. Every request is recorded in ``log``. One-shot faults can be queued
(``inject``) and are served before routing: ``throttle`` (429 + Retry-After), ``server-error`` (500/503),
``forbidden`` (403), ``timeout`` (the response is delayed past the client's timeout). Each emulator renders
the body of a fault in its own cloud's error shape through ``error_body``.

For benchmarks (docs/scale.md) every request can cost ``latency_s`` seconds (a cloud API round trip, e.g.
0.05) and the server can meter requests with a token bucket (``rate_limit`` per second, ``rate_burst``; on
real time, or on the clock given to ``meter``, e.g. a test's FakeClock): a request over the limit is answered
as the ``throttle`` fault above (429 with Retry-After, in the cloud's own error shape), as the clouds document
for exceeded request quotas.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from fleet.clock import Clock, FakeClock

Handler = Callable[[re.Match[str], Any, "Request"], tuple[int, Any, dict[str, str] | None]]

FAULT_STATUS = {"throttle": 429, "server-error": 503, "forbidden": 403, "not-found": 404}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys
        if isinstance(sys.exc_info()[1], ConnectionError):
            return   # a client that timed out on purpose (fault injection) hung up
        super().handle_error(request, client_address)


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any
    raw: bytes = b""

    def param(self, name: str) -> str | None:
        from urllib.parse import parse_qs
        vals = parse_qs(self.query).get(name)
        return vals[0] if vals else None


@dataclass
class EmulatorServer:
    """Serve ``routes`` on 127.0.0.1 (ephemeral port unless given). Use ``start()``/``stop()`` or ``with``."""

    routes: list[tuple[str, str, Handler]]
    error_body: Callable[[str, int], Any] = lambda fault, status: {"error": {"code": fault, "message": fault}}
    port: int = 0
    retry_after: int = 2
    log: list[Request] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    timeout_delay_s: float = 3.0
    latency_s: float = 0.0                 # added to every request
    rate_limit: float | None = None        # requests per second (None: unmetered)
    rate_burst: int = 10
    # what the rate limit is metered by (a cloud meters per account+region, subscription, project...): one
    # bucket per key this returns for a request; None: one bucket for the whole server
    rate_key: Callable[[Request], str] | None = None
    throttled: int = 0                     # requests answered 429 by the rate limit

    def __post_init__(self) -> None:
        self._buckets: dict[str, Any] = {}
        self._rate_now: Callable[[], float] = time.monotonic    # what the rate limit's buckets fill on (meter)
        self._routes = [(m, re.compile(p), h) for m, p, h in self.routes]
        self._lock = threading.Lock()
        self.httpd = _QuietServer(("127.0.0.1", self.port), self._handler_class())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"emulator-{self.port}", daemon=True)

    def inject(self, fault: str) -> None:
        """Make the next request fail with ``fault``."""
        with self._lock:
            self.faults.append(fault)

    def meter(self, latency_s: float = 0.0, rate_limit: float | None = None, burst: int = 10,
              key: Callable[[Request], str] | None = None, clock: Clock | None = None) -> None:
        """Benchmarks: add ``latency_s`` (real seconds) to every request; allow ``rate_limit`` requests/s per
        ``key``, the buckets filling on ``clock``: by default real time (a benchmark meters real requests); a
        test passes the clock its adapter waits on (the harness's FakeClock), so the metering is exact."""
        with self._lock:
            self.latency_s, self.rate_limit, self.rate_burst, self.rate_key = latency_s, rate_limit, burst, key
            self._rate_now = (lambda: clock.now().timestamp()) if clock is not None else time.monotonic
            self._buckets = {}

    def _next_fault(self, req: Request) -> str | None:
        with self._lock:
            if self.faults:
                return self.faults.pop(0)
            if self.rate_limit:
                from fleet.ratelimit import TokenBucket
                key = self.rate_key(req) if self.rate_key is not None else ""
                bucket = self._buckets.get(key)
                if bucket is None:
                    bucket = self._buckets[key] = TokenBucket(self.rate_limit, self.rate_burst, now=self._rate_now)
                if bucket.take() > 0:
                    self.throttled += 1
                    return "throttle"
            return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True   # no 40 ms delayed-ACK stall per response

            def _do(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n) if n else b""
                path, _, query = self.path.partition("?")
                try:
                    body = json.loads(raw) if raw.strip() else None
                except ValueError:
                    body = raw.decode(errors="replace")
                req = Request(self.command, path, query, dict(self.headers), body, raw)
                outer.log.append(req)
                if outer.latency_s:
                    time.sleep(outer.latency_s)
                fault = outer._next_fault(req)
                headers: dict[str, str] | None = None
                if fault == "timeout":
                    time.sleep(outer.timeout_delay_s)
                    fault = "server-error"
                if fault:
                    status = FAULT_STATUS.get(fault, 500)
                    out = outer.error_body(fault, status)
                    headers = {"Retry-After": str(outer.retry_after)} if status in (429, 503) else None
                else:
                    for m, rx, h in outer._routes:
                        mt = rx.fullmatch(path)
                        if m == self.command and mt:
                            try:
                                status, out, headers = h(mt, body, req)
                            except Exception as exc:  # an emulator bug must show up as a 500, not a hang
                                status, out = 500, {"error": {"code": "EmulatorError", "message": repr(exc)}}
                            break
                    else:
                        status, out = 404, outer.error_body("not-found", 404)
                data = b"" if out is None else (out if isinstance(out, bytes) else json.dumps(out).encode())
                self.send_response(status)
                # JSON unless the handler names its own Content-Type (a plain-text answer)
                for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _do

            def log_message(self, *args: Any) -> None:
                pass

        return H

    def start(self) -> EmulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ServedEmulator:
    """Lifecycle of an emulator served by one EmulatorServer (``self.server``): start/stop, a context
    manager, its URL and its request log (``log``; ``requests`` is the same list)."""

    server: EmulatorServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> list[Request]:
        return self.server.log

    @property
    def requests(self) -> list[Request]:
        return self.server.log

    def start(self) -> Self:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fake_clock(clock: Clock) -> FakeClock:
    """The emulator's clock as a FakeClock: only virtual time can be moved to finish operations."""
    if not isinstance(clock, FakeClock):
        raise TypeError(f"finish_operations() needs a FakeClock, not {type(clock).__name__}")
    return clock

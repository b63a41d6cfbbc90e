"""Local servers for the HTTP gate tests: a tiny Prometheus exporter, a webhook receiver, a real Prometheus
process scraping the exporter, and a socket that accepts and never answers (for timeouts)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Exporter:
    """Serves ``/metrics`` with one gauge, ``fleet_test_ok``, whose value the test sets."""

    def __init__(self) -> None:
        self.value = 1.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = (f"# TYPE fleet_test_ok gauge\nfleet_test_ok {exporter.value}\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def prometheus(tmp: Path, target_port: int) -> Iterator[str]:
    """A real Prometheus (Debian's package) scraping 127.0.0.1:target_port every second; yields its URL."""
    binary = shutil.which("prometheus")
    assert binary, "the prometheus binary is required (apt-get install -y prometheus; see .ci/run)"
    port = free_port()
    cfg = tmp / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
                   f"  - job_name: exporter\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n")
    log = (tmp / "prometheus.log").open("w")
    proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"prometheus exited: {(tmp / 'prometheus.log').read_text()[-2000:]}"
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "prometheus did not become ready in 30s"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def wait_for_value(url: str, value: float, timeout: float = 15.0) -> None:
    """Until Prometheus has scraped the gauge at ``value``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{url}/api/v1/query", params={"query": "fleet_test_ok"}, timeout=2).json()
        res = r.get("data", {}).get("result", [])
        if res and float(res[0]["value"][1]) == value:
            return
        time.sleep(0.2)
    raise AssertionError(f"prometheus did not scrape fleet_test_ok={value} within {timeout}s")


class Webhook:
    """Answers by path: /ok 200, /fail 500, /slow after 2 s; records each request (method, path, headers)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode() if n else ""
                hook.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                      "body": body})
                if self.path == "/slow":
                    time.sleep(2)
                status = 500 if self.path == "/fail" else 200
                out = b"smoke test " + (b"failed" if status == 500 else b"ok")
                self.send_response(status)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _answer  # noqa: N815

            def log_message(self, *_: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def silent_socket() -> Iterator[str]:
    """A listening socket that never answers: requests to it time out."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
    finally:
        s.close()


def closed_port_url() -> str:
    """A URL nothing listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"

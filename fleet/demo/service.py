"""The real daemon (fleet.daemon.service.Daemon: APScheduler, engine, SQLite state) with its HTTP API served
by uvicorn on a thread, so the demo's own thread is free for the live view. ``fleet daemon`` serves the
same app in the foreground; here the listening socket is bound first (an ephemeral port, no race) and handed
to uvicorn."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.clock import Clock

START_TIMEOUT_S = 15.0


def bind_ephemeral(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class DemoDaemon:
    config_file: Path
    clock: Clock
    sock: socket.socket
    daemon: Any = None
    _server: Any = None
    _thread: threading.Thread | None = None
    _stopped: bool = field(default=False)

    def __post_init__(self) -> None:
        host, port = self.sock.getsockname()[:2]
        self.port: int = port
        self.url = f"http://{host}:{port}"

    def build(self) -> Any:
        """The runtime (providers, store, engine) and the Daemon on it; nothing runs yet."""
        from fleet.daemon.service import Daemon
        from fleet.runtime import build_runtime
        rt = build_runtime(self.config_file, self.clock)
        self.daemon = Daemon(rt, self.clock)
        return self.daemon

    def start(self, *, scheduler: bool = True) -> None:
        """Serve the API (waits until it answers), then start the scheduler (``scheduler=False``: whoever
        called ticks the daemon itself, as the demo's event-driven timeline does)."""
        import uvicorn

        from fleet.daemon.api import create_app
        if self.daemon is None:
            self.build()
        config = uvicorn.Config(create_app(self.daemon), log_config=None, access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self.sock]},
                                        name="demo-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the daemon's HTTP API did not start")
            time.sleep(0.02)
        if scheduler:
            self.daemon.start_scheduler()

    def stop(self) -> None:
        """Stop the API, then the daemon (the tick in progress finishes; the store is closed). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.daemon is not None:
            self.daemon.stop()

    def close_socket(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

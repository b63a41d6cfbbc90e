"""The daemon's HTTP API (FastAPI; OpenAPI at /openapi.json, docs at /docs).

Reads are open (or need a read-only token when one is configured); writes need ``Authorization: Bearer
<token>`` with the write token. Tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from fleet.clock import iso
from fleet.errors import NotFoundError


def _bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    if h[:7].lower() == "bearer ":
        return h[7:].strip()
    return None


class _Guard:
    """Pure ASGI middleware (no per-request task or body streaming, unlike ``@app.middleware``): refuses a
    declared body over ``max_body`` bytes (413) and NUL characters in the URL (400: PostgreSQL text cannot
    hold them, so they would otherwise fail in the store). No endpoint reads a request body."""

    def __init__(self, app: Any, max_body: int):
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
            refusal = None
            if length is not None and (not length.isdigit() or int(length) > self.max_body):
                refusal = JSONResponse({"detail": "request body too large"}, status_code=413)
            elif "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
                refusal = JSONResponse({"detail": "NUL characters are not allowed in the URL"}, status_code=400)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


Dependency = Callable[[Request], Awaitable[None]]


def create_app(daemon: Any) -> FastAPI:
    """``daemon`` is a fleet.daemon.service.Daemon (duck-typed to keep this module free of cycles)."""
    app = FastAPI(title="fleet", version="v1", description="Fleet upgrade daemon API")
    app.add_middleware(_Guard, max_body=daemon.max_body_bytes)
    can_read, can_write = compute_guards(daemon.read_token, daemon.write_token)
    add_probe_routes(app, daemon)
    add_read_routes(app, daemon, can_read)
    add_write_routes(app, daemon, can_write)
    from fleet.daemon.gates_api import add_gate_routes
    add_gate_routes(app, daemon, can_read, can_write)
    return app


def compute_guards(read_token: str | None, write_token: str | None) -> tuple[Dependency, Dependency]:
    """The read and write dependencies: writes need the write token; reads need a token (read or write)
    only when a read-only token is configured."""

    async def can_write(request: Request) -> None:
        tok = _bearer(request)
        if write_token is None or tok is None or not hmac.compare_digest(tok.encode(), write_token.encode()):
            raise HTTPException(401, "a valid write token is required", headers={"WWW-Authenticate": "Bearer"})

    async def can_read(request: Request) -> None:
        if read_token is None:
            return
        tok = _bearer(request)
        ok = tok is not None and any(t is not None and hmac.compare_digest(tok.encode(), t.encode())
                                     for t in (read_token, write_token))
        if not ok:
            raise HTTPException(401, "a valid token is required", headers={"WWW-Authenticate": "Bearer"})

    return can_read, can_write


def add_probe_routes(app: FastAPI, daemon: Any) -> None:
    """Liveness, readiness and Prometheus metrics: always open."""

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/readyz", response_class=PlainTextResponse)
    def readyz() -> Response:
        ok, why = daemon.ready()
        return PlainTextResponse("ok" if ok else why, status_code=200 if ok else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(daemon.metrics.render(), media_type="text/plain; version=0.0.4")


def add_read_routes(app: FastAPI, daemon: Any, can_read: Dependency) -> None:
    """``/api/v1`` reads: leader, plan, clusters, rollouts, events."""
    read = [Depends(can_read)]

    @app.get("/api/v1/leader", dependencies=read)
    def leader() -> dict[str, Any]:
        """This replica's view of leader election: backend, lease, identity, whether it acts, its epoch."""
        return daemon.leader_info()

    @app.get("/api/v1/plan", dependencies=read)
    def plan() -> dict[str, Any]:
        p = daemon.last_plan()
        return p.to_dict() if p else {"at": None, "clusters": []}

    @app.get("/api/v1/clusters", dependencies=read)
    async def clusters(status: str | None = None, provider: str | None = None,
                 limit: int = Query(1000, ge=1, le=100000), offset: int = Query(0, ge=0)) -> Any:
        """``{"total": N, "clusters": [...]}``: one page of the plan view of every cluster with its rollout."""
        return Response(daemon.cluster_view_json(status=status, provider=provider, limit=limit, offset=offset),
                        media_type="application/json")

    @app.get("/api/v1/rollouts", dependencies=read)
    def rollouts() -> dict[str, Any]:
        return {"paused": daemon.paused(), "rollouts": daemon.rollouts()}

    @app.get("/api/v1/events", dependencies=read)
    def events(cluster: str | None = None, run: str | None = None, kind: str | None = None,
               after: int = Query(0, ge=0, le=2**63 - 1), limit: int = Query(500, ge=1, le=10000)) -> dict[str, Any]:
        evs = daemon.store.events(cluster_id=cluster, run_id=run, kind=kind, after_id=after, limit=limit)
        for e in evs:
            e["at"] = iso(e["at"])
        return {"events": evs}


def add_write_routes(app: FastAPI, daemon: Any, can_write: Dependency) -> None:
    """``/api/v1`` writes (the write token): pause, resume, approve a wave, retry a run."""
    write = [Depends(can_write)]

    @app.post("/api/v1/pause", dependencies=write)
    def pause() -> dict[str, Any]:
        daemon.set_paused(True, "api")
        return {"paused": True}

    @app.post("/api/v1/resume", dependencies=write)
    def resume() -> dict[str, Any]:
        daemon.set_paused(False, "api")
        return {"paused": False}

    @app.post("/api/v1/rollouts/{run_id}/approve/{wave}", dependencies=write)
    def approve(run_id: str, wave: str) -> dict[str, Any]:
        try:
            daemon.approve(run_id, wave)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return {"approved": wave, "run": run_id}

    @app.post("/api/v1/rollouts/{run_id}/retry", dependencies=write)
    def retry(run_id: str) -> dict[str, Any]:
        try:
            n = daemon.retry(run_id)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return {"requeued": n, "run": run_id}

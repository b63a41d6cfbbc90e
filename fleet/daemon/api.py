"""The daemon's HTTP API (FastAPI; OpenAPI at /openapi.json, docs at /docs).

Every request names its principal with ``Authorization: Bearer <token>`` (fleet.daemon.auth: the tokens file,
OIDC JWTs, the legacy write and read-only tokens). Reads - and /metrics - are open only while no read
credential is configured; each write needs a role (operator: pause, resume, retry, holds; approver: approve)
and is recorded in the audit log under the principal's name. No credentials or bad ones: 401; too small a
role: 403. The Host header must be an IP address, localhost, or one of ``http.allowedHosts`` (DNS
rebinding). /healthz and /readyz stay open for the kubelet.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from fleet.clock import iso
from fleet.daemon.auth import Authenticator, AuthError, Principal, Role
from fleet.errors import NotFoundError, NothingToApproveError


def _bearer(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    if h[:7].lower() == "bearer ":
        return h[7:].strip()
    return None


def host_allowed(host_header: str, allowed: list[str]) -> bool:
    """IP literals and localhost always (DNS rebinding needs a name the attacker controls); other names only
    when listed in ``allowed`` (globs; '*' allows every name)."""
    host = host_header.strip().lower()
    if host.startswith("["):                       # [v6]:port
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.rpartition(":")[0]
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return host == "localhost" or any(fnmatch.fnmatchcase(host, pat.lower()) for pat in allowed)


class _Guard:
    """Pure ASGI middleware (no per-request task or body streaming, unlike ``@app.middleware``): refuses a
    Host that is not allowed (421), a declared body over ``max_body`` bytes (413) and NUL characters in the
    URL (400: PostgreSQL text cannot hold them, so they would otherwise fail in the store). No endpoint
    reads a request body."""

    def __init__(self, app: Any, max_body: int, allowed_hosts: list[str]):
        self.app = app
        self.max_body = max_body
        self.allowed_hosts = allowed_hosts

    def _refusal(self, scope: Any) -> JSONResponse | None:
        headers = scope["headers"]
        host = next((v for k, v in headers if k == b"host"), None)
        length = next((v for k, v in headers if k == b"content-length"), None)
        if "*" not in self.allowed_hosts and (host is None or not host_allowed(host.decode("latin-1"),
                                                                                self.allowed_hosts)):
            return JSONResponse({"detail": "this Host is not served (see http.allowedHosts)"}, status_code=421)
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return JSONResponse({"detail": "request body too large"}, status_code=413)
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            return JSONResponse({"detail": "NUL characters are not allowed in the URL"}, status_code=400)
        return None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            refusal = self._refusal(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


Dependency = Callable[..., Any]


def authenticator_of(daemon: Any) -> Authenticator:
    auth = getattr(daemon, "auth", None)
    if auth is not None:
        return auth
    # a bare object with the legacy attributes (tests of the routes only)
    from fleet.daemon.auth import Principal as P
    legacy = {}
    if getattr(daemon, "write_token", None):
        legacy[daemon.write_token] = P("write-token", "admin", "legacy")
    if getattr(daemon, "read_token", None):
        legacy[daemon.read_token] = P("read-token", "viewer", "legacy")
    return Authenticator(legacy=legacy)


def create_app(daemon: Any) -> FastAPI:
    """``daemon`` is a fleet.daemon.service.Daemon (duck-typed to keep this module free of cycles)."""
    app = FastAPI(title="fleet", version="v1", description="Fleet upgrade daemon API")
    app.add_middleware(_Guard, max_body=daemon.max_body_bytes,
                       allowed_hosts=list(getattr(daemon, "allowed_hosts", ["*"])))
    add_query_errors(app)
    auth = authenticator_of(daemon)
    add_probe_routes(app, daemon, require(auth, "viewer", optional=not auth.reads_need_auth))
    add_read_routes(app, daemon, require(auth, "viewer", optional=not auth.reads_need_auth))
    add_write_routes(app, daemon, lambda role: require(auth, role))
    if hasattr(daemon, "hold"):
        add_hold_routes(app, daemon, lambda role: require(auth, role),
                        require(auth, "viewer", optional=not auth.reads_need_auth))
    from fleet.daemon.dashboard import add_dashboard_routes  # the live dashboard (docs/api.md)
    add_dashboard_routes(app, daemon, require(auth, "viewer", optional=not auth.reads_need_auth), auth)
    from fleet.daemon.gates_api import add_gate_routes  # overrides: the approver role (docs/gates.md)
    add_gate_routes(app, daemon, require(auth, "viewer", optional=not auth.reads_need_auth),
                    require(auth, "approver"))
    for extra in getattr(daemon, "route_plugins", ()):   # more commands' routes
        extra(app, daemon, lambda role: require(auth, role))
    return app


def add_query_errors(app: FastAPI) -> None:
    """A bad query or path value (``?limit=0``, ``?after=x``, a reason with control characters) is the
    client's mistake: 400 with FastAPI's error list, naming the parameter. A bad JSON body stays 422."""
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        in_url = all(e.get("loc", ("",))[0] in ("query", "path") for e in errors)
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=400 if in_url else 422)


def require(auth: Authenticator, role: Role, *, optional: bool = False) -> Dependency:
    """A dependency answering the caller's Principal when it holds ``role`` (401 / 403 otherwise). With
    ``optional`` (reads while no read credential is configured) a request without a token passes as None."""

    def dependency(request: Request) -> Principal | None:
        h = request.headers.get("authorization", "")
        token = h[7:].strip() if h[:7].lower() == "bearer " else None
        if token is None and optional:
            return None
        try:
            principal = auth.authenticate(token)
        except AuthError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        if not principal.can(role):
            raise HTTPException(403, f"{principal.name} may not do this: it needs the {role} role")
        return principal

    return dependency


def actor_of(principal: Principal | None) -> str:
    return principal.actor if principal is not None else "api"


def add_probe_routes(app: FastAPI, daemon: Any, can_read: Dependency) -> None:
    """Liveness and readiness (always open: the kubelet has no token) and Prometheus metrics (a viewer's
    token when reads need one: Prometheus scrapes with a bearer token)."""

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/readyz", response_class=PlainTextResponse)
    def readyz() -> Response:
        ok, why = daemon.ready()
        return PlainTextResponse("ok" if ok else why, status_code=200 if ok else 503)

    @app.get("/metrics", dependencies=[Depends(can_read)])
    def metrics() -> Response:
        daemon.ready()                  # fleet_ready and fleet_policy_set_valid as of this scrape
        return Response(daemon.metrics.render(), media_type="text/plain; version=0.0.4")


def check_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    """400 naming the query parameter and the values it accepts, unless ``value`` is absent or allowed."""
    if value is not None and value not in allowed:
        raise HTTPException(400, f"{name}: {value!r} is not one of {', '.join(allowed)}")


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
                       compliance: str | None = None, upgrade_state: str | None = Query(None, alias="upgradeState"),
                       limit: int = Query(1000, ge=1, le=100000), offset: int = Query(0, ge=0)) -> Any:
        """``{"total": N, "clusters": [...]}``: one page of the plan view of every cluster with its rollout, its
        compliance status and its upgrade state; filtered by plan ``status``, ``provider``, ``compliance``
        status and ``upgradeState`` (an unknown value is answered 400)."""
        from fleet.planning.plan import STATUSES as PLAN_STATUSES
        from fleet.reports.compliance import STATUSES, UPGRADE_STATES
        check_choice("status", status, PLAN_STATUSES)
        check_choice("compliance", compliance, STATUSES)
        check_choice("upgradeState", upgrade_state, UPGRADE_STATES)
        return Response(daemon.cluster_view_json(status=status, provider=provider, limit=limit, offset=offset,
                                                 compliance=compliance, upgrade_state=upgrade_state),
                        media_type="application/json")

    @app.get("/api/v1/stages", dependencies=read)
    def stages(members: bool = True) -> dict[str, Any]:
        """The fleet rollout: its stages and, per planned version, per stage, "may start" or what it waits for;
        ``?members=false``: each stage's cluster count and progress instead of its cluster ids (the dashboard)."""
        p = daemon.last_plan()
        if p is None or p.rollout is None or members:
            return {"rollout": p.rollout if p else None}
        from fleet.daemon.dashboard import stage_progress
        return {"rollout": stage_progress(p, daemon.upgrade_states())}

    @app.get("/api/v1/status", dependencies=read)
    def status() -> dict[str, Any]:
        """What `fleet status` shows: runs with their clusters, open steps, the pause flag."""
        from fleet.execution.status import status_dict
        return dict(status_dict(daemon.store, daemon.clock.now()))

    @app.get("/api/v1/rollouts", dependencies=read)
    def rollouts(members: bool = True) -> dict[str, Any]:
        """Every run; ``?members=false`` leaves out each run's cluster rows (the dashboard: counts only)."""
        return {"paused": daemon.paused(), "rollouts": daemon.rollouts(members) if not members else daemon.rollouts()}

    @app.get("/api/v1/events", dependencies=read)
    def events(cluster: str | None = None, run: str | None = None, kind: str | None = None,
               after: int = Query(0, ge=0, le=2**63 - 1), limit: int = Query(500, ge=1, le=10000)) -> dict[str, Any]:
        evs = daemon.store.events(cluster_id=cluster, run_id=run, kind=kind, after_id=after, limit=limit)
        for e in evs:
            e["at"] = iso(e["at"])
        return {"events": evs}


def add_write_routes(app: FastAPI, daemon: Any, role: Callable[[Role], Dependency]) -> None:
    """``/api/v1`` writes: pause, resume, retry (operator); approve a wave or a version for a rollout stage
    (approver)."""
    operator, approver = Depends(role("operator")), Depends(role("approver"))

    @app.post("/api/v1/pause")
    def pause(who: Principal = operator) -> dict[str, Any]:
        daemon.set_paused(True, actor_of(who))
        return {"paused": True}

    @app.post("/api/v1/resume")
    def resume(who: Principal = operator) -> dict[str, Any]:
        daemon.set_paused(False, actor_of(who))
        return {"paused": False}

    @app.post("/api/v1/rollouts/{run_id}/approve/{wave}")
    def approve(run_id: str, wave: str, who: Principal = approver) -> dict[str, Any]:
        try:
            daemon.approve(run_id, wave, actor_of(who))
        except NothingToApproveError as exc:
            raise HTTPException(409, str(exc.args[0])) from None
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return {"approved": wave, "run": run_id}

    @app.post("/api/v1/stages/{stage}/approve/{version}")
    def promote(stage: str, version: str, who: Principal = approver) -> dict[str, Any]:
        """Approve ``version`` for ``stage`` of the fleet rollout (fleet promote; docs/rollout.md)."""
        try:
            a = daemon.promote(stage, version, actor_of(who))
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return {"approved": a.version, "stage": a.stage}

    @app.post("/api/v1/rollouts/{run_id}/retry")
    def retry(run_id: str, who: Principal = operator) -> dict[str, Any]:
        try:
            n = daemon.retry(run_id, actor_of(who))
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        return {"requeued": n, "run": run_id}


Reason = Query(min_length=1, max_length=500, pattern=r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f][^\x00-\x1f\x7f]*$",
               description="why (recorded in the audit log): printable text")
ClusterId = Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,511}$")


def add_hold_routes(app: FastAPI, daemon: Any, role: Callable[[Role], Dependency], can_read: Dependency) -> None:
    """Holds (operator): stop new steps of one run or one cluster, with a reason; release them."""
    operator = Depends(role("operator"))

    @app.get("/api/v1/holds", dependencies=[Depends(can_read)])
    def holds() -> dict[str, Any]:
        return daemon.holds()

    def _do(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None

    @app.post("/api/v1/rollouts/{run_id}/hold")
    def hold_run(run_id: str, reason: str = Reason, who: Principal = operator) -> dict[str, Any]:
        _do(lambda: daemon.hold("run", run_id, reason, actor_of(who)))
        return {"held": run_id, "kind": "run", "reason": reason}

    @app.post("/api/v1/rollouts/{run_id}/release")
    def release_run(run_id: str, who: Principal = operator) -> dict[str, Any]:
        return {"released": _do(lambda: daemon.release("run", run_id, actor_of(who))), "run": run_id}

    @app.post("/api/v1/clusters/{cluster_id:path}/hold")
    def hold_cluster(cluster_id: str = ClusterId, reason: str = Reason, who: Principal = operator) -> dict[str, Any]:
        _do(lambda: daemon.hold("cluster", cluster_id, reason, actor_of(who)))
        return {"held": cluster_id, "kind": "cluster", "reason": reason}

    @app.post("/api/v1/clusters/{cluster_id:path}/release")
    def release_cluster(cluster_id: str = ClusterId, who: Principal = operator) -> dict[str, Any]:
        return {"released": daemon.release("cluster", cluster_id, actor_of(who)), "cluster": cluster_id}

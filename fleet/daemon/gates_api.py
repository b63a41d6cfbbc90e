"""The daemon's safety-gate routes (docs/gates.md): gate evaluations and overrides.

    GET    /api/v1/gates?cluster=&run=&after=&limit=   gate evaluations, oldest first (read)
    GET    /api/v1/overrides?all=false                  active overrides (all: expired and revoked too) (read)
    POST   /api/v1/overrides                            {cluster, gate, until, reason} -> the override (approver)
    DELETE /api/v1/overrides/{id}                       revoke (approver)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleet.errors import NotFoundError
from fleet.gates.overrides import create_override, revoke_override
from fleet.state.errors import UnstorableValueError

Dependency = Any


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cluster: str = Field(min_length=1, max_length=512)
    gate: str = Field(min_length=1, max_length=100)
    until: str = Field(description="ISO-8601 instant (UTC unless it names an offset) or a duration such as 4h")
    reason: str = Field(min_length=1, max_length=2000)


def _until(value: str, now: datetime) -> datetime:
    from fleet.clock import utc
    from fleet.policy.types import parse_duration
    try:
        return now + parse_duration(value)
    except (ValueError, TypeError):
        pass
    except OverflowError:
        raise HTTPException(422, f"until: too far in the future: {value!r}") from None
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        raise HTTPException(422, f"until: not an ISO-8601 instant nor a duration: {value!r}") from None


def _actor(principal: Any) -> str:
    """The audit log's actor for the caller (the principal's name; "api" when none)."""
    from fleet.daemon.api import actor_of
    return actor_of(principal)


def add_gate_routes(app: FastAPI, daemon: Any, can_read: Dependency, can_write: Dependency) -> None:
    read = [Depends(can_read)]

    @app.get("/api/v1/gates", dependencies=read)
    def gate_evaluations(cluster: str | None = None, run: str | None = None,
                         after: int = Query(0, ge=0, le=2**63 - 1),
                         limit: int = Query(500, ge=1, le=10000)) -> dict[str, Any]:
        evs = daemon.store.gate_evaluations(cluster_id=cluster, run_id=run, after_id=after, limit=limit)
        return {"evaluations": [e.to_dict() for e in evs]}

    @app.get("/api/v1/overrides", dependencies=read)
    def overrides(all: bool = False) -> dict[str, Any]:  # noqa: A002
        now = daemon.clock.now()
        return {"overrides": [o.to_dict(now) for o in daemon.store.gate_overrides() if all or o.active(now)]}

    # the body is read after the token check (a body parameter would be parsed, and refused, before it)
    @app.post("/api/v1/overrides", status_code=201, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": OverrideRequest.model_json_schema()}}}})
    async def add_override(request: Request, who: Any = Depends(can_write)) -> dict[str, Any]:
        try:
            body = OverrideRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise HTTPException(422, exc.errors(include_url=False, include_context=False,
                                                include_input=False)) from None
        names = {g.name for p in daemon.engine.current_policies()
                 for g in [*p.spec.gates.preflight, *p.spec.gates.post_step]}
        if body.gate not in names:
            raise HTTPException(422, f"no policy has a gate named {body.gate!r}")
        now = daemon.clock.now()
        try:
            o = create_override(daemon.control_store, now, _actor(who), body.cluster, body.gate, _until(body.until, now),
                                body.reason)
        except (ValueError, UnstorableValueError) as exc:   # in the past, no reason, NUL or too long to store
            raise HTTPException(422, str(exc)) from None
        daemon.wake_now()
        return o.to_dict(now)

    @app.delete("/api/v1/overrides/{override_id}")
    def revoke(override_id: int, who: Any = Depends(can_write)) -> dict[str, Any]:
        try:
            o = revoke_override(daemon.control_store, daemon.clock.now(), _actor(who), override_id)
        except NotFoundError as exc:
            raise HTTPException(404, str(exc.args[0])) from None
        daemon.wake_now()
        return o.to_dict(daemon.clock.now())

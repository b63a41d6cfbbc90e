"""The settings of a ``sim`` provider entry (``spec.providers[].settings``), all optional: a strict model,
camelCase keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleet.policy.types import Duration


class SimFaults(BaseModel):
    """Fault injection, drawn from a seeded RNG (deterministic runs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    apiErrorRate: float = Field(0.0, ge=0, le=1, description="probability of a temporary API error per call")
    stepFailureRate: float = Field(0.0, ge=0, le=1, description="probability that an operation ends FAILED")
    failSteps: list[str] = Field(default_factory=list, description='steps that must fail: "cluster-id|step-key"')
    seed: int = Field(0, description="seed of the fault RNG")


class SimSettings(BaseModel):
    """The simulated cloud: an in-memory world in virtual time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inventory: str | None = Field(None, description="an Inventory file to seed the world from (relative to the "
                                                    "config file)")
    stateFile: str | None = Field(None, description="persist the world as JSON so it survives restarts")
    controlPlaneDuration: Duration | None = Field(None, description="virtual time per control-plane step "
                                                                   "(default 20m)")
    nodePoolDuration: Duration | None = Field(None, description="virtual time per node-pool step (default 10m)")
    faults: SimFaults | None = None


def parse_settings(settings: Mapping[str, Any] | None) -> SimSettings:
    try:
        return SimSettings.model_validate(dict(settings or {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<settings>'}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"invalid sim settings: {problems}") from None

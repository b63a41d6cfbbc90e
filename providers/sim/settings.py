"""The settings of a ``sim`` provider entry (``spec.providers[].settings``), all optional: a strict model,
camelCase keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fleet.policy.types import Duration
from fleet.provider import validate_settings


class SimFaults(BaseModel):
    """Fault injection, drawn from a seeded RNG (deterministic runs)."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid", frozen=True)

    apiErrorRate: float = Field(default=0.0, ge=0, le=1, description="Probability of a temporary API error per call.")
    stepFailureRate: float = Field(default=0.0, ge=0, le=1, description="Probability that an operation ends FAILED.")
    failSteps: list[str] = Field(default_factory=list, description='Steps that must fail: "cluster-id|step-key".')
    seed: int = Field(default=0, description="Seed of the fault RNG.")


class SimGateScenario(BaseModel):
    """One cluster's safety-gate scenario (providers/sim/checks.py; docs/gates.md)."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid", frozen=True)

    blockers: list[str] = Field(default_factory=list, description="Upgrade blockers reported for every target.")
    unhealthy: str = Field(default="", description="cluster-health fails with this reason while set.")
    backupAge: Duration | None = Field(default=None, description="Age of the newest etcd backup when the world "
                                                                 "starts (unset: no self-managed etcd).")
    nodesNotReadyFor: Duration | None = Field(default=None, description="How long after a step its nodes are "
                                                                        "not Ready (default: ready at once).")
    nodesNeverReady: bool = Field(default=False, description="nodes-ready never passes.")
    rollback: bool = Field(default=False, description="The simulated cloud can roll a finished step back.")
    rollbackWithin: Duration | None = Field(default=None, description="... within this long of the step.")


class SimSettings(BaseModel):
    """A `sim` provider: a simulated cloud, an in-memory world in virtual time (all settings optional)."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid", frozen=True)

    inventory: str | None = Field(default=None, description="An Inventory file to seed the world from (relative to the "
                                                    "config file's folder).")
    stateFile: str | None = Field(default=None, description="Persist the world as JSON so it survives restarts.")
    controlPlaneDuration: Duration | None = Field(default=None, description="Virtual time per control-plane step "
                                                                   "(default 20m).")
    nodePoolDuration: Duration | None = Field(default=None, description="Virtual time per node-pool step (default 10m).")
    faults: SimFaults | None = None
    """Fault injection (default: none)."""
    gateScenarios: dict[str, SimGateScenario] = Field(default_factory=dict, description="Cluster id -> its "
                                                      "safety-gate scenario (docs/gates.md).")


def parse_settings(settings: Mapping[str, Any] | None) -> SimSettings:
    return validate_settings(SimSettings, settings, "invalid sim settings")

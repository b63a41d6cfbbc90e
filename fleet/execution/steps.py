"""Serialising provider Steps and OperationRefs to and from the state store (JSON columns)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fleet.provider import BlueGreen, Component, OperationRef, Step


def step_to_json(step: Step) -> dict[str, Any]:
    d = asdict(step)
    d["component"] = step.component.value
    return d


def step_from_json(d: dict[str, Any]) -> Step:
    d = dict(d)
    d["component"] = Component(d["component"])
    if d.get("blue_green") is not None:
        d["blue_green"] = BlueGreen(**d["blue_green"])
    return Step(**d)


def op_to_json(op: OperationRef) -> dict[str, Any]:
    return {"id": op.id, "cluster_id": op.cluster_id, "step_key": op.step_key, "data": dict(op.data)}


def op_from_json(d: dict[str, Any]) -> OperationRef:
    return OperationRef(d["id"], d["cluster_id"], d["step_key"], d.get("data") or {})

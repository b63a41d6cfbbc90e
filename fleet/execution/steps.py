"""Serialising provider Steps and OperationRefs (moved to fleet.execution.model; kept as an alias)."""

from fleet.execution.model import op_from_json, op_to_json, step_from_json, step_to_json

__all__ = ["op_from_json", "op_to_json", "step_from_json", "step_to_json"]

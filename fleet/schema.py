"""JSON Schema of the files users write (UpgradePolicy, Inventory, FleetConfig), from the pydantic models.

The schemas use the YAML spellings (camelCase aliases) and forbid unknown fields, as the loader does, so an
editor that validates against them reports the same mistakes `fleet validate` would.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from fleet.policy.models import FleetConfig, Inventory, UpgradePolicy
from fleet.policy.rollout import RolloutStrategy
from fleet.provider import known_provider_types, provider_settings_model

SCHEMA_URI = "https://json-schema.org/draft/2020-12/schema"
KINDS: dict[str, type[Any]] = {"policy": UpgradePolicy, "rollout": RolloutStrategy, "inventory": Inventory,
                               "config": FleetConfig}
SCHEMA_IDS = {"policy": "upgrade-policy", "rollout": "rollout-strategy", "inventory": "inventory",
              "config": "fleet-config"}


def compute_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of ``kind`` (policy | rollout | inventory | config)."""
    if kind not in KINDS:
        raise KeyError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    model = KINDS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    if kind == "config":
        schema = _with_provider_settings(schema)
    schema = _local_date_times(_drop_property_titles(schema))
    return {"$schema": SCHEMA_URI, "$id": f"https://fleet.dev/schemas/v1alpha1/{SCHEMA_IDS[kind]}.json", **schema}


def provider_settings_models() -> dict[str, type[BaseModel]]:
    """Provider type -> its settings model, for every installed provider that declares one."""
    out = {}
    for type_name in known_provider_types():
        model = provider_settings_model(type_name)
        if model is not None:
            out[type_name] = model
    return out


def _with_provider_settings(schema: dict[str, Any]) -> dict[str, Any]:
    """Check each ``spec.providers[].settings`` against the settings model of its ``type``: every provider's
    settings model goes into ``$defs`` and ProviderConfig gets one ``if type == X then settings: XSettings``."""
    defs = dict(schema.get("$defs", {}))
    branches = []
    for type_name, model in provider_settings_models().items():
        sub = model.model_json_schema(by_alias=True, mode="validation", ref_template="#/$defs/{model}")
        for name, d in sub.pop("$defs", {}).items():
            if name in defs and defs[name] != d:
                raise ValueError(f"provider {type_name!r}: settings model {name!r} clashes with another definition")
            defs[name] = d
        name = sub.get("title", model.__name__)
        defs[name] = sub
        branches.append({"if": {"properties": {"type": {"const": type_name}}, "required": ["type"]},
                         "then": {"properties": {"settings": {"$ref": f"#/$defs/{name}"}}}})
    provider = dict(defs["ProviderConfig"])
    provider["allOf"] = branches
    defs["ProviderConfig"] = provider
    return {**schema, "$defs": defs}


# what the loader accepts for an instant: ISO 8601, with or without a time and an offset (without one it is
# local time in the policy's time zone). JSON Schema's "date-time" format would demand the offset.
LOCAL_DATE_TIME = {"type": "string",
                   "pattern": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$",
                   "description": "ISO 8601 date or date and time; without an offset, local time in the "
                                  "policy's time zone"}


def _local_date_times(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            return {**{k: v for k, v in node.items() if k not in ("format", "type")}, **LOCAL_DATE_TIME}
        return {k: _local_date_times(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_local_date_times(v) for v in node]
    return node


def _drop_property_titles(node: Any) -> Any:
    """pydantic titles every property after its Python name ("Batchnodecount"); editors show the key anyway."""
    if isinstance(node, dict):
        out = {k: _drop_property_titles(v) for k, v in node.items()}
        props = out.get("properties")
        if isinstance(props, dict):
            out["properties"] = {k: {kk: vv for kk, vv in v.items() if kk != "title"} if isinstance(v, dict) else v
                                 for k, v in props.items()}
        return out
    if isinstance(node, list):
        return [_drop_property_titles(v) for v in node]
    return node


def render_schema(kind: str) -> str:
    return json.dumps(compute_schema(kind), indent=2, sort_keys=False) + "\n"

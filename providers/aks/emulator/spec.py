"""Validate request bodies against the extract of AKS's REST specification shipped in spec/ (see
spec/PROVENANCE.md: Azure/azure-rest-api-specs, aks/stable/2026-08-01/managedClusters.json, MIT).

A small Swagger 2.0 schema checker for the keywords the extract uses: type, minimum, maximum, pattern, required, enum (closed only
when ``x-ms-enum.modelAsString`` is not true), items, additionalProperties, properties, allOf and local $refs.
A body the spec refuses gets 400 in ARM's error shape (``{"error": {"code", "message"}}``), naming the property
path. The spec does not say which code ARM/AKS returns for a schema violation; the emulator uses
``InvalidParameter`` (its own choice, documented in docs/fidelity/aks.md), and the adapter classifies by HTTP
status (400: permanent), not by code.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).with_name("spec") / "managedClusters.2026-08-01.extract.json"
_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
                                       "integer": (int,), "number": (int, float)}


@cache
def definitions() -> dict[str, Any]:
    return dict(json.loads(SPEC_FILE.read_text())["definitions"])


def validate(body: Any, definition: str) -> list[str]:
    """The spec's objections to ``body`` as the named definition (empty: accepted)."""
    errors: list[str] = []
    _check(body, {"$ref": f"#/definitions/{definition}"}, "", errors)
    return errors


def _resolve(schema: dict[str, Any]) -> dict[str, Any] | None:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    if not str(ref).startswith("#/definitions/"):
        return None                                   # an external file (common-types): not in the extract
    return definitions().get(str(ref).rsplit("/", 1)[-1])   # None: a definition not extracted (not checked)


def _check(value: Any, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    resolved = _resolve(schema)
    if resolved is None or value is None:
        return
    for part in resolved.get("allOf", []):
        _check(value, part, path, errors)
    kind = resolved.get("type")
    if kind in _TYPES and (not isinstance(value, _TYPES[kind]) or (kind in ("integer", "number")
                                                                   and isinstance(value, bool))):
        errors.append(f"{path or 'body'}: expected {kind}, got {type(value).__name__} {value!r}")
        return
    _check_scalar(value, resolved, path, errors)
    if isinstance(value, dict):
        _check_object(value, resolved, path, errors)
    elif isinstance(value, list) and "items" in resolved:
        for i, item in enumerate(value):
            _check(item, resolved["items"], f"{path}[{i}]", errors)


def _check_scalar(value: Any, schema: dict[str, Any], path: str, errors: list[str]) -> None:
    if "minimum" in schema and isinstance(value, (int, float)) and value < schema["minimum"]:
        errors.append(f"{path}: {value} is less than the minimum {schema['minimum']}")
    if "maximum" in schema and isinstance(value, (int, float)) and value > schema["maximum"]:
        errors.append(f"{path}: {value} is greater than the maximum {schema['maximum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match the pattern {schema['pattern']}")
    open_enum = bool((schema.get("x-ms-enum") or {}).get("modelAsString"))
    if "enum" in schema and not open_enum and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")


def _check_object(value: dict[str, Any], schema: dict[str, Any], path: str, errors: list[str]) -> None:
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    for key in schema.get("required", []):
        if value.get(key) is None and not (props.get(key) or {}).get("readOnly"):
            errors.append(f"{path + '.' if path else ''}{key}: required")
    for key, item in value.items():
        sub = f"{path}.{key}" if path else key
        if key in props:
            if not props[key].get("readOnly"):
                _check(item, props[key], sub, errors)
        elif isinstance(extra, dict):
            _check(item, extra, sub, errors)

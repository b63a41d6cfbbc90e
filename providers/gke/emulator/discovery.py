"""Request bodies checked against GKE's own discovery document (container.v1.json, revision in spec/).

The schemas in ``spec/container.v1.requests.json`` are extracted, descriptions removed, from the discovery
document shipped in the google-api-python-client wheel (see spec/PROVENANCE.md): every schema reachable from
``UpdateMasterRequest`` and ``UpdateNodePoolRequest``, the two request bodies this emulator receives.

What is checked (the discovery document's own vocabulary): unknown field names, JSON types (``string``,
``integer``/``int32``, ``int64`` as a string or number, ``number``, ``boolean``, ``object``, ``array``,
``additionalProperties`` maps), ``google-duration`` strings (``"3.5s"``) and enum names. Enum numbers are
accepted when an integer (the REST transport of the official SDK sends ``enum-encoding=int``): the
discovery document lists enum names, not their numbers.

Errors take the shape Google's front end answers a bad JSON body with (400 INVALID_ARGUMENT, e.g.
``Invalid JSON payload received. Unknown name "x" at 'upgrade_settings': Cannot find field.``, as quoted
from real responses in googleapis/google-cloud-ruby#26951 and decolua/9router#1876); field paths use the
proto (snake_case) names, as those messages do.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).with_name("spec") / "container.v1.requests.json"
_DURATION = re.compile(r"^-?\d+(\.\d{1,9})?s$")
_INT64 = re.compile(r"^-?\d+$")


class SpecViolation(ValueError):
    """A request body the discovery document does not allow (answered as 400 INVALID_ARGUMENT)."""


@cache
def schemas() -> dict[str, Any]:
    return dict(json.loads(SPEC_FILE.read_text())["schemas"])


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _at(path: str) -> str:
    return f" at '{path}'" if path else ""


def validate(schema_name: str, body: Any) -> None:
    """Raise SpecViolation when ``body`` is not a ``schema_name`` per the discovery document."""
    _check_object(schemas()[schema_name], body, "", schema_name)


def _check_object(schema: dict[str, Any], value: Any, path: str, type_name: str) -> None:
    if not isinstance(value, dict):
        raise SpecViolation(f"Invalid value{_at(path)} (type.googleapis.com/google.container.v1.{type_name}), "
                            f"{json.dumps(value)}")
    props = schema.get("properties", {})
    for key, item in value.items():
        if key not in props and _camel(key) not in props:
            raise SpecViolation(f'Invalid JSON payload received. Unknown name "{key}"{_at(path)}: '
                                "Cannot find field.")
        sub = props.get(key) or props[_camel(key)]
        _check(sub, item, f"{path}.{_snake(key)}" if path else _snake(key))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _check(schema: dict[str, Any], value: Any, path: str) -> None:
    if value is None:                       # JSON null: the field's default, as proto3 JSON parsing reads it
        return
    if "$ref" in schema:
        _check_object(schemas()[schema["$ref"]], value, path, schema["$ref"])
        return
    kind = schema.get("type")
    if kind == "array":
        if not isinstance(value, list):
            raise _bad(path, "TYPE_REPEATED", value)
        for i, item in enumerate(value):
            _check(schema.get("items", {}), item, f"{path}[{i}]")
        return
    if kind == "object":
        if not isinstance(value, dict):
            raise _bad(path, "TYPE_MESSAGE", value)
        for k, item in value.items():
            _check(schema.get("additionalProperties", {}), item, f"{path}[{k}]")
        return
    _check_scalar(schema, kind, value, path)


def _check_scalar(schema: dict[str, Any], kind: str | None, value: Any, path: str) -> None:
    fmt = schema.get("format")
    if kind == "boolean" and not isinstance(value, bool):
        raise _bad(path, "TYPE_BOOL", value)
    if kind == "integer" and not _is_int(value):
        raise _bad(path, "TYPE_INT32", value)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise _bad(path, "TYPE_DOUBLE" if fmt == "double" else "TYPE_FLOAT", value)
    if kind == "string":
        _check_string(schema, fmt, value, path)


def _check_string(schema: dict[str, Any], fmt: str | None, value: Any, path: str) -> None:
    if fmt in ("int64", "uint64"):
        if not (_is_int(value) or (isinstance(value, str) and _INT64.match(value))):
            raise _bad(path, "TYPE_INT64", value)
        return
    if "enum" in schema:
        if isinstance(value, int) and not isinstance(value, bool):
            return                          # an enum number (enum-encoding=int); names are listed, numbers not
        if value not in schema["enum"]:
            raise _bad(path, "TYPE_ENUM", value)
        return
    if not isinstance(value, str):
        raise _bad(path, "TYPE_STRING", value)
    if fmt == "google-duration" and not _DURATION.match(value):
        raise _bad(path, "type.googleapis.com/google.protobuf.Duration", value)


def _is_int(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or \
        (isinstance(value, str) and bool(_INT64.match(value)))


def _bad(path: str, kind: str, value: Any) -> SpecViolation:
    return SpecViolation(f"Invalid value at '{path}' ({kind}), {json.dumps(value)}")

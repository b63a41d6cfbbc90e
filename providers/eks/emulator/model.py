"""Request validation against EKS's own service model, read at run time from the installed botocore
(``botocore/data/eks/2017-11-01/service-2.json``, AWS's published model of the EKS API; nothing is copied here).

For every EKS request the emulator receives (:func:`match` finds its operation by the model's HTTP bindings),
:func:`validate` rebuilds the operation's input from the HTTP
request the way the model's REST-JSON bindings place it (``location: uri`` -> path, ``querystring`` -> query,
the rest -> the JSON body) and checks what the model states: required members, types, ``enum`` values,
``min``/``max`` (integer ranges, string and list lengths) and ``pattern``. A violation is answered like EKS
answers a bad parameter: 400 ``InvalidParameterException`` (the model documents that shape as "The specified
parameter is invalid. Review the available parameters for the API request."). The exact message texts of the
real service for these checks are not published; ours name the member and the model's constraint.

Not checked: members the model does not constrain, unknown JSON members (REST-JSON services ignore them), and
``idempotencyToken`` generation (the SDK's job).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

SERVICE = "eks"


class ModelViolation(ValueError):
    """A request that breaks the service model (the emulator answers 400 InvalidParameterException)."""


@functools.cache
def _model() -> dict[str, Any]:
    import botocore.loaders  # type: ignore[import-untyped]  # botocore ships no types

    return dict(botocore.loaders.create_loader().load_service_model(SERVICE, "service-2"))


def botocore_version() -> str:
    import botocore

    return str(botocore.__version__)


def api_version() -> str:
    return str(_model()["metadata"]["apiVersion"])


def operation(name: str) -> Mapping[str, Any]:
    return _model()["operations"][name]


def shape(name: str) -> Mapping[str, Any]:
    return _model()["shapes"][name]


def enum_values(shape_name: str) -> tuple[str, ...]:
    return tuple(shape(shape_name).get("enum") or ())


@functools.cache
def _routes() -> list[tuple[int, str, re.Pattern[str], str]]:
    """(literal length, method, path regex, operation) from each operation's ``http`` binding."""
    out = []
    for name, op in _model()["operations"].items():
        uri = op["http"]["requestUri"].split("?")[0]
        parts = re.split(r"\{(\w+)\+?\}", uri)            # literal, name, literal, name, ...
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)" for i, p in enumerate(parts))
        out.append((len("".join(parts[::2])), op["http"]["method"], re.compile(rx), name))
    return sorted(out, key=lambda r: -r[0])


def match(method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The EKS operation a request is for, by the model's HTTP bindings, with its path parameters."""
    for _, m, rx, name in _routes():
        found = rx.fullmatch(path) if m == method else None
        if found:
            return name, found.groupdict()
    return None


def request_input(op: str, path_params: Mapping[str, str], query: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The operation's input members as the SDK sent them, placed by the model's HTTP bindings."""
    inp = shape(operation(op)["input"]["shape"])
    q = parse_qs(query, keep_blank_values=True)
    out: dict[str, Any] = {}
    for member, ref in inp["members"].items():
        where, wire = ref.get("location"), ref.get("locationName", member)
        if where == "uri":
            if wire in path_params:
                out[member] = path_params[wire]
        elif where == "querystring":
            if wire in q:
                target = shape(ref["shape"])
                out[member] = q[wire] if target["type"] == "list" else _scalar(q[wire][-1], target)
        elif where is None and wire in body:
            out[member] = body[wire]
    return out


def _scalar(text: str, target: Mapping[str, Any]) -> Any:
    if target["type"] == "integer":
        try:
            return int(text)
        except ValueError:
            return text                      # reported as a type error below
    if target["type"] == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def validate(op: str, path_params: Mapping[str, str], query: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Check one request against the model; returns its input members, raises ModelViolation."""
    params = request_input(op, path_params, query, body)
    _check(operation(op)["input"]["shape"], params, "")
    return params


def _check(shape_name: str, value: Any, where: str) -> None:
    s = shape(shape_name)
    kind = s["type"]
    checker = _CHECKS.get(kind)
    if checker is not None:
        checker(s, value, where or shape_name)


def _structure(s: Mapping[str, Any], value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ModelViolation(f"{where}: expected an object")
    for req in s.get("required", ()):
        if value.get(req) is None:
            raise ModelViolation(f"{_join(where, req)}: required member is missing")
    for member, ref in s["members"].items():
        if value.get(member) is not None:
            _check(ref["shape"], value[member], _join(where, member))


def _list(s: Mapping[str, Any], value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise ModelViolation(f"{where}: expected a list")
    _length(s, len(value), where, "items")
    for i, item in enumerate(value):
        _check(s["member"]["shape"], item, f"{where}[{i}]")


def _map(s: Mapping[str, Any], value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise ModelViolation(f"{where}: expected a map")
    _length(s, len(value), where, "entries")
    for k, v in value.items():
        _check(s["key"]["shape"], k, f"{where} key")
        _check(s["value"]["shape"], v, f"{where}.{k}")


def _string(s: Mapping[str, Any], value: Any, where: str) -> None:
    if not isinstance(value, str):
        raise ModelViolation(f"{where}: expected a string")
    if "enum" in s and value not in s["enum"]:
        raise ModelViolation(f"{where}: {value!r} is not one of {', '.join(s['enum'])}")
    _length(s, len(value), where, "characters")
    if "pattern" in s and not re.search(s["pattern"], value):
        raise ModelViolation(f"{where}: {value!r} does not match the pattern {s['pattern']}")


def _integer(s: Mapping[str, Any], value: Any, where: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ModelViolation(f"{where}: expected an integer")
    if "min" in s and value < s["min"]:
        raise ModelViolation(f"{where}: {value} is below the minimum {s['min']}")
    if "max" in s and value > s["max"]:
        raise ModelViolation(f"{where}: {value} is above the maximum {s['max']}")


def _boolean(s: Mapping[str, Any], value: Any, where: str) -> None:
    if not isinstance(value, bool):
        raise ModelViolation(f"{where}: expected a boolean")


def _length(s: Mapping[str, Any], n: int, where: str, unit: str) -> None:
    if "min" in s and n < s["min"]:
        raise ModelViolation(f"{where}: at least {s['min']} {unit} required")
    if "max" in s and n > s["max"]:
        raise ModelViolation(f"{where}: at most {s['max']} {unit} allowed")


def _join(where: str, member: str) -> str:
    return f"{where}.{member}" if where and not where[0].isupper() else member


_CHECKS = {"structure": _structure, "list": _list, "map": _map, "string": _string, "integer": _integer,
           "long": _integer, "boolean": _boolean}

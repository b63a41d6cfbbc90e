"""Request bodies checked against the ``oci`` SDK's own models (oci.container_engine.models, API 20180222).

The SDK is generated from OKE's API specification: each model's ``attribute_map`` names the JSON properties,
``swagger_types`` their types, and its setters carry the allowed values of enums (request models raise
ValueError for any other value; response models map it to UNKNOWN_ENUM_VALUE). A body with a property the
model does not have, a value of the wrong JSON type, or a value outside an enum is refused with
``400 InvalidParameter`` (the code OKE's API reference lists for 400; the exact message text is not published).

Not validated: the content of strings (OCIDs, version strings: the handlers check those), and list items of
model types the installed SDK does not ship (``NodePoolCyclingDetails.cycleModes`` is ``list[CycleMode]`` but
oci 2.189.0 has no CycleMode model): such values only have to be JSON lists.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

_LIST = re.compile(r"^list\[(.+)\]$")
_DICT = re.compile(r"^dict\(str, (.+)\)$")
_SCALARS: dict[str, tuple[type, ...]] = {"str": (str,), "bool": (bool,), "int": (int,), "float": (int, float),
                                         "datetime": (str,), "date": (str,), "object": (object,)}


class SpecError(ValueError):
    """A request body does not match the SDK model; ``path`` names the property (camelCase)."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


def _models() -> Any:
    # the oke extra (the SDK ships no type information), imported when the emulator first validates a body
    return importlib.import_module("oci.container_engine.models")


def validate(body: Any, model: str, path: str = "") -> None:
    """Check a JSON ``body`` against the SDK model class named ``model``; raise SpecError."""
    cls = getattr(_models(), model, None)
    if cls is None:
        return                                        # a model the installed SDK does not ship: not validated
    if not isinstance(body, dict):
        raise SpecError(path, f"must be a JSON object ({model})")
    sub = getattr(cls, "get_subtype", None)
    if callable(sub):                                 # polymorphic models (e.g. NodeSourceDetails by sourceType)
        cls = getattr(_models(), sub(body), cls)
    inst = cls()
    by_json = {json_name: attr for attr, json_name in inst.attribute_map.items()}
    unknown = sorted(set(body) - set(by_json))
    if unknown:
        raise SpecError(path, f"unknown properties {', '.join(_join(path, k) for k in unknown)} "
                              f"(not in {cls.__name__})")
    for key, value in body.items():
        attr = by_json[key]
        where = _join(path, key)
        _check_type(value, inst.swagger_types[attr], where)
        _check_allowed(inst, attr, value, where)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _check_type(value: Any, type_name: str, path: str) -> None:
    if value is None:
        return
    m = _LIST.match(type_name)
    if m:
        if not isinstance(value, list):
            raise SpecError(path, f"must be a JSON array ({type_name})")
        for i, item in enumerate(value):
            _check_type(item, m.group(1), f"{path}[{i}]")
        return
    m = _DICT.match(type_name)
    if m:
        if not isinstance(value, dict):
            raise SpecError(path, f"must be a JSON object ({type_name})")
        for k, item in value.items():
            _check_type(item, m.group(1), f"{path}.{k}")
        return
    if type_name in _SCALARS:
        ok = isinstance(value, _SCALARS[type_name]) and not (type_name in ("int", "float") and isinstance(value, bool))
        if not ok:
            raise SpecError(path, f"must be of type {type_name}, got {type(value).__name__}")
        return
    validate(value, type_name, path)


def _check_allowed(inst: Any, attr: str, value: Any, path: str) -> None:
    """The SDK setter is the enum check: request models raise ValueError, response models say UNKNOWN_ENUM_VALUE."""
    if not isinstance(value, str):
        return
    try:
        setattr(inst, attr, value)
    except ValueError as exc:
        raise SpecError(path, str(exc)) from None
    if getattr(inst, attr) == "UNKNOWN_ENUM_VALUE" and value != "UNKNOWN_ENUM_VALUE":
        raise SpecError(path, f"{value!r} is not an allowed value")

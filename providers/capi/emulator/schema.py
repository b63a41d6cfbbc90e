"""CRD loading and OpenAPI v3 structural validation, the way kube-apiserver applies a CRD's schema.

What is checked (per served version): ``type`` (incl. ``x-kubernetes-int-or-string``), ``required``,
``enum``, ``minLength``/``maxLength``, ``minimum``/``maximum``, ``minItems``/``maxItems``,
``minProperties``, ``pattern``, ``format: date-time``, maps (``additionalProperties``) and unknown fields
(rejected unless ``x-kubernetes-preserve-unknown-fields``; pruned instead when the request asks for
``fieldValidation=Ignore|Warn``). Defaults from the schema are applied first, and ``null`` values of
non-nullable fields are dropped, as the apiserver does. CEL rules (``x-kubernetes-validations``) are not
evaluated. Errors come back as ``Cause`` values shaped like ``metav1.StatusCause``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CRD_DIR = Path(__file__).with_name("crds")

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_TYPE_NAMES = {"object": dict, "array": list, "string": str, "boolean": bool}


@dataclass(frozen=True)
class Cause:
    reason: str
    message: str
    field: str

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass
class ResourceType:
    """One served group/version/resource, as discovery reports it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    schema: dict[str, Any] = field(default_factory=dict)
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    generation: bool = True          # metadata.generation is maintained (CRDs: yes; Lease: no)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@lru_cache(maxsize=4)
def load_crds(crd_dir: str = str(CRD_DIR)) -> tuple[dict[str, Any], ...]:
    """Parse every CRD file in ``crd_dir`` once (cached)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out = []
    for f in sorted(Path(crd_dir).glob("*.yaml")):
        with open(f, encoding="utf-8") as fh:
            doc = yaml.load(fh, Loader=loader)
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            out.append(doc)
    return tuple(out)


def resource_types(crds: tuple[dict[str, Any], ...], served: dict[str, str]) -> list[ResourceType]:
    """The resource types to serve: for each CRD, the version chosen in ``served`` (group -> version)."""
    out = []
    for crd in crds:
        spec = crd["spec"]
        want = served.get(spec["group"])
        if not any(v["name"] == want and v.get("served", True) for v in spec["versions"]):
            # a CRD that does not serve the group's chosen version (CAPZ, CAPG: v1beta1 only; CAPA: v1beta2
            # only) is served in its storage version, as its provider installs it
            want = next((v["name"] for v in spec["versions"] if v.get("storage") and v.get("served", True)), want)
        for v in spec["versions"]:
            if v["name"] != want or not v.get("served", True):
                continue
            names = spec["names"]
            out.append(ResourceType(
                group=spec["group"], version=v["name"], kind=names["kind"], plural=names["plural"],
                singular=names.get("singular", names["kind"].lower()),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                schema=v["schema"]["openAPIV3Schema"], subresources=tuple(sorted(v.get("subresources") or {})),
                short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ())))
    return out


# coordination.k8s.io/v1 Lease (built in, not a CRD): the fields of LeaseSpec.
LEASE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
        "spec": {"type": "object", "properties": {
            "acquireTime": {"type": "string", "format": "date-time"},
            "holderIdentity": {"type": "string"},
            "leaseDurationSeconds": {"type": "integer", "format": "int32"},
            "leaseTransitions": {"type": "integer", "format": "int32"},
            "preferredHolder": {"type": "string"},
            "renewTime": {"type": "string", "format": "date-time"},
            "strategy": {"type": "string"},
        }},
    },
}

LEASE_TYPE = ResourceType(group="coordination.k8s.io", version="v1", kind="Lease", plural="leases",
                          singular="lease", schema=LEASE_SCHEMA, generation=False)


# ---- defaulting ------------------------------------------------------------------------------------------

def apply_defaults(obj: Any, schema: dict[str, Any]) -> Any:
    """Drop nulls of non-nullable fields and fill schema defaults, in place where possible."""
    if isinstance(obj, dict) and _is_object(schema):
        props = schema.get("properties") or {}
        for k in [k for k, v in obj.items() if v is None and not (props.get(k) or {}).get("nullable")]:
            del obj[k]
        for k, sub in props.items():
            if k not in obj and "default" in sub:
                obj[k] = copy.deepcopy(sub["default"])
            if k in obj:
                obj[k] = apply_defaults(obj[k], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for k in list(obj):
                if k not in props:
                    obj[k] = apply_defaults(obj[k], extra)
    elif isinstance(obj, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(x, schema["items"]) for x in obj if x is not None]
    return obj


def _is_object(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "object" or "properties" in schema


# ---- validation ------------------------------------------------------------------------------------------

def _fmt(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return '"' + type(value).__name__ + '"'
    return str(value)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _type_ok(value: Any, schema: dict[str, Any]) -> bool:
    if schema.get("x-kubernetes-int-or-string"):
        return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
    t = schema.get("type")
    if t is None:
        return True
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPE_NAMES.get(t, object))


def _valid_datetime(s: str) -> bool:
    try:
        datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
        return True
    except ValueError:
        return False


class Validator:
    """Validate one object against one structural schema. ``prune`` drops unknown fields instead of
    reporting them (the apiserver's fieldValidation=Ignore/Warn); ``pruned`` lists what was dropped."""

    def __init__(self, prune: bool = False):
        self.prune = prune
        self.causes: list[Cause] = []
        self.pruned: list[str] = []

    def validate(self, obj: dict[str, Any], schema: dict[str, Any]) -> list[Cause]:
        self._walk(obj, schema, "", root=True)
        if isinstance(obj, dict):
            self._metadata(obj.get("metadata") or {}, "metadata")
        return self.causes

    def _add(self, reason: str, message: str, path: str) -> None:
        self.causes.append(Cause(reason, message, path))

    def _metadata(self, meta: dict[str, Any], path: str) -> None:
        name = meta.get("name")
        if isinstance(name, str) and name and (len(name) > 253 or not _DNS1123_SUBDOMAIN.match(name)):
            self._add("FieldValueInvalid", f"Invalid value: {_fmt(name)}: a lowercase RFC 1123 subdomain must "
                      "consist of lower case alphanumeric characters, '-' or '.', and must start and end with "
                      "an alphanumeric character", f"{path}.name")
        for key in ("labels", "annotations"):
            m = meta.get(key)
            if m is None:
                continue
            if not isinstance(m, dict) or not all(isinstance(v, str) for v in m.values()):
                self._add("FieldValueTypeInvalid", f"Invalid value: {_fmt(m)}: {path}.{key} must be a map of "
                          "string to string", f"{path}.{key}")

    def _walk(self, value: Any, schema: dict[str, Any], path: str, root: bool = False) -> None:
        if not _type_ok(value, schema):
            want = "integer or string" if schema.get("x-kubernetes-int-or-string") else schema.get("type")
            self._add("FieldValueTypeInvalid", f"Invalid value: {_fmt(value)}: {path or '<root>'} in body must "
                      f"be of type {want}: {_fmt(_type_name(value))}", path)
            return
        if "enum" in schema and value not in schema["enum"]:
            allowed = ", ".join(_fmt(x) for x in schema["enum"])
            self._add("FieldValueNotSupported", f"Unsupported value: {_fmt(value)}: supported values: {allowed}", path)
        if isinstance(value, str):
            self._string(value, schema, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(value, schema, path)
        elif isinstance(value, list):
            self._array(value, schema, path)
        elif isinstance(value, dict):
            self._object(value, schema, path, root)

    def _string(self, value: str, schema: dict[str, Any], path: str) -> None:
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self._add("FieldValueTooLong", f"Too long: may not be more than {schema['maxLength']} bytes", path)
        if "minLength" in schema and len(value) < schema["minLength"]:
            self._add("FieldValueInvalid", f"Invalid value: {_fmt(value)}: {path} in body should be at least "
                      f"{schema['minLength']} chars long", path)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            self._add("FieldValueInvalid", f"Invalid value: {_fmt(value)}: {path} in body should match "
                      f"'{schema['pattern']}'", path)
        if schema.get("format") == "date-time" and not _valid_datetime(value):
            self._add("FieldValueInvalid", f"Invalid value: {_fmt(value)}: {path} in body must be of type "
                      f"date-time: {_fmt(value)}", path)

    def _number(self, value: float, schema: dict[str, Any], path: str) -> None:
        if "minimum" in schema and value < schema["minimum"]:
            self._add("FieldValueInvalid", f"Invalid value: {value}: {path} in body should be greater than or "
                      f"equal to {schema['minimum']}", path)
        if "maximum" in schema and value > schema["maximum"]:
            self._add("FieldValueInvalid", f"Invalid value: {value}: {path} in body should be less than or "
                      f"equal to {schema['maximum']}", path)

    def _array(self, value: list[Any], schema: dict[str, Any], path: str) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self._add("FieldValueTooMany", f"Too many: {len(value)}: must have at most {schema['maxItems']} items",
                      path)
        if "minItems" in schema and len(value) < schema["minItems"]:
            self._add("FieldValueInvalid", f"Invalid value: {len(value)}: {path} in body should have at least "
                      f"{schema['minItems']} items", path)
        items = schema.get("items")
        if isinstance(items, dict):
            for i, v in enumerate(value):
                self._walk(v, items, f"{path}[{i}]")

    def _object(self, value: dict[str, Any], schema: dict[str, Any], path: str, root: bool) -> None:
        props = schema.get("properties") or {}
        for req in schema.get("required") or ():
            if req not in value:
                self._add("FieldValueRequired", "Required value", _join(path, req))
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self._add("FieldValueInvalid", f"Invalid value: {len(value)}: {path} in body should have at least "
                      f"{schema['minProperties']} properties", path)
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        for k in list(value):
            sub = props.get(k)
            p = _join(path, k)
            if root and k == "metadata":
                continue          # ObjectMeta is validated by the apiserver itself, see _metadata
            if sub is not None:
                self._walk(value[k], sub, p)
            elif isinstance(extra, dict):
                self._walk(value[k], extra, p)
            elif extra is True or preserve:
                continue
            else:
                self._unknown(value, k, p)

    def _unknown(self, value: dict[str, Any], key: str, path: str) -> None:
        if self.prune:
            self.pruned.append(path)
            del value[key]
        else:
            self._add("FieldValueForbidden", f'Forbidden: unknown field "{path}" (not declared in schema)', path)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def validate_object(obj: dict[str, Any], rt: ResourceType, *, prune: bool = False) -> tuple[list[Cause], list[str]]:
    """Default, then validate ``obj`` (modified in place) against ``rt``'s schema: (causes, pruned paths)."""
    apply_defaults(obj, rt.schema)
    v = Validator(prune=prune)
    causes = v.validate(obj, rt.schema)
    return causes, v.pruned

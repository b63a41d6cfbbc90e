"""The object store of the emulated kube-apiserver: resourceVersion, generation, status subresource,
merge-patch / JSON-patch, label selectors, 409 on conflicts and 422 (reason Invalid) on schema errors.

Every error is a ``StatusError`` carrying the ``metav1.Status`` the apiserver would send.
"""

from __future__ import annotations

import builtins
import copy
import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from fleet.clock import Clock, iso
from providers.capi.emulator.schema import Cause, ResourceType, validate_object

Obj = dict[str, Any]
# admission hooks: (rt, old or None, new) -> causes; they may also default fields of ``new`` in place
Admission = Callable[[ResourceType, Obj | None, Obj], list[Cause]]

_SERVER_OWNED = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink")


def clone(obj: Any) -> Any:
    """A deep copy of JSON data (several times faster than copy.deepcopy)."""
    return json.loads(json.dumps(obj))


class StatusError(Exception):
    """An error response: ``code`` plus a Kubernetes ``Status`` body."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                               "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        return out


def invalid(rt: ResourceType, name: str, causes: list[Cause], prefix: str = "") -> StatusError:
    """422 Invalid, as ``apierrors.NewInvalid`` renders it."""
    errs = [str(c) for c in causes]
    listed = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
    return StatusError(422, "Invalid", f'{prefix}{rt.kind}.{rt.group} "{name}" is invalid: {listed}',
                       {"name": name, "group": rt.group, "kind": rt.kind, "causes": [c.to_dict() for c in causes]})


def not_found(rt: ResourceType, name: str) -> StatusError:
    return StatusError(404, "NotFound", f'{rt.group_resource} "{name}" not found',
                       {"name": name, "group": rt.group, "kind": rt.plural})


def conflict(rt: ResourceType, name: str) -> StatusError:
    return StatusError(409, "Conflict", f'Operation cannot be fulfilled on {rt.group_resource} "{name}": the object '
                       "has been modified; please apply your changes to the latest version and try again",
                       {"name": name, "group": rt.group, "kind": rt.plural})


# ---- patches ---------------------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer must start with '/': {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str]) -> Any:
    for p in parts:
        doc = doc[int(p)] if isinstance(doc, list) else doc[p]
    return doc


def json_patch(doc: Any, ops: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch: add, remove, replace, move, copy, test."""
    doc = copy.deepcopy(doc)
    for op in ops:
        kind = op.get("op")
        parts = _pointer(op.get("path", ""))
        if not parts:
            raise ValueError("patching the whole document is not supported")
        if kind in ("move", "copy"):
            src = _pointer(op["from"])
            value = copy.deepcopy(_resolve(doc, src))
            if kind == "move":
                sp = _resolve(doc, src[:-1])
                del sp[int(src[-1]) if isinstance(sp, list) else src[-1]]
            kind, op = "add", {"value": value, "path": op.get("path")}
        _apply_op(kind, _resolve(doc, parts[:-1]), parts[-1], op)
    return doc


def _apply_op(kind: Any, parent: Any, last: str, op: dict[str, Any]) -> None:
    """One add, remove, replace or test at ``parent[last]``."""
    if kind == "test":
        cur = parent[int(last)] if isinstance(parent, list) else parent[last]
        if cur != op.get("value"):
            raise ValueError(f"test failed at {op.get('path')}")
    elif kind == "remove":
        del parent[int(last) if isinstance(parent, list) else last]
    elif kind == "add":
        if isinstance(parent, list):
            parent.insert(len(parent) if last == "-" else int(last), op["value"])
        else:
            parent[last] = op["value"]
    elif kind == "replace":
        if isinstance(parent, list):
            parent[int(last)] = op["value"]
        else:
            if last not in parent:
                raise KeyError(last)
            parent[last] = op["value"]
    else:
        raise ValueError(f"unknown op {kind!r}")


def _merge_status(cur: Obj, new: Obj) -> Obj:
    """A write to the status subresource: the stored object with ``new``'s status (or none)."""
    merged = clone(cur)
    if "status" in new:
        merged["status"] = new["status"]
    else:
        merged.pop("status", None)
    return merged


def _keep_server_owned(cur: Obj, new: Obj, has_status: bool) -> Obj:
    """A write to the object: server-owned metadata, and the status when it is a subresource, stay as stored."""
    meta = new["metadata"]
    for k in _SERVER_OWNED + ("namespace", "name"):
        if k in cur["metadata"]:
            meta[k] = cur["metadata"][k]
        else:
            meta.pop(k, None)
    if has_status:
        if "status" in cur:
            new["status"] = cur["status"]
        else:
            new.pop("status", None)
    return new


# ---- label selectors -------------------------------------------------------------------------------------

_SEL = re.compile(r"^\s*(!)?\s*([A-Za-z0-9./_-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9._-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def parse_selector(selector: str | None) -> list[tuple[str, str, tuple[str, ...]]]:
    """``a=b,c!=d,e,!f,g in (x,y)`` -> [(key, op, values)]; op in = != exists !exists in notin."""
    if not selector:
        return []
    reqs, depth, cur = [], 0, ""
    for ch in selector:                     # split on commas outside parentheses
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            reqs.append(cur)
            cur = ""
        else:
            cur += ch
    reqs.append(cur)
    out: list[tuple[str, str, tuple[str, ...]]] = []
    for r in reqs:
        m = _SEL.match(r)
        if not m:
            raise StatusError(400, "BadRequest", f"unable to parse requirement: {r!r}")
        neg, key, eq, val, setop, setvals = m.groups()
        if eq:
            out.append((key, "!=" if eq == "!=" else "=", (val,)))
        elif setop:
            out.append((key, setop, tuple(v.strip() for v in setvals.split(",") if v.strip())))
        else:
            out.append((key, "!exists" if neg else "exists", ()))
    return out


def matches(labels: dict[str, str], reqs: list[tuple[str, str, tuple[str, ...]]]) -> bool:
    for key, op, vals in reqs:
        v = labels.get(key)
        if op in ("=", "in"):
            ok = key in labels and v in vals
        elif op in ("!=", "notin"):
            ok = v not in vals
        else:
            ok = (key in labels) == (op == "exists")
        if not ok:
            return False
    return True


# ---- the store -------------------------------------------------------------------------------------------

class ObjectStore:
    """Objects by resource type and (namespace, name). Thread-safe through ``lock`` (re-entrant)."""

    def __init__(self, clock: Clock, admission: Admission | None = None):
        self.clock = clock
        self.admission = admission
        self.lock = threading.RLock()
        self.rv = 0
        self._objs: dict[tuple[str, str], dict[tuple[str, str], Obj]] = {}
        self._uid = 0

    # reads
    def get(self, rt: ResourceType, ns: str, name: str) -> Obj:
        obj = self._objs.get((rt.group, rt.plural), {}).get((ns, name))
        if obj is None:
            raise not_found(rt, name)
        return clone(obj)

    def find(self, rt: ResourceType, ns: str, name: str) -> Obj | None:
        obj = self.peek(rt, ns, name)
        return clone(obj) if obj is not None else None

    def list(self, rt: ResourceType, ns: str | None = None, selector: str | None = None) -> builtins.list[Obj]:
        return [clone(o) for o in self.peek_list(rt, ns, selector)]

    def peek(self, rt: ResourceType, ns: str, name: str) -> Obj | None:
        """The stored object itself, for the emulator's own read-only use (never mutate it)."""
        return self._objs.get((rt.group, rt.plural), {}).get((ns, name))

    def peek_list(self, rt: ResourceType, ns: str | None = None, selector: str | None = None) -> builtins.list[Obj]:
        reqs = parse_selector(selector)
        items = self._objs.get((rt.group, rt.plural), {})
        return [o for (n, _), o in sorted(items.items())
                if (ns is None or n == ns) and matches(o["metadata"].get("labels") or {}, reqs)]

    def namespaces(self) -> builtins.list[str]:
        return sorted({"default", "kube-system"} | {n for objs in self._objs.values() for (n, _) in objs})

    # writes
    def _next_uid(self) -> str:
        self._uid += 1
        return str(uuid.UUID(int=self._uid))

    def _check(self, rt: ResourceType, old: Obj | None, new: Obj, prune: bool, admit: bool = True) -> builtins.list[str]:
        name = new.get("metadata", {}).get("name", "")
        causes, pruned = validate_object(new, rt, prune=prune)
        if causes:
            raise invalid(rt, name, causes)
        if admit and self.admission is not None:
            causes = self.admission(rt, old, new)
            if causes:
                raise invalid(rt, name, causes, prefix=f'admission webhook "validation.{rt.singular}.{rt.group}" '
                                                       "denied the request: ")
        return pruned

    def create(self, rt: ResourceType, ns: str, body: Any, *, prune: bool = False) -> tuple[Obj, builtins.list[str]]:
        if not isinstance(body, dict):
            raise StatusError(400, "BadRequest", "the body of the request was in an unknown format")
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        if obj.get("apiVersion", rt.api_version) != rt.api_version or obj.get("kind", rt.kind) != rt.kind:
            raise StatusError(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion')}) does not "
                              f"match the expected API version ({rt.api_version})")
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if meta.get("namespace", ns) != ns:
            raise StatusError(400, "BadRequest", "the namespace of the provided object does not match the "
                              "namespace sent on the request")
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{self._uid + 1:05x}"
        name = meta.get("name")
        if not name:
            raise invalid(rt, "", [Cause("FieldValueRequired", "name or generateName is required", "metadata.name")])
        for k in _SERVER_OWNED:
            meta.pop(k, None)
        meta["namespace"] = ns
        with self.lock:
            if (ns, name) in self._objs.get((rt.group, rt.plural), {}):
                raise StatusError(409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists',
                                  {"name": name, "group": rt.group, "kind": rt.plural})
            if "status" in rt.subresources:
                obj.pop("status", None)
            pruned = self._check(rt, None, obj, prune)
            meta["uid"] = self._next_uid()
            meta["creationTimestamp"] = iso(self.clock.now())
            if rt.generation:
                meta["generation"] = 1
            return self._store(rt, ns, name, obj), pruned

    def _store(self, rt: ResourceType, ns: str, name: str, obj: Obj) -> Obj:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self._objs.setdefault((rt.group, rt.plural), {})[(ns, name)] = obj
        return clone(obj)

    def update(self, rt: ResourceType, ns: str, name: str, new: Obj, *, subresource: str | None = None,
               prune: bool = False, check_rv: bool = True) -> tuple[Obj, builtins.list[str]]:
        """Write ``new`` over the stored object (the PUT semantics; PATCH computes ``new`` first)."""
        with self.lock:
            cur = self._objs.get((rt.group, rt.plural), {}).get((ns, name))
            if cur is None:
                raise not_found(rt, name)
            if not isinstance(new, dict):
                raise StatusError(400, "BadRequest", "the body of the request was in an unknown format")
            new = clone(new)
            meta = new.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise StatusError(400, "BadRequest", f'the name of the object ({meta.get("name")}) does not match '
                                  f"the name on the URL ({name})")
            rv = meta.get("resourceVersion")
            if check_rv and rv not in (None, "") and rv != cur["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            has_status = "status" in rt.subresources
            new = _merge_status(cur, new) if subresource == "status" else _keep_server_owned(cur, new, has_status)
            new["apiVersion"], new["kind"] = rt.api_version, rt.kind
            pruned = self._check(rt, cur, new, prune, admit=subresource != "status")
            if new == cur:
                return clone(cur), pruned        # no-op writes keep the resourceVersion
            if rt.generation and subresource != "status" and _spec_changed(cur, new, has_status):
                new["metadata"]["generation"] = cur["metadata"].get("generation", 0) + 1
            return self._store(rt, ns, name, new), pruned

    def patch(self, rt: ResourceType, ns: str, name: str, body: Any, content_type: str, *,
              subresource: str | None = None, prune: bool = False) -> tuple[Obj, builtins.list[str]]:
        with self.lock:
            cur = self.get(rt, ns, name)
            ctype = (content_type or "").split(";")[0].strip()
            if ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    raise StatusError(400, "BadRequest", "json patch must be a list of operations")
                try:
                    new = json_patch(cur, body)
                except (KeyError, IndexError, ValueError, TypeError) as exc:
                    raise StatusError(422, "Invalid", f"the server rejected our request due to an error in our "
                                      f"request: json patch failed: {exc}") from None
            elif ctype in ("application/merge-patch+json", "application/apply-patch+yaml"):
                if not isinstance(body, dict):
                    raise StatusError(400, "BadRequest", "merge patch body must be a JSON object")
                new = merge_patch(cur, body)
            else:
                raise StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                  "accepted media types include: application/json-patch+json, "
                                  "application/merge-patch+json, application/apply-patch+yaml")
            # a resourceVersion in the patch is a precondition; the stored one otherwise
            return self.update(rt, ns, name, new, subresource=subresource, prune=prune)

    def delete(self, rt: ResourceType, ns: str, name: str) -> Obj:
        with self.lock:
            objs = self._objs.get((rt.group, rt.plural), {})
            if (ns, name) not in objs:
                raise not_found(rt, name)
            return objs.pop((ns, name))


def _spec_changed(cur: Obj, new: Obj, has_status: bool) -> bool:
    ignore = {"metadata", "status"} if has_status else {"metadata"}
    return {k: v for k, v in cur.items() if k not in ignore} != {k: v for k, v in new.items() if k not in ignore}

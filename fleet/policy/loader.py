"""Load and validate user files; every problem comes back as ``file:line: field: message``.

Loading is all-or-nothing: if any document has a problem, InputError lists them all and nothing is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from fleet.errors import InputError, MissingExtraError, Problem, ProviderNotFound
from fleet.policy.models import KINDS as _MODEL_KINDS
from fleet.policy.models import FleetConfig, Inventory, ProviderOffers, UpgradePolicy
from fleet.policy.rollout import RolloutStrategy
from fleet.policy.source import Document, format_path, load_documents, yaml_files
from fleet.provider import Cluster, NodePool, VersionOffers, load_provider_class

KINDS: dict[str, type[BaseModel]] = {**_MODEL_KINDS, "RolloutStrategy": RolloutStrategy}
# the kinds a policies folder holds
POLICY_KINDS = ("UpgradePolicy", "RolloutStrategy")


@dataclass
class Loaded:
    policies: list[UpgradePolicy] = field(default_factory=list)
    inventories: list[Inventory] = field(default_factory=list)
    configs: list[FleetConfig] = field(default_factory=list)
    rollouts: list[RolloutStrategy] = field(default_factory=list)
    sources: dict[int, tuple[str, int]] = field(default_factory=dict)  # id(model) -> (file, line)


_TYPE_ERRORS = frozenset({"list_type", "dict_type", "model_type", "model_attributes_type", "string_type",
                          "int_type", "float_type", "bool_type", "union_tag_invalid"})


def _clean_loc(data: Any, loc: tuple[Any, ...], err_type: str) -> tuple[tuple[str | int, ...], str | None]:
    """Drop pydantic's union-branch tags from ``loc`` by walking the user's data along it.

    Returns the path the user wrote and the branch tag dropped (None when the error is not inside a union).
    A part is a real key when the data at that point has it (or it names a missing/unknown field last)."""
    out: list[str | int] = []
    branch = None
    cur = data
    for i, part in enumerate(loc):
        if (isinstance(cur, dict) and part in cur) or (
                isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)):
            out.append(part)
            cur = cur[part]
        elif isinstance(cur, dict) and i == len(loc) - 1 and err_type == "missing":
            out.append(part)
        elif isinstance(part, str):
            branch = branch or part  # a union member's tag such as 'ProviderOffers' or 'list[...]'
        else:
            out.append(part)
            cur = None
    return tuple(out), branch


def _message(err: Any) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    elif err["type"] == "literal_error":
        msg = msg.replace("Input should be", "must be")
    return msg


def _problems_from(doc: Document, exc: ValidationError) -> list[Problem]:
    # (path, union branch, type error?, message) for every error, in pydantic's order
    found = []
    for err in exc.errors(include_url=False):
        path, branch = _clean_loc(doc.data, tuple(err["loc"]), err["type"])
        found.append((path, branch, err["type"] in _TYPE_ERRORS, _message(err)))
    # In a union, the branch whose type fits the value explains the problem: drop the other branches'
    # "should be a valid list/dictionary" errors at the same path (keep them all when no branch fits).
    fitting = {path for path, branch, type_error, _ in found if branch is not None and not type_error}
    merged: dict[tuple[str | int, ...], list[str]] = {}  # no branch fits: one problem naming every branch
    for path, branch, type_error, msg in found:
        if branch is not None and type_error:
            merged.setdefault(path, []).append(msg)
    out: list[Problem] = []
    seen = set()
    for path, branch, type_error, msg in found:
        if branch is not None and type_error:
            if any(path[:len(f)] == f or f[:len(path)] == path for f in fitting):
                continue
            msg = " or ".join(dict.fromkeys(m.replace("Input should be ", "") for m in merged[path]))
            msg = f"must be {msg}"
        if (path, msg) in seen:
            continue
        seen.add((path, msg))
        out.append(Problem(doc.file, doc.line_of(path), format_path(path), msg))
    return sorted(out, key=lambda p: p.line or 0)


def _facts_model(provider_type: str) -> type[BaseModel] | None | str:
    """The facts model a provider type declares (its class's ``facts_model``, loaded lazily through its
    entry point; the model module imports no SDK), or why there is none."""
    try:
        cls = load_provider_class(provider_type)
    except ProviderNotFound as exc:
        return str(exc)
    except MissingExtraError:
        return None   # cannot be checked without the SDK extra: taken as written
    model = getattr(cls, "facts_model", None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return model
    return f"provider type {provider_type!r} declares no facts"


def _check_facts(doc: Document, inv: Inventory) -> list[Problem]:
    """Validate every inventory cluster's ``facts`` against its provider type's facts model (in place: the
    cluster keeps the facts as the model reads them, spelled as users write them)."""
    out: list[Problem] = []
    models: dict[str, type[BaseModel] | None | str] = {}
    raw_clusters = doc.data.get("clusters") if isinstance(doc.data, dict) else None
    for i, c in enumerate(inv.clusters):
        if not c.facts:
            continue
        if c.provider not in models:
            models[c.provider] = _facts_model(c.provider)
        model = models[c.provider]
        base: tuple[str | int, ...] = ("clusters", i, "facts")
        if isinstance(model, str):
            out.append(Problem(doc.file, doc.line_of(base), format_path(base), model))
            continue
        if model is None:
            continue
        try:
            facts = model.model_validate(c.facts).model_dump(mode="json", by_alias=True)
        except ValidationError as exc:
            raw = raw_clusters[i].get("facts") if isinstance(raw_clusters, list) else c.facts
            for err in exc.errors(include_url=False):
                sub, _ = _clean_loc(raw, tuple(err["loc"]), err["type"])
                path = base + sub
                out.append(Problem(doc.file, doc.line_of(path), format_path(path), _message(err)))
            continue
        inv.clusters[i] = c.model_copy(update={"facts": facts})
    return out


def validate_document(doc: Document, kinds: tuple[str, ...] | None = None) -> Any:
    data = doc.data
    if not isinstance(data, dict):
        raise InputError([Problem(doc.file, doc.start_line, "", "expected a mapping with apiVersion, kind, metadata, spec")])
    kind = data.get("kind")
    allowed = kinds or tuple(KINDS)
    if kind not in allowed:
        raise InputError([Problem(doc.file, doc.line_of(("kind",)), "kind",
                                  f"expected one of {', '.join(allowed)}, got {kind!r}")])
    try:
        return KINDS[kind].model_validate(data)
    except ValidationError as exc:
        raise InputError(_problems_from(doc, exc)) from None


def _add_model(loaded: Loaded, doc: Document, model: Any, seen_policy: dict[str, str]) -> list[Problem]:
    """Add one validated document to ``loaded``; the problems that keep it out."""
    if isinstance(model, UpgradePolicy):
        if model.name in seen_policy:
            return [Problem(doc.file, doc.line_of(("metadata", "name")), "metadata.name",
                            f"policy {model.name!r} is already defined at {seen_policy[model.name]}")]
        seen_policy[model.name] = f"{doc.file}:{doc.start_line}"
        loaded.policies.append(model)
    elif isinstance(model, RolloutStrategy):
        if loaded.rollouts:
            first = loaded.sources.get(id(loaded.rollouts[0]), ("?", 0))
            return [Problem(doc.file, doc.start_line, "kind",
                            f"a policies folder holds at most one RolloutStrategy; "
                            f"{loaded.rollouts[0].name!r} is already defined at {first[0]}:{first[1]}")]
        loaded.rollouts.append(model)
    elif isinstance(model, Inventory):
        problems = _check_facts(doc, model)
        if problems:
            return problems
        loaded.inventories.append(model)
    else:
        loaded.configs.append(model)
    return []


def load_files(paths: list[str | Path], kinds: tuple[str, ...] | None = None) -> Loaded:
    """Load every YAML document under ``paths``; raise InputError listing every problem found."""
    problems: list[Problem] = []
    loaded = Loaded()
    for p in paths:
        if not Path(p).exists():
            problems.append(Problem(str(p), None, "", "no such file or directory"))
    files = yaml_files([p for p in paths if Path(p).exists()])
    seen_policy: dict[str, str] = {}
    for f in files:
        try:
            docs = load_documents(f)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        for doc in docs:
            if doc.data is None:
                continue
            try:
                model = validate_document(doc, kinds)
            except InputError as exc:
                problems.extend(exc.problems)
                continue
            loaded.sources[id(model)] = (doc.file, doc.start_line)
            problems.extend(_add_model(loaded, doc, model, seen_policy))
    if problems:
        raise InputError(problems)
    return loaded


def load_policies(path: str | Path | list[str | Path]) -> list[UpgradePolicy]:
    """The UpgradePolicies of a policies folder (its RolloutStrategy, if any, is validated too)."""
    return load_policy_set(path)[0]


def load_policy_set(path: str | Path | list[str | Path]) -> tuple[list[UpgradePolicy], RolloutStrategy | None]:
    """A policies folder: its UpgradePolicies and its RolloutStrategy (None when it has none)."""
    paths = path if isinstance(path, list) else [path]
    loaded = load_files(paths, kinds=POLICY_KINDS)
    return loaded.policies, (loaded.rollouts[0] if loaded.rollouts else None)


def load_inventory(path: str | Path) -> Inventory:
    loaded = load_files([path], kinds=("Inventory",))
    if len(loaded.inventories) != 1:
        raise InputError([Problem(str(path), None, "", f"expected one Inventory document, found {len(loaded.inventories)}")])
    return loaded.inventories[0]


def load_config(path: str | Path) -> FleetConfig:
    loaded = load_files([path], kinds=("FleetConfig",))
    if len(loaded.configs) != 1:
        raise InputError([Problem(str(path), None, "", f"expected one FleetConfig document, found {len(loaded.configs)}")])
    return loaded.configs[0]


def resolve_path(config_file: str | Path, value: str) -> Path:
    """Paths in a FleetConfig are relative to the config file's folder."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else (Path(config_file).resolve().parent / p)


def inventory_clusters(inv: Inventory) -> tuple[list[Cluster], dict[str, VersionOffers]]:
    """Turn an Inventory into provider value types plus each provider's fallback offers."""
    clusters = []
    for c in inv.clusters:
        pools = tuple(NodePool(p.name, p.version, p.nodes, tuple(p.available), labels=dict(p.labels))
                      for p in c.node_pools)
        clusters.append(Cluster(
            provider=c.provider, location=c.location, name=c.name, control_plane=c.control_plane,
            node_pools=pools, labels=dict(c.labels), id=c.id or "", provider_type=c.provider,
            available=tuple(c.available), auto_upgrade=c.auto_upgrade, facts=dict(c.facts),
        ))
    offers: dict[str, VersionOffers] = {}
    for prov, spec in inv.offers.items():
        if isinstance(spec, ProviderOffers):
            offers[prov] = VersionOffers(tuple(spec.control_plane), {"*": tuple(spec.node_pools)} if spec.node_pools else {})
        else:
            offers[prov] = VersionOffers(tuple(spec))
    return clusters, offers


def load_offline_fleet(policies: Path, inventory: Path) -> tuple[list[UpgradePolicy], list[Cluster],
                                                                 dict[str, VersionOffers]]:
    """Policies + one Inventory, for planning without any provider; the problems of both are reported at once."""
    problems: list[Problem] = []
    loaded: list[Loaded] = []
    for path, kinds in ((policies, POLICY_KINDS), (inventory, ("Inventory",))):
        try:
            loaded.append(load_files([path], kinds=kinds))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    pol, inv = loaded
    if len(inv.inventories) != 1:
        raise InputError([Problem(str(inventory), None, "",
                                  f"expected one Inventory document, found {len(inv.inventories)}")])
    clusters, offers = inventory_clusters(inv.inventories[0])
    return pol.policies, clusters, offers

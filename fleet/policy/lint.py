"""``fleet validate`` warnings: files that are valid but probably not what their author meant. Pure: the loaded
documents (and the paths given) in, warnings out; ``fleet validate --strict`` fails on any of them (exit 2), so
CI can rely on it.

- a folder given to validate (or a FleetConfig's policies folder) that holds no document;
- a policy whose selector matches no cluster of the inventories validated with it;
- a priority tie: two policies that select one cluster with the same priority (the planner blocks it) — found
  per cluster with an inventory, and without one when two selectors are identical (an empty one included);
- a catch-all policy (empty selector) that takes clusters another policy was meant for: with an inventory, a
  cluster the catch-all wins although a policy with a selector also matches it; without one, a catch-all
  whose priority is above another policy's (that policy can never select anything).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fleet.errors import Problem
from fleet.policy.loader import Loaded, inventory_clusters
from fleet.policy.models import Selector, UpgradePolicy
from fleet.provider import Cluster


def _where(loaded: Loaded, model: object) -> tuple[str, int | None]:
    return loaded.sources.get(id(model), ("", None))


def _catch_all(sel: Selector) -> bool:
    return not sel.providers and not sel.match_labels and not sel.names


def _warn(loaded: Loaded, p: UpgradePolicy, field: str, msg: str) -> Problem:
    f, line = _where(loaded, p)
    return Problem(f, line, field, msg)


def compute_empty_folder_warnings(paths: Sequence[Path], loaded: Loaded) -> list[Problem]:
    files = {Path(f).resolve() for f, _ in loaded.sources.values()}
    out = []
    for p in paths:
        if p.is_dir() and not any(p.resolve() in f.parents for f in files):
            out.append(Problem(str(p), None, "", "this folder holds no policy, rollout, inventory or config document"))
    return out


def compute_config_warnings(loaded: Loaded) -> list[Problem]:
    """A FleetConfig's policies folder that holds no UpgradePolicy."""
    from fleet.errors import InputError
    from fleet.policy.loader import load_policy_set
    out = []
    for cfg in loaded.configs:
        f, line = _where(loaded, cfg)
        folder = Path(f).resolve().parent / cfg.spec.policies
        try:
            policies, _ = load_policy_set(folder)
        except InputError as exc:
            out.extend(exc.problems)
            continue
        if not policies:
            out.append(Problem(f, line, "spec.policies", f"{folder} holds no UpgradePolicy: no cluster will be managed"))
    return out


def _tally(pols: Sequence[UpgradePolicy], clusters: Sequence[Cluster]) -> tuple[
        dict[str, int], dict[tuple[str, ...], list[str]], dict[tuple[str, str], list[str]]]:
    """Per policy, the clusters it matches; per tie, its clusters; per (catch-all, policy), the clusters taken."""
    matched: dict[str, int] = {p.name: 0 for p in pols}
    ties: dict[tuple[str, ...], list[str]] = {}
    taken: dict[tuple[str, str], list[str]] = {}
    for c in clusters:
        hits = [p for p in pols if p.spec.selector.matches(c.provider, c.provider_type, c.name, c.id, c.labels)]
        for p in hits:
            matched[p.name] += 1
        if not hits:
            continue
        top = max(p.spec.priority for p in hits)
        best = [p for p in hits if p.spec.priority == top]
        if len(best) > 1:
            ties.setdefault(tuple(sorted(p.name for p in best)), []).append(c.id)
        elif _catch_all(best[0].spec.selector):
            for other in hits:
                if other is not best[0] and not _catch_all(other.spec.selector):
                    taken.setdefault((best[0].name, other.name), []).append(c.id)
    return matched, ties, taken


def compute_selector_warnings(loaded: Loaded, clusters: Sequence[Cluster]) -> list[Problem]:
    """Policies against the clusters of the inventories: selectors matching nothing, ties, catch-alls taking
    clusters meant for another policy."""
    pols = loaded.policies
    matched, ties, taken = _tally(pols, clusters)
    out: list[Problem] = [
        _warn(loaded, p, "spec.selector", f"policy {p.name!r} selects no cluster of the inventory "
                                          f"({len(clusters)} clusters)")
        for p in pols if clusters and matched[p.name] == 0]
    by_name = {p.name: p for p in pols}
    for names, ids in sorted(ties.items()):
        out.append(_warn(loaded, by_name[names[0]], "spec.priority",
                         f"policies {' and '.join(map(repr, names))} select {_few(ids)} with the same priority "
                         f"{by_name[names[0]].spec.priority}: the planner blocks those clusters"))
    for (winner, other), ids in sorted(taken.items()):
        out.append(_warn(loaded, by_name[winner], "spec.selector",
                         f"catch-all policy {winner!r} (empty selector, priority {by_name[winner].spec.priority}) "
                         f"takes {_few(ids)} that policy {other!r} selects (priority "
                         f"{by_name[other].spec.priority})"))
    return out


def compute_static_policy_warnings(loaded: Loaded) -> list[Problem]:
    """Without an inventory: identical selectors at one priority, and catch-alls above other policies."""
    out = []
    pols = loaded.policies
    for i, a in enumerate(pols):
        for b in pols[i + 1:]:
            if a.spec.priority == b.spec.priority and a.spec.selector == b.spec.selector:
                out.append(_warn(loaded, b, "spec.priority",
                                 f"policies {a.name!r} and {b.name!r} have the same selector and priority "
                                 f"{a.spec.priority}: every cluster they select is blocked (a priority tie)"))
    for a in pols:
        if not _catch_all(a.spec.selector):
            continue
        for b in pols:
            if b is not a and not _catch_all(b.spec.selector) and a.spec.priority >= b.spec.priority:
                how = "above" if a.spec.priority > b.spec.priority else "equal to"
                out.append(_warn(loaded, a, "spec.selector",
                                 f"catch-all policy {a.name!r} (empty selector) has priority {a.spec.priority}, "
                                 f"{how} policy {b.name!r} ({b.spec.priority}): "
                                 + ("it takes every cluster meant for it" if how == "above"
                                    else "every cluster they both select is blocked")))
    return out


def compute_warnings(paths: Sequence[Path], loaded: Loaded) -> list[Problem]:
    clusters: list[Cluster] = []
    for inv in loaded.inventories:
        clusters += inventory_clusters(inv)[0]
    out = compute_empty_folder_warnings(paths, loaded) + compute_config_warnings(loaded)
    # with an inventory the clusters say exactly what each policy takes; without one, what is certain anyway
    out += compute_selector_warnings(loaded, clusters) if clusters else compute_static_policy_warnings(loaded)
    return out


def _few(ids: list[str]) -> str:
    shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
    return f"{len(ids)} cluster{'s' if len(ids) != 1 else ''} ({shown})"

"""Control-plane upgrade paths: plain functions chosen by name, and the check every path must pass.

- ``patch_first_then_minor``: first the newest offered patch of the current minor, then one minor at a time,
  each to its newest offered patch, the last to the target.
- ``minor_by_minor``: the same without the patch-first step.

The control plane never skips a minor and nothing is ever downgraded; ``check_path`` enforces it.
"""

from __future__ import annotations

from collections.abc import Callable

from fleet.errors import PlanningError
from fleet.versions import Version, newest_of_minor


class NoPath(Exception):
    """No path exists with the offered versions; the message is the user-facing reason."""


def _minor_steps(current: Version, target: Version, offered: list[Version]) -> list[Version]:
    if target.major != current.major:
        raise NoPath(f"a major version change ({current} → {target}) is not supported")
    out: list[Version] = []
    for minor in range(current.minor + 1, target.minor + 1):
        if minor == target.minor:
            out.append(target)
            continue
        v = newest_of_minor(offered, (current.major, minor))
        if v is None:
            raise NoPath(f"no offered version of {current.major}.{minor} on the path {current} → {target}")
        out.append(v)
    return out


def patch_first_then_minor(current: Version, target: Version, offered: list[Version]) -> list[Version]:
    if target <= current:
        return []
    if target.minor_key == current.minor_key:
        return [target]
    out: list[Version] = []
    patch = newest_of_minor(offered, current.minor_key)
    if patch is not None and patch > current:
        out.append(patch)
    return out + _minor_steps(current, target, offered)


def minor_by_minor(current: Version, target: Version, offered: list[Version]) -> list[Version]:
    if target <= current:
        return []
    if target.minor_key == current.minor_key:
        return [target]
    return _minor_steps(current, target, offered)


PATHS: dict[str, Callable[[Version, Version, list[Version]], list[Version]]] = {
    "patch-first-then-minor": patch_first_then_minor,
    "minor-by-minor": minor_by_minor,
}


def check_path(current: Version, path: list[Version], target: Version) -> None:
    """Raise PlanningError unless the path is strictly increasing, one minor at most per step, ends at target."""
    prev = current
    for v in path:
        if not v > prev:
            raise PlanningError(f"path {current} → {[str(x) for x in path]} is not strictly increasing")
        if v.minors_from(prev) > 1:
            raise PlanningError(f"path skips a minor between {prev} and {v}")
        prev = v
    if path and path[-1] != target:
        raise PlanningError(f"path ends at {path[-1]}, not at the target {target}")

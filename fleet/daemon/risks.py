"""The daemon's risk list: after each reconcile, the clusters at risk are handed to the notifier, which
announces each one entering the list as a ``cluster-at-risk`` event (fleet.notify.risk, docs/notifications.md).

The list is the report's (fleet.reports.compliance.compute_risk over the compliance the daemon computes for
its metrics anyway), as ``fleet report --no-forecast`` computes it: the daemon does not run the forecast
simulation on every tick, so only what is certain without one is listed (compute_risk with forecast=False):
blocked or failed clusters, clusters their policy keeps on a minor leaving support, clusters already past end
of standard support (``past-end-of-standard-support``) or whose next window opens after it.

The store's risk list (fleet.state.risks) is what de-duplicates: the daemon hands a list over only when its
clusters differ from the stored ones, and the notifier announces only the clusters new on it. So each cluster
is announced once when it enters, again only after it has left and come back, whichever replica leads.
A shard's daemon speaks only for the clusters it owns: the other shards' entries in the list stay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fleet.clock import iso
from fleet.notify.risk import RiskList

if TYPE_CHECKING:
    from fleet.reports.compliance import ClusterCompliance, Risk


def describe_risk(r: Risk) -> str:
    """The message of a ``cluster-at-risk`` event: the report's reason, the version and the support date."""
    text = f"{r.reason}: control plane {r.control_plane}, end of standard support {r.end_of_standard}"
    if r.forecast_completion is not None:
        text += f", forecast completion {iso(r.forecast_completion)}"
    return text


def compute_risk_list(clusters: Iterable[ClusterCompliance], at: datetime,
                      horizon: timedelta | None = None) -> dict[str, str]:
    """Pure: cluster id -> message, for every cluster the report's risk rule lists at ``at``."""
    from fleet.reports.compliance import DEFAULT_HORIZON, compute_risk
    out = {}
    for c in clusters:
        r = compute_risk(c, at, horizon or DEFAULT_HORIZON, forecast=False)
        if r is not None:
            out[r.cluster] = describe_risk(r)
    return out


def reconcile_risk_list(store: Any, notifier: Any, clusters: Iterable[ClusterCompliance], at: datetime,
                        owns: Callable[[str], bool] | None = None) -> bool:
    """Hand the current risk list of the clusters this daemon ``owns`` (all, unsharded) to ``notifier`` (a
    fleet.notify.webhooks.Notifier) when they differ from the store's; True when a list was queued. Never
    blocks."""
    current = compute_risk_list(clusters, at)
    stored = [c for c in store.risk_list() if owns is None or owns(c)]
    if sorted(current) == stored:
        return False
    return bool(notifier.enqueue_risk(RiskList(current, at, owns)))

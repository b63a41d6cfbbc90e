"""The report as JSON: the stable schema documented in docs/report-format.md (top-level keys in TOP_LEVEL_KEYS).

Every other format renders from ``report_dict`` so that all of them say the same thing.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from fleet.clock import iso
from fleet.reports.compliance import ClusterCompliance, ComplianceReport, NewestSupport, Risk

API_VERSION = "fleet.dev/v1alpha1"
KIND = "ComplianceReport"
TOP_LEVEL_KEYS = ("apiVersion", "kind", "at", "lifecycle", "horizonDays", "summary", "forecast", "risks",
                  "supportEndsOnNewest", "clusters", "notes")


def _d(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def cluster_dict(c: ClusterCompliance) -> dict[str, Any]:
    s = c.support
    nw = None if c.next_window is None else {"start": iso(c.next_window.start), "end": iso(c.next_window.end)}
    return {
        "id": c.id, "provider": c.provider, "providerType": c.provider_type, "name": c.name,
        "location": c.location, "labels": dict(sorted(c.labels.items())),
        "controlPlane": c.control_plane,
        "nodePools": {"count": c.pool_count, "oldest": c.pool_oldest, "newest": c.pool_newest},
        "policy": c.policy, "target": c.target, "status": c.status, "planStatus": c.plan_status,
        "reasons": list(c.reasons),
        "support": {"known": s.known, "calendar": s.provider, "minor": s.minor, "released": _d(s.released),
                    "endOfStandardSupport": _d(s.end_of_standard), "endOfExtendedSupport": _d(s.end_of_extended),
                    "daysToEndOfStandardSupport": c.days_to_standard,
                    "daysToEndOfExtendedSupport": c.days_to_extended},
        "upgradeState": {"state": c.upgrade_state, "reason": c.upgrade_reason},
        "newestOffered": c.newest_offered,
        "nextWindow": nw, "wave": c.wave, "forecastCompletion": iso(c.forecast_completion), "atRisk": c.at_risk,
    }


def risk_dict(r: Risk) -> dict[str, Any]:
    return {"cluster": r.cluster, "provider": r.provider, "controlPlane": r.control_plane, "status": r.status,
            "upgradeState": r.upgrade_state, "reason": r.reason, "endOfStandardSupport": _d(r.end_of_standard),
            "endOfExtendedSupport": _d(r.end_of_extended), "forecastCompletion": iso(r.forecast_completion),
            "daysLate": r.days_late}


def newest_dict(n: NewestSupport) -> dict[str, Any]:
    return {"cluster": n.cluster, "provider": n.provider, "controlPlane": n.control_plane,
            "endOfStandardSupport": _d(n.end_of_standard), "endOfExtendedSupport": _d(n.end_of_extended)}


def report_dict(r: ComplianceReport) -> dict[str, Any]:
    forecast = None
    if r.forecast is not None:
        forecast = {"fleetDone": iso(r.forecast.fleet_done),
                    "waves": [{"name": n, "start": iso(s), "end": iso(e)} for n, s, e in r.forecast.waves]}
    out = {
        "apiVersion": API_VERSION, "kind": KIND, "at": iso(r.at),
        "lifecycle": {"asOf": r.lifecycle_as_of.isoformat(), "source": r.lifecycle_source},
        "horizonDays": r.horizon.days,
        "summary": {
            "clusters": len(r.clusters), "byStatus": dict(r.counts), "byUpgradeState": dict(r.upgrade_counts),
            "atRisk": len(r.risks), "supportEndsOnNewest": len(r.newest), "forecastComputed": r.forecast_computed,
            "freezes": [{"policy": f.policy, "name": f.name, "scope": f.scope, "start": iso(f.start),
                         "end": iso(f.end)} for f in r.freezes],
            "lifecycleUnknown": r.lifecycle_unknown,
            "versionsByProvider": {p: [{"minor": v.minor, "clusters": v.clusters, "support": v.support} for v in vs]
                                   for p, vs in r.versions.items()},
        },
        "forecast": forecast,
        "risks": [risk_dict(x) for x in r.risks],
        "supportEndsOnNewest": [newest_dict(n) for n in r.newest],
        "clusters": [cluster_dict(c) for c in r.clusters],
        "notes": list(r.notes),
    }
    assert tuple(out) == TOP_LEVEL_KEYS
    return out


def render_json(r: ComplianceReport) -> str:
    return json.dumps(report_dict(r), indent=1, ensure_ascii=False) + "\n"

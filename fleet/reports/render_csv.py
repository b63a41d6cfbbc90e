"""The report as CSV: one row per cluster under a header row (Python's csv module, RFC 4180 quoting).

Every row carries the report instant and the lifecycle dataset's as-of date, so a CSV file read on its own
still says what it was computed against.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from fleet.reports.compliance import ComplianceReport
from fleet.reports.render_json import cluster_dict

COLUMNS = ("id", "provider", "location", "name", "labels", "controlPlane", "nodePoolOldest", "nodePoolNewest",
           "nodePoolCount", "policy", "target", "status", "upgradeState", "upgradeReason", "minor", "endOfStandardSupport",
           "daysToEndOfStandardSupport", "endOfExtendedSupport", "daysToEndOfExtendedSupport",
           "nextWindowStart", "nextWindowEnd", "wave", "forecastCompletion", "atRisk", "reasons",
           "reportAt", "lifecycleAsOf")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def csv_rows(r: ComplianceReport) -> list[list[str]]:
    at, as_of = _cell(r.at.strftime("%Y-%m-%dT%H:%M:%SZ")), r.lifecycle_as_of.isoformat()
    rows = []
    for c in r.clusters:
        d = cluster_dict(c)
        s, nw = d["support"], d["nextWindow"] or {}
        rows.append([_cell(x) for x in (
            d["id"], d["provider"], d["location"], d["name"],
            ";".join(f"{k}={v}" for k, v in d["labels"].items()), d["controlPlane"],
            d["nodePools"]["oldest"], d["nodePools"]["newest"], d["nodePools"]["count"], d["policy"], d["target"],
            d["status"], d["upgradeState"]["state"], d["upgradeState"]["reason"], s["minor"], s["endOfStandardSupport"], s["daysToEndOfStandardSupport"],
            s["endOfExtendedSupport"], s["daysToEndOfExtendedSupport"], nw.get("start"), nw.get("end"),
            d["wave"], d["forecastCompletion"], d["atRisk"], " | ".join(d["reasons"]), at, as_of)])
    return rows


def render_csv(r: ComplianceReport) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    w.writerows(csv_rows(r))
    return buf.getvalue()

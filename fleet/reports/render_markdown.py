"""The report as Markdown (GitHub-flavoured tables): header, summary, risk list, clusters."""

from __future__ import annotations

from fleet.clock import iso
from fleet.reports.compliance import STATUSES, ComplianceReport
from fleet.reports.render_json import cluster_dict, risk_dict


def _esc(v: object) -> str:
    text = "" if v is None else str(v)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ") or "–"


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(_esc(c) for c in row) + " |" for row in rows]
    return out


def _days(v: int | None) -> str:
    return "unknown" if v is None else str(v)


def render_markdown(r: ComplianceReport) -> str:
    lines = [f"# Fleet compliance report at {iso(r.at)}", "",
             f"Lifecycle data as of **{r.lifecycle_as_of.isoformat()}** ({r.lifecycle_source}). "
             f"{len(r.clusters)} clusters; {len(r.risks)} at risk within {r.horizon.days} days; "
             f"{r.lifecycle_unknown} with unknown support.", ""]
    if r.forecast is not None:
        done = iso(r.forecast.fleet_done) or "not within the horizon"
        lines += [f"Forecast: the fleet is done at **{done}**.", ""]
        lines += _table(["wave", "first start", "last completion"],
                        [[n, iso(s) or "not started", iso(e) or "not finished"] for n, s, e in r.forecast.waves]) + [""]
    else:
        lines += ["Forecast: not computed.", ""]
    for n in r.notes:
        lines.append(f"> {n}")
    if r.notes:
        lines.append("")
    lines += ["## Summary", ""] + _table(["status", "clusters"], [[s, r.counts[s]] for s in STATUSES]) + [""]
    lines += ["## Versions by provider", ""]
    lines += _table(["provider", "minor", "clusters", "support"],
                    [[p, v.minor, v.clusters, v.support] for p, vs in r.versions.items() for v in vs]) + [""]
    lines += ["## At risk", ""]
    if r.risks:
        lines += _table(["cluster", "provider", "control plane", "reason", "end of standard support",
                         "end of extended support", "forecast completion", "days late"],
                        [[d["cluster"], d["provider"], d["controlPlane"], d["reason"], d["endOfStandardSupport"],
                          d["endOfExtendedSupport"], d["forecastCompletion"], d["daysLate"]]
                         for d in map(risk_dict, r.risks)])
    else:
        lines.append("No cluster is at risk.")
    lines += ["", "## Clusters", ""]
    rows = []
    for c in r.clusters:
        d = cluster_dict(c)
        s, pools, nw = d["support"], d["nodePools"], d["nextWindow"]
        rows.append([d["id"], d["provider"], d["location"], d["controlPlane"],
                     f"{pools['oldest'] or '–'} … {pools['newest'] or '–'}" if pools["count"] else "",
                     d["policy"], d["target"], d["status"], _days(s["daysToEndOfStandardSupport"]),
                     _days(s["daysToEndOfExtendedSupport"]), nw["start"] if nw else None, d["wave"],
                     d["forecastCompletion"]])
    lines += _table(["cluster", "provider", "location", "control plane", "node pools (oldest … newest)", "policy",
                     "target", "status", "days to end of standard support", "days to end of extended support",
                     "next window", "wave", "forecast completion"], rows)
    return "\n".join(lines) + "\n"

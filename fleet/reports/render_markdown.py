"""The report as Markdown (GitHub-flavoured tables): header, summary, risk list, clusters."""

from __future__ import annotations

from fleet.clock import iso
from fleet.reports.compliance import STATUSES, UPGRADE_STATES, ComplianceReport
from fleet.reports.render_json import cluster_dict, newest_dict, risk_dict
from fleet.reports.render_table import risk_heading


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
    lines += ["## Summary", ""] + _table(["compliance status", "clusters"], [[s, r.counts[s]] for s in STATUSES]) + [""]
    lines += _table(["upgrade state", "clusters"], [[s, r.upgrade_counts.get(s, 0)] for s in UPGRADE_STATES]) + [""]
    lines += ["## Versions by provider", ""]
    lines += _table(["provider", "minor", "clusters", "support"],
                    [[p, v.minor, v.clusters, v.support] for p, vs in r.versions.items() for v in vs]) + [""]
    lines += ["## At risk", "", risk_heading(r) + ".", ""]
    if r.risks:
        head = ["cluster", "provider", "control plane", "upgrade state", "reason", "end of standard support",
                "end of extended support"] + (["forecast completion", "days late"] if r.forecast_computed else [])
        lines += _table(head, [[d["cluster"], d["provider"], d["controlPlane"], d["upgradeState"], d["reason"],
                                d["endOfStandardSupport"], d["endOfExtendedSupport"]]
                               + ([d["forecastCompletion"], d["daysLate"]] if r.forecast_computed else [])
                               for d in map(risk_dict, r.risks)])
    else:
        lines.append("No cluster is at risk.")
    lines += ["", "## On the newest offered version", "",
              "Support ends within the horizon and nothing newer is offered yet.", ""]
    if r.newest:
        lines += _table(["cluster", "provider", "control plane", "support ends on", "extended support ends on"],
                        [[d["cluster"], d["provider"], d["controlPlane"], d["endOfStandardSupport"],
                          d["endOfExtendedSupport"]] for d in map(newest_dict, r.newest)])
    else:
        lines.append("None.")
    lines += ["", "## Clusters", ""]
    rows = []
    for c in r.clusters:
        d = cluster_dict(c)
        s, pools, nw = d["support"], d["nodePools"], d["nextWindow"]
        rows.append([d["id"], d["provider"], d["location"], d["controlPlane"],
                     f"{pools['oldest'] or '–'} … {pools['newest'] or '–'}" if pools["count"] else "",
                     d["policy"], d["target"], d["status"], d["upgradeState"]["state"], _days(s["daysToEndOfStandardSupport"]),
                     _days(s["daysToEndOfExtendedSupport"]), nw["start"] if nw else None, d["wave"],
                     d["forecastCompletion"]])
    lines += _table(["cluster", "provider", "location", "control plane", "node pools (oldest … newest)", "policy",
                     "target", "status", "upgrade state", "days to end of standard support", "days to end of extended support",
                     "next window", "wave", "forecast completion"], rows)
    return "\n".join(lines) + "\n"

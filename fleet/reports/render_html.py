"""The report as one self-contained HTML file: summary tiles, a version chart per provider (inline SVG), the
forecast timeline by wave (inline SVG), the risk list and a sortable, filterable cluster table.

No network: styles, script and charts are inline; the table's rows travel as one JSON block (columns + rows)
which the script renders a page at a time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from html import escape

from fleet.clock import iso
from fleet.reports.compliance import STATUSES, UPGRADE_STATES, ComplianceReport, VersionCount
from fleet.reports.html_assets import CSS, JS
from fleet.reports.render_json import newest_dict, risk_dict
from fleet.reports.render_table import risk_heading

STATUS_COLORS = {
    "compliant": "#2e7d32", "behind-patch": "#c9a100", "behind-minor": "#ef6c00", "skew-violation": "#c62828",
    "end-of-standard-support": "#d84315", "end-of-extended-support": "#7f0000", "unmanaged": "#757575",
}
UPGRADE_COLORS = {
    "failed": "#b71c1c", "upgrading": "#1565c0", "blocked": "#6a1b9a", "waiting-approval": "#b45f06",
    "waiting-gate": "#8d6e00", "waiting-window": "#546e7a", "pending": "#0277bd", "none": "#9e9e9e",
}
SUPPORT_COLORS = {"standard": "#43a047", "extended": "#fb8c00", "past-standard": "#f4511e",
                  "unsupported": "#c62828", "unknown": "#9e9e9e"}
SUPPORT_LABELS = {"standard": "standard support", "extended": "extended support only",
                  "past-standard": "past standard support (extended unknown)", "unsupported": "out of support",
                  "unknown": "unknown"}
COLUMNS = ("id", "provider", "location", "controlPlane", "oldest", "newest", "policy", "target", "status",
           "daysStd", "daysExt", "nextWindow", "wave", "completion", "atRisk", "labels", "reasons", "upgrade",
           "upgradeReason")
TABLE_HEAD = (("cluster", "id"), ("provider", "provider"), ("location", "location"),
              ("control plane", "controlPlane"), ("node pools", "oldest"), ("policy", "policy"),
              ("target", "target"), ("status", "status"), ("upgrade state", "upgrade"), ("days to EoS", "daysStd"),
              ("days to EoES", "daysExt"), ("next window", "nextWindow"), ("wave", "wave"),
              ("forecast completion", "completion"), ("reasons", None))


def _e(v: object) -> str:
    return escape("" if v is None else str(v), quote=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _day(dt: datetime | None) -> str | None:
    return None if dt is None else dt.strftime("%Y-%m-%d %H:%M")


# ---- charts --------------------------------------------------------------------------------------------

def svg_versions(provider: str, versions: list[VersionCount]) -> str:
    """A bar per control-plane minor, coloured by its support state."""
    w, h, top, bottom, left = 320, 170, 22, 28, 8
    n = max(1, len(versions))
    peak = max((v.clusters for v in versions), default=1) or 1
    slot = (w - 2 * left) / n
    bw = max(6.0, min(46.0, slot * 0.7))
    out = [f'<svg class="versions" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
           f'aria-label="control-plane minors on {_e(provider)}" xmlns="http://www.w3.org/2000/svg">',
           f'<line x1="{left}" y1="{h - bottom}" x2="{w - left}" y2="{h - bottom}" stroke="#c3ccd6"/>']
    for i, v in enumerate(versions):
        bh = max(2.0, (h - top - bottom) * v.clusters / peak)
        x = left + slot * i + (slot - bw) / 2
        y = h - bottom - bh
        cx = x + bw / 2
        out.append(f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{bh:.1f}" rx="2" '
                   f'fill="{SUPPORT_COLORS[v.support]}"><title>{_e(provider)} {_e(v.minor)}: {v.clusters} '
                   f'cluster(s), {SUPPORT_LABELS[v.support]}</title></rect>')
        out.append(f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11" fill="#1d2330">{v.clusters}</text>')
        out.append(f'<text x="{cx:.1f}" y="{h - bottom + 15}" text-anchor="middle" font-size="11" fill="#5f6b7a">{_e(v.minor)}</text>')
    out.append("</svg>")
    return "".join(out)


def _ticks(t0: datetime, t1: datetime) -> list[tuple[datetime, str]]:
    span = t1 - t0
    out: list[tuple[datetime, str]] = []
    if span > timedelta(days=75):
        t = datetime(t0.year, t0.month, 1, tzinfo=UTC)
        step_months = 1 if span < timedelta(days=400) else 3
        while t <= t1:
            if t >= t0:
                out.append((t, t.strftime("%b %Y")))
            m = t.month - 1 + step_months
            t = datetime(t.year + m // 12, m % 12 + 1, 1, tzinfo=UTC)
    else:
        step = timedelta(days=1 if span <= timedelta(days=10) else 7)
        t = datetime(t0.year, t0.month, t0.day, tzinfo=UTC)
        while t <= t1:
            if t >= t0:
                out.append((t, t.strftime("%d %b")))
            t += step
    return out


def svg_timeline(r: ComplianceReport) -> str:
    """Forecast by wave: one bar per wave (and one per rollout stage) from its first start to its last
    completion (a wave still running at the horizon runs to the chart's edge, hatched), the policies'
    maintenance exclusions (freezes) as shaded bands, plus the report instant and the fleet's end."""
    assert r.forecast is not None
    waves = [w for w in r.forecast.waves if w[1] is not None]
    t0 = r.at
    ends = [e for _, _, e in waves if e is not None] + ([r.forecast.fleet_done] if r.forecast.fleet_done else [])
    t1 = max([t0 + timedelta(days=1), *ends])
    t1 = t1 + (t1 - t0) * 0.04
    w, label_w, row_h, top = 960, 150, 26, 34
    h = top + row_h * max(1, len(waves)) + 34
    span = (t1 - t0).total_seconds()

    def x(t: datetime) -> float:
        return label_w + (w - label_w - 16) * min(1.0, max(0.0, (t - t0).total_seconds() / span))

    out = [f'<svg class="timeline-chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
           f'aria-label="forecast by wave" xmlns="http://www.w3.org/2000/svg">'
           '<defs><pattern id="open" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
           '<rect width="3" height="6" fill="#1f5fbf" opacity="0.5"/></pattern></defs>']
    for f in r.freezes:                     # maintenance exclusions: nothing (or no minor) starts inside
        if f.end <= t0 or f.start >= t1:
            continue
        fx0, fx1 = x(max(f.start, t0)), x(min(f.end, t1))
        out.append(f'<rect class="freeze" x="{fx0:.1f}" y="{top - 6}" width="{max(fx1 - fx0, 2):.1f}" '
                   f'height="{h - 30 - top + 6}" fill="#c62828" opacity="0.12"><title>{_e(f.policy)}: {_e(f.name)} '
                   f'({_e(f.scope)}) {_day(f.start)} → {_day(f.end)} UTC</title></rect>'
                   f'<text x="{fx0 + 3:.1f}" y="{h - 32}" font-size="10" fill="#c62828">{_e(f.name)}</text>')
    for t, label in _ticks(t0, t1):
        out.append(f'<line x1="{x(t):.1f}" y1="{top - 6}" x2="{x(t):.1f}" y2="{h - 30}" stroke="#e6ebf1"/>'
                   f'<text x="{x(t):.1f}" y="{h - 14}" text-anchor="middle" font-size="11" fill="#5f6b7a">{_e(label)}</text>')
    for i, (name, s, e) in enumerate(waves):
        assert s is not None
        y = top + row_h * i
        x0 = x(s)
        x1 = max(x(e) if e is not None else float(w - 16), x0 + 3)
        fill = "#1f5fbf" if e is not None else "url(#open)"
        until = f"{_day(e)} UTC" if e is not None else "not finished within the horizon"
        out.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="12" fill="#1d2330">{_e(name)}</text>')
        out.append(f'<rect class="wave" x="{x0:.1f}" y="{y + 4}" width="{x1 - x0:.1f}" height="{row_h - 8}" rx="3" '
                   f'fill="{fill}" opacity="0.9"><title>{_e(name)}: {_day(s)} UTC → {until}</title></rect>')
        if e is not None:
            out.append(f'<text x="{x1 + 4:.1f}" y="{y + 16}" font-size="11" fill="#5f6b7a">{e:%d %b}</text>')
    out.append(f'<line x1="{x(t0):.1f}" y1="{top - 12}" x2="{x(t0):.1f}" y2="{h - 30}" stroke="#14213d" stroke-width="1.5"/>'
               f'<text x="{x(t0) + 4:.1f}" y="{top - 16}" font-size="11" fill="#14213d">report {t0:%Y-%m-%d}</text>')
    done = r.forecast.fleet_done
    if done is not None:
        out.append(f'<line x1="{x(done):.1f}" y1="{top - 12}" x2="{x(done):.1f}" y2="{h - 30}" stroke="#2e7d32" '
                   f'stroke-width="2" stroke-dasharray="5 3"/><text x="{x(done) - 4:.1f}" y="{top - 16}" '
                   f'text-anchor="end" font-size="11" fill="#2e7d32">fleet done {done:%Y-%m-%d}</text>')
    out.append("</svg>")
    return "".join(out)


# ---- page ----------------------------------------------------------------------------------------------

DICT_COLUMNS = ("provider", "location", "controlPlane", "oldest", "newest", "policy", "target", "status",
                "nextWindow", "wave", "labels", "reasons", "upgrade", "upgradeReason")


def _encode(rows: list[list[object]]) -> tuple[list[list[object]], dict[str, list[object]]]:
    """Dictionary-encode the columns whose values repeat (cells become indexes into a per-column list)."""
    dicts: dict[str, list[object]] = {}
    for name in DICT_COLUMNS:
        i = COLUMNS.index(name)
        index: dict[object, int] = {}
        for row in rows:
            row[i] = index.setdefault(row[i], len(index))
        dicts[name] = list(index)
    return rows, dicts


def _rows(r: ComplianceReport) -> list[list[object]]:
    rows: list[list[object]] = []
    for c in r.clusters:
        rows.append([c.id, c.provider, c.location, c.control_plane, c.pool_oldest, c.pool_newest, c.policy, c.target,
                     c.status, c.days_to_standard, c.days_to_extended, _day(c.next_window.start) if c.next_window else None,
                     c.wave, _day(c.forecast_completion), 1 if c.at_risk else 0,
                     " ".join(f"{k}={v}" for k, v in sorted(c.labels.items())), "; ".join(c.reasons),
                     c.upgrade_state, c.upgrade_reason])
    return rows


def _tiles(r: ComplianceReport) -> str:
    done = "not computed" if r.forecast is None else (_day(r.forecast.fleet_done) or "beyond horizon")
    big = [("clusters", len(r.clusters), "#14213d", 'data-all="1"'),
           (f"at risk ({r.horizon.days} d)", len(r.risks), "#b71c1c", 'data-risk="1"'),
           ("blocked", r.upgrade_counts.get("blocked", 0), UPGRADE_COLORS["blocked"], 'data-upgrade="blocked"'),
           ("on newest, support ends", len(r.newest), "#ef6c00", 'data-newest="1"'),
           ("unknown support", r.lifecycle_unknown, "#9e9e9e", "")]
    out = [f'<button class="tile big" style="--c:{c}" {attr}><div class="n">{n}</div><div class="l">{_e(lbl)}</div></button>'
           for lbl, n, c, attr in big]
    out.append(f'<div class="tile big" style="--c:#2e7d32"><div class="n" style="font-size:17px">{_e(done)}</div>'
               f'<div class="l">forecast: fleet done (UTC)</div></div>')
    status = [f'<button class="tile{" zero" if not r.counts[s] else ""}" data-status="{s}" style="--c:{STATUS_COLORS[s]}">'
              f'<div class="n">{r.counts[s]}</div><div class="l">{s}</div></button>' for s in STATUSES]
    ups = [f'<button class="tile{" zero" if not r.upgrade_counts.get(s) else ""}" data-upgrade="{s}" '
           f'style="--c:{UPGRADE_COLORS[s]}"><div class="n">{r.upgrade_counts.get(s, 0)}</div><div class="l">{s}</div></button>'
           for s in UPGRADE_STATES]
    return (f'<div class="tiles">{"".join(out)}</div>'
            f'<h3 class="sub">Compliance status</h3><div class="tiles" id="status-tiles">{"".join(status)}</div>'
            f'<h3 class="sub">Upgrade state</h3><div class="tiles" id="upgrade-tiles">{"".join(ups)}</div>')


def compare_section(r: ComplianceReport, before: dict | None) -> str:
    """Before/after: a previous JSON report (``fleet report --compare FILE``) against this one — counts by
    compliance status and by upgrade state, at risk, and the clusters whose status changed."""
    if not before:
        return ""
    b_sum = before.get("summary", {})
    b_status, b_up = b_sum.get("byStatus", {}), b_sum.get("byUpgradeState", {})
    rows = [(s, b_status.get(s, 0), r.counts.get(s, 0)) for s in STATUSES]
    rows += [(s, b_up.get(s, 0), r.upgrade_counts.get(s, 0)) for s in UPGRADE_STATES]
    rows.append(("at risk", b_sum.get("atRisk", 0), len(r.risks)))

    def delta(a: int, b: int) -> str:
        return "" if a == b else f'<span class="{"up" if b > a else "down"}">{b - a:+d}</span>'
    counts = "".join(f"<tr><td>{_e(k)}</td><td class=\"num\">{a}</td><td class=\"num\">{b}</td>"
                     f"<td class=\"num\">{delta(a, b)}</td></tr>" for k, a, b in rows if a or b)
    old = {c["id"]: c for c in before.get("clusters", [])}
    changed = []
    for c in r.clusters:
        o = old.get(c.id)
        if o is None:
            changed.append((c.id, "(new)", c.status, "", c.control_plane))
        elif o.get("status") != c.status or o.get("controlPlane") != c.control_plane:
            changed.append((c.id, o.get("status", ""), c.status, o.get("controlPlane", ""), c.control_plane))
    gone = sorted(set(old) - {c.id for c in r.clusters})
    changed += [(g, old[g].get("status", ""), "(gone)", old[g].get("controlPlane", ""), "") for g in gone]
    ch = "".join(f"<tr><td>{_e(i)}</td><td>{_e(a)}</td><td>{_e(b)}</td><td>{_e(va)}</td><td>{_e(vb)}</td></tr>"
                 for i, a, b, va, vb in changed[:1000])
    return (f'<section id="compare"><h2>Compared with the report at {_e(before.get("at"))}</h2>'
            f'<div class="charts"><div class="card scroll"><table id="compare-counts"><thead><tr><th>clusters</th>'
            f'<th>before</th><th>now</th><th>change</th></tr></thead><tbody>{counts}</tbody></table></div>'
            f'<div class="card scroll"><table id="compare-changed"><thead><tr><th>cluster</th><th>status before</th>'
            f'<th>status now</th><th>control plane before</th><th>now</th></tr></thead><tbody>{ch}</tbody></table>'
            + ("" if changed else '<p class="empty">No cluster changed status or version.</p>')
            + "</div></div></section>")


def _json_block(obj: object) -> str:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render_html(r: ComplianceReport, before: dict | None = None) -> str:
    """``before``: a previous report's JSON document (render_json.report_dict) to compare with."""
    at = iso(r.at)
    providers = sorted({c.provider for c in r.clusters})
    charts = "".join(
        f'<div class="card"><h3>{_e(p)} <span style="color:#5f6b7a;font-weight:400">'
        f'({_plural(sum(v.clusters for v in vs), "cluster")})</span></h3>{svg_versions(p, vs)}</div>'
        for p, vs in r.versions.items()) or '<p class="empty">No clusters.</p>'
    legend = "".join(f'<span><i style="background:{c}"></i>{SUPPORT_LABELS[k]}</span>' for k, c in SUPPORT_COLORS.items())
    timeline = (f'<div class="timeline">{svg_timeline(r)}</div>' if r.forecast is not None and any(w[1] for w in r.forecast.waves)
                else '<p class="empty">No forecast in this report (run without --no-forecast, or nothing to upgrade).</p>')
    notes = "".join(f"<div>{_e(n)}</div>" for n in r.notes)
    rows, dicts = _encode(_rows(r))
    data = {"columns": list(COLUMNS), "dicts": dicts, "rows": rows, "risks": [risk_dict(x) for x in r.risks],
            "statusColors": STATUS_COLORS, "upgradeColors": UPGRADE_COLORS, "forecast": r.forecast_computed}
    head = "".join(f'<th data-col="{c}">{_e(lbl)}</th>' if c else f"<th>{_e(lbl)}</th>" for lbl, c in TABLE_HEAD)
    st_opts = "".join(f'<option value="{s}">{s} ({r.counts[s]})</option>' for s in STATUSES)
    up_opts = "".join(f'<option value="{s}">{s} ({r.upgrade_counts.get(s, 0)})</option>' for s in UPGRADE_STATES)
    pr_opts = "".join(f'<option value="{_e(p)}">{_e(p)}</option>' for p in providers)
    fc_head = "<th>forecast completion</th><th>days late</th>" if r.forecast_computed else ""
    risk_section = (
        '<div class="scroll"><table id="risks"><thead><tr><th>cluster</th><th>provider</th><th>control plane</th>'
        '<th>status</th><th>upgrade state</th><th>reason</th><th>end of standard support</th>'
        f'<th>end of extended support</th>{fc_head}</tr></thead><tbody></tbody></table></div>'
        '<button class="more" id="risk-more" hidden>show more</button>'
        if r.risks else '<p class="empty">No cluster is at risk within the horizon.</p>')
    newest_rows = "".join(
        f'<tr><td>{_e(d["cluster"])}</td><td>{_e(d["provider"])}</td><td>{_e(d["controlPlane"])}</td>'
        f'<td>{_e(d["endOfStandardSupport"])}</td><td>{_e(d["endOfExtendedSupport"] or "unknown")}</td></tr>'
        for d in map(newest_dict, r.newest[:500]))
    newest_section = (
        '<div class="scroll"><table id="newest"><thead><tr><th>cluster</th><th>provider</th><th>control plane</th>'
        f'<th>support ends on</th><th>extended support ends on</th></tr></thead><tbody>{newest_rows}</tbody></table></div>'
        + (f'<p class="empty">… and {len(r.newest) - 500} more (see the JSON report)</p>' if len(r.newest) > 500 else "")
        if r.newest else '<p class="empty">No cluster on the newest offered version loses support within the horizon.</p>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Fleet compliance report {_e(at)}</title><link rel="icon" href="data:,">
<style>{CSS}</style></head>
<body data-ready="0">
<header><h1>Fleet compliance report</h1>
<div class="meta">at <b>{_e(at)}</b> · lifecycle data as of <b id="as-of">{r.lifecycle_as_of.isoformat()}</b>
({_e(r.lifecycle_source)}) · risk horizon {r.horizon.days} days</div></header>
<main>
{f'<div class="notes">{notes}</div>' if notes else ''}
<section id="summary"><h2>Summary</h2>{_tiles(r)}</section>
{compare_section(r, before)}
<section id="versions"><h2>Control-plane versions by provider</h2><div class="charts">{charts}</div>
<div class="legend">{legend}</div></section>
<section id="forecast"><h2>Forecast by wave</h2>{timeline}</section>
<section id="risk"><h2>{_e(risk_heading(r))} ({len(r.risks)})</h2>{risk_section}</section>
<section id="on-newest"><h2>On the newest offered version: support ends within {r.horizon.days} days ({len(r.newest)})</h2>
<p class="hint">Nothing newer is offered to these clusters yet: no upgrade can fix them today.</p>{newest_section}</section>
<section id="clusters-section"><h2>Clusters</h2>
<div class="controls"><input type="search" id="q" placeholder="filter: name, version, label, policy…" aria-label="filter">
<select id="f-status" aria-label="status"><option value="">all statuses</option>{st_opts}</select>
<select id="f-upgrade" aria-label="upgrade state"><option value="">all upgrade states</option>{up_opts}</select>
<select id="f-provider" aria-label="provider"><option value="">all providers</option>{pr_opts}</select>
<label><input type="checkbox" id="f-risk"> at risk only</label><span class="count" id="count"></span></div>
<div class="scroll"><table id="clusters"><thead><tr>{head}</tr></thead><tbody></tbody></table></div>
<button class="more" id="more" hidden>show more</button></section>
</main>
<footer>fleet compliance report · times in UTC · support dates are the first day without that support</footer>
<script id="report-data" type="application/json">{_json_block(data)}</script>
<script>{JS}</script>
</body></html>
"""

"""The live dashboard: one self-contained page served by the daemon at ``/dashboard`` (same origin as the API,
no build step). The page holds no data: its script reads the API with the user's bearer token (kept in the
tab's sessionStorage only) — who it is from ``/api/v1/whoami`` (the page shows only the buttons its roles
allow), fleet tiles from ``/api/v1/summary``, runs and their progress from ``/api/v1/rollouts``, the rollout's
stages with their progress from ``/api/v1/stages?members=false``, one page of clusters at a time from
``/api/v1/clusters`` (filtered and paged server-side, so 10,000 clusters cost one page), the event stream from ``/api/v1/events?after=`` — and its buttons call the
write endpoints (pause/resume, approve a waiting wave, retry a run's failed clusters, override a gate); the API
still decides what the token's role allows and the page shows its answer (403 included).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>fleet dashboard</title><link rel="icon" href="data:,">
<style>
:root{--fg:#1d2330;--muted:#5f6b7a;--line:#dde3ea;--bg:#f6f8fa;--card:#fff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#14213d;color:#fff;padding:12px 24px;display:flex;gap:16px;align-items:center;flex-wrap:wrap}
header h1{margin:0;font-size:19px;font-weight:600}header .sp{flex:1}
header input{padding:5px 8px;border-radius:5px;border:0;min-width:220px}
main{padding:16px 24px 32px;max-width:1600px;margin:0 auto}
section{margin:0 0 20px}h2{font-size:15px;margin:0 0 8px;font-weight:600}h3{font-size:12px;color:var(--muted);margin:10px 0 6px;font-weight:600}
.tiles{display:flex;flex-wrap:wrap;gap:8px}
.tile{background:var(--card);border:1px solid var(--line);border-top:4px solid var(--c,#888);border-radius:8px;padding:8px 10px;min-width:104px;cursor:pointer;text-align:left;font:inherit;color:inherit}
.tile .n{font-size:21px;font-weight:650}.tile .l{font-size:12px;color:var(--muted)}.tile.on{outline:2px solid #1f5fbf}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
td.why{max-width:340px;overflow:hidden;text-overflow:ellipsis;color:var(--muted)}
th{background:#eef2f7;font-weight:600}
.bar{display:inline-block;width:140px;height:10px;background:#e6ebf1;border-radius:5px;vertical-align:middle;overflow:hidden}
.bar i{display:block;height:100%;background:#2e7d32}
.st{display:inline-block;padding:1px 7px;border-radius:10px;color:#fff;font-size:12px;background:var(--c,#888)}
button.act{font:inherit;font-size:12px;padding:2px 8px;border:1px solid var(--line);border-radius:5px;background:#fff;cursor:pointer}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px}
#msg{min-height:20px;color:#b71c1c;font-size:13px}.pager{display:flex;gap:8px;align-items:center;margin-top:8px;color:var(--muted)}
.ev{font-size:12px;border-bottom:1px solid var(--line);padding:3px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.ev b{font-weight:600}#who{font-size:13px;opacity:.85}
.ovf{display:flex;gap:6px;flex-wrap:wrap}.ovf input{padding:4px 6px;border:1px solid var(--line);border-radius:5px;font:inherit;font-size:13px}
</style></head>
<body data-ready="0">
<header><h1>fleet</h1><span id="paused"></span><span class="sp"></span><span id="who"></span>
<button class="act" id="pause" data-needs="operator" hidden>pause</button><button class="act" id="resume" data-needs="operator" hidden>resume</button>
<input type="password" id="token" placeholder="API token (kept in this tab only)" aria-label="API token"></header>
<main><div id="msg" role="status"></div>
<section><h2>Fleet</h2><h3>Compliance status</h3><div class="tiles" id="compliance"></div>
<h3>Upgrade state: what each cluster waits for</h3><div class="tiles" id="upgrade"></div></section>
<div class="grid"><div>
<section><h2>Runs</h2><div class="card"><table id="runs"><thead><tr><th>run</th><th>policy</th><th>status</th>
<th>progress</th><th>failures</th><th>actions</th></tr></thead><tbody></tbody></table></div></section>
<section id="stages" hidden><h2>Rollout stages <span id="ro-name" style="color:var(--muted);font-weight:400"></span></h2>
<div class="card"><table id="stage-table"><thead></thead><tbody></tbody></table></div></section>
<section><h2>Clusters <span id="filter" style="color:var(--muted);font-weight:400"></span></h2><div class="card">
<table id="clusters"><thead><tr><th>cluster</th><th>provider</th><th>control plane</th><th>target</th><th>compliance</th>
<th>upgrade state</th><th>waits for / why</th><th>actions</th></tr></thead><tbody></tbody></table>
<div class="pager"><button class="act" id="prev">previous</button><button class="act" id="next">next</button><span id="page"></span></div></div></section>
<section id="override" data-needs="approver" hidden><h2>Override a gate</h2><div class="card ovf">
<input id="ov-cluster" placeholder="cluster id" aria-label="cluster"><input id="ov-gate" placeholder="gate name" aria-label="gate">
<input id="ov-until" placeholder="until: 4h or 2026-12-31T00:00:00Z" aria-label="until"><input id="ov-reason" placeholder="reason (audit log)" aria-label="reason">
<button class="act" id="ov-submit">override</button></div></section>
</div><section><h2>Events</h2><div class="card" id="events"></div></section></div>
</main>
<script>
(function(){
"use strict";
var PAGE = 50, state = {offset: 0, compliance: "", upgrade: "", lastEvent: 0, events: [], roles: []};
var COLORS = {"compliant":"#2e7d32","behind-patch":"#c9a100","behind-minor":"#ef6c00","skew-violation":"#c62828",
  "end-of-standard-support":"#d84315","end-of-extended-support":"#7f0000","unmanaged":"#757575","failed":"#b71c1c",
  "upgrading":"#1565c0","blocked":"#6a1b9a","waiting-approval":"#b45f06","waiting-gate":"#8d6e00",
  "waiting-window":"#546e7a","pending":"#0277bd","none":"#9e9e9e","running":"#1565c0","halted":"#b71c1c","done":"#2e7d32"};
var tok = document.getElementById("token"), msg = document.getElementById("msg");
tok.value = sessionStorage.getItem("fleet-token") || "";
tok.addEventListener("change", function(){ sessionStorage.setItem("fleet-token", tok.value.trim()); refresh(); });
function el(tag, attrs, text){ var e = document.createElement(tag);
  for(var k in attrs || {}) e.setAttribute(k, attrs[k]); if(text !== undefined && text !== null) e.textContent = String(text); return e; }
function badge(s){ return el("span", {"class": "st", style: "--c:" + (COLORS[s] || "#888")}, s); }
function can(role){ return state.roles.indexOf(role) >= 0; }
function api(method, path, body){
  var h = {}, init = {method: method, headers: h}; if(tok.value.trim()) h.Authorization = "Bearer " + tok.value.trim();
  if(body !== undefined){ h["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
  return fetch(path, init).then(function(r){
    return r.json().catch(function(){ return {}; }).then(function(body){
      if(!r.ok){ throw new Error(r.status + ": " + (body.detail || r.statusText)); } return body; }); });
}
function act(method, path, what, body){
  api(method, path, body).then(function(){ msg.style.color = "#2e7d32"; msg.textContent = what; refresh(); })
    .catch(function(e){ msg.style.color = "#b71c1c"; msg.textContent = what + " refused: " + e.message; });
}
function tiles(id, counts, key){
  var box = document.getElementById(id); box.textContent = "";
  Object.keys(counts).forEach(function(s){
    var b = el("button", {"class": "tile" + (state[key] === s ? " on" : ""), style: "--c:" + (COLORS[s] || "#888"), "data-state": s});
    b.appendChild(el("div", {"class": "n"}, counts[s])); b.appendChild(el("div", {"class": "l"}, s));
    b.addEventListener("click", function(){ state[key] = state[key] === s ? "" : s; state.offset = 0; refresh(); });
    box.appendChild(b);
  });
}
function loadWho(){
  return api("GET", "/api/v1/whoami").then(function(d){ state.who = d.principal; state.roles = d.roles || []; })
    .catch(function(){ state.who = null; state.roles = []; })
    .then(function(){
      var top = state.roles.length ? state.roles[state.roles.length - 1] : "";
      document.getElementById("who").textContent = state.who ? state.who + " (" + top + ")" : (top ? "no token: " + top : "no token");
      document.querySelectorAll("[data-needs]").forEach(function(b){ b.hidden = !can(b.getAttribute("data-needs")); });
    });
}
function loadSummary(){
  return api("GET", "/api/v1/summary").then(function(d){
    tiles("compliance", d.byCompliance, "compliance"); tiles("upgrade", d.byUpgradeState, "upgrade");
    document.getElementById("paused").textContent = d.paused ? "PAUSED: no new steps start" : "";
  });
}
function loadRuns(){
  return api("GET", "/api/v1/rollouts?members=false").then(function(d){
    var tb = document.querySelector("#runs tbody"); tb.textContent = "";
    d.rollouts.slice().reverse().slice(0, 20).forEach(function(r){
      var total = 0, done = 0; Object.keys(r.clusters).forEach(function(k){ total += r.clusters[k]; if(k === "done") done += r.clusters[k]; });
      var tr = el("tr"); tr.appendChild(el("td", null, r.id)); tr.appendChild(el("td", null, r.policy));
      var st = el("td"); st.appendChild(badge(r.status)); tr.appendChild(st);
      var pg = el("td"), bar = el("span", {"class": "bar", title: done + " of " + total + " done"}), fill = el("i");
      fill.style.width = (total ? Math.round(100 * done / total) : 0) + "%"; bar.appendChild(fill); pg.appendChild(bar);
      pg.appendChild(document.createTextNode(" " + done + "/" + total)); tr.appendChild(pg);
      tr.appendChild(el("td", null, r.failures));
      var acts = el("td");
      (can("approver") ? r.awaitingApproval || [] : []).forEach(function(w){
        var b = el("button", {"class": "act", "data-approve": r.id + "/" + w}, "approve " + w);
        b.addEventListener("click", function(){ act("POST", "/api/v1/rollouts/" + encodeURIComponent(r.id) + "/approve/" + encodeURIComponent(w), "approved wave " + w + " of " + r.id); });
        acts.appendChild(b);
      });
      if(r.clusters.failed && can("operator")){
        var rb = el("button", {"class": "act", "data-retry": r.id}, "retry failed");
        rb.addEventListener("click", function(){ act("POST", "/api/v1/rollouts/" + encodeURIComponent(r.id) + "/retry", "re-queued the failed clusters of " + r.id); });
        acts.appendChild(rb);
      }
      tr.appendChild(acts); tb.appendChild(tr);
    });
  });
}
function loadStages(){
  return api("GET", "/api/v1/stages?members=false").then(function(d){
    var ro = d.rollout, sec = document.getElementById("stages"); sec.hidden = !ro; if(!ro) return;
    document.getElementById("ro-name").textContent = ro.name;
    var versions = Object.keys(ro.versions), head = el("tr");
    ["stage", "clusters", "progress", "upgrade states"].forEach(function(h){ head.appendChild(el("th", null, h)); });
    versions.forEach(function(v){ head.appendChild(el("th", null, v)); });
    var th = document.querySelector("#stage-table thead"), tb = document.querySelector("#stage-table tbody");
    th.textContent = ""; th.appendChild(head); tb.textContent = "";
    ro.stages.forEach(function(st){
      var tr = el("tr", {"data-stage": st.name}); tr.appendChild(el("td", null, st.name)); tr.appendChild(el("td", null, st.clusters));
      var pg = el("td", {"class": "progress"}), bar = el("span", {"class": "bar", title: st.upToDate + " of " + st.clusters + " up to date"}), fill = el("i");
      fill.style.width = (st.clusters ? Math.round(100 * st.upToDate / st.clusters) : 0) + "%"; bar.appendChild(fill); pg.appendChild(bar);
      pg.appendChild(document.createTextNode(" " + st.upToDate + "/" + st.clusters + " up to date")); tr.appendChild(pg);
      var us = el("td", {"class": "states"});
      Object.keys(st.byUpgradeState).forEach(function(k){ us.appendChild(badge(k)); us.appendChild(document.createTextNode(" " + st.byUpgradeState[k] + " ")); });
      tr.appendChild(us);
      versions.forEach(function(v){ var why = ro.versions[v][st.name] || ""; tr.appendChild(el("td", {"class": "why", title: why}, why)); });
      tb.appendChild(tr);
    });
  });
}
function loadClusters(){
  var q = "?limit=" + PAGE + "&offset=" + state.offset + (state.compliance ? "&compliance=" + state.compliance : "")
        + (state.upgrade ? "&upgradeState=" + state.upgrade : "");
  return api("GET", "/api/v1/clusters" + q).then(function(d){
    var tb = document.querySelector("#clusters tbody"); tb.textContent = "";
    d.clusters.forEach(function(c){
      var tr = el("tr"), comp = c.compliance || {}, up = c.upgradeState || {};
      tr.appendChild(el("td", null, c.id)); tr.appendChild(el("td", null, c.provider));
      tr.appendChild(el("td", null, c.current.controlPlane)); tr.appendChild(el("td", null, c.target || "\u2013"));
      var a = el("td"); if(comp.status) a.appendChild(badge(comp.status)); tr.appendChild(a);
      var b = el("td"); if(up.state) b.appendChild(badge(up.state)); tr.appendChild(b);
      tr.appendChild(el("td", {"class": "why", title: up.reason || ""}, up.reason || ""));
      var ac = el("td");
      if(can("approver")){
        var ob = el("button", {"class": "act", "data-override": c.id, title: "let one gate pass for this cluster until a time"}, "override gate");
        ob.addEventListener("click", function(){ document.getElementById("ov-cluster").value = c.id; document.getElementById("ov-gate").focus(); });
        ac.appendChild(ob);
      }
      tr.appendChild(ac); tb.appendChild(tr);
    });
    document.getElementById("page").textContent = d.total ? (state.offset + 1) + "\u2013" + (state.offset + d.clusters.length) + " of " + d.total : "no cluster";
    document.getElementById("filter").textContent = [state.compliance, state.upgrade].filter(Boolean).join(", ");
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = state.offset + PAGE >= d.total;
  });
}
function loadEvents(){
  return api("GET", "/api/v1/events?after=" + state.lastEvent + "&limit=200").then(function(d){
    d.events.forEach(function(e){ state.lastEvent = Math.max(state.lastEvent, e.id); state.events.unshift(e); });
    state.events = state.events.slice(0, 100);
    var box = document.getElementById("events"); box.textContent = "";
    state.events.forEach(function(e){
      var row = el("div", {"class": "ev", title: e.message || ""}); row.appendChild(el("span", null, e.at + " "));
      row.appendChild(el("b", null, e.kind)); row.appendChild(document.createTextNode(" " + (e.cluster_id || e.run_id || "") + " " + (e.message || "") + (e.actor ? " \u2014 by " + e.actor : "")));
      box.appendChild(row);
    });
  });
}
function refresh(){
  return loadWho().then(function(){ return Promise.all([loadSummary(), loadRuns(), loadStages(), loadClusters(), loadEvents()]); })
    .then(function(){ if(msg.style.color !== "rgb(46, 125, 50)") msg.textContent = ""; document.body.setAttribute("data-ready", "1"); })
    .catch(function(e){ msg.style.color = "#b71c1c"; msg.textContent = (String(e.message).indexOf("401") === 0 ? "enter an API token: " : "") + e.message; document.body.setAttribute("data-ready", "1"); });
}
document.getElementById("prev").addEventListener("click", function(){ state.offset = Math.max(0, state.offset - PAGE); loadClusters(); });
document.getElementById("next").addEventListener("click", function(){ state.offset += PAGE; loadClusters(); });
document.getElementById("pause").addEventListener("click", function(){ act("POST", "/api/v1/pause", "paused"); });
document.getElementById("ov-submit").addEventListener("click", function(){
  var v = function(id){ return document.getElementById(id).value.trim(); }, c = v("ov-cluster"), g = v("ov-gate");
  act("POST", "/api/v1/overrides", "gate " + g + " overridden for " + c, {cluster: c, gate: g, until: v("ov-until"), reason: v("ov-reason")});
});
document.getElementById("resume").addEventListener("click", function(){ act("POST", "/api/v1/resume", "resumed"); });
refresh(); setInterval(refresh, 5000);
})();
</script></body></html>
"""


def stage_progress(plan: Any, upgrade_states: dict[str, str]) -> dict[str, Any]:
    """The plan's fleet rollout with each stage's cluster ids replaced by counts: ``clusters``, ``upToDate``
    (the planner has nothing left to do) and ``byUpgradeState`` (non-zero states only) - what the dashboard
    draws, a few hundred bytes however many clusters a stage holds."""
    ro = plan.rollout
    status = {c.id: c.status for c in plan.clusters}
    stages = []
    for st in ro["stages"]:
        by: dict[str, int] = {}
        for cid in st["clusters"]:
            u = upgrade_states.get(cid, "none")
            by[u] = by.get(u, 0) + 1
        stages.append({"name": st["name"], "clusters": len(st["clusters"]),
                       "upToDate": sum(1 for cid in st["clusters"] if status.get(cid) == "up-to-date"),
                       "byUpgradeState": by})
    return {"name": ro["name"], "stages": stages, "versions": ro["versions"]}


def add_dashboard_routes(app: FastAPI, daemon: Any, can_read: Any, auth: Any = None) -> None:
    """``/dashboard`` (the page: open, it carries no data), ``/api/v1/summary`` (a read: tiles' counts) and
    ``/api/v1/whoami`` (the caller's principal and roles: which buttons the page shows)."""
    from fastapi import Depends, HTTPException

    from fleet.daemon.auth import ROLES, AuthError

    @app.get("/api/v1/whoami")
    def whoami(request: Request) -> dict[str, Any]:
        """The caller's principal (``token:alice``; null without a token) and every role it holds (each role
        includes the ones before it: viewer, operator, approver, admin). A bad token: 401; no token while
        reads need one: 401."""
        h = request.headers.get("authorization", "")
        token = h[7:].strip() if h[:7].lower() == "bearer " else None
        if token is None and (auth is None or not auth.reads_need_auth):
            return {"principal": None, "roles": ["viewer"]}
        try:
            principal = auth.authenticate(token) if auth is not None else None
        except AuthError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        if principal is None:
            raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        return {"principal": principal.actor, "roles": [r for r in ROLES if principal.can(r)]}

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(PAGE, headers={"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                           "script-src 'unsafe-inline'; img-src data:; connect-src 'self'",
                                           "X-Frame-Options": "DENY", "Cache-Control": "no-store"})

    @app.get("/api/v1/summary", dependencies=[Depends(can_read)])
    def summary() -> dict[str, Any]:
        """Counts for the dashboard's tiles: clusters by compliance status and by upgrade state, at risk, paused."""
        return {**daemon.compliance_summary(), "paused": daemon.paused()}

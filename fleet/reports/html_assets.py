"""The inline stylesheet and script of the HTML report (no network: everything ships inside the file).

The script reads the cluster rows from the ``report-data`` JSON block and renders the risk list and the
cluster table: sorting (click a header; again to reverse), filtering (text, status, provider, at-risk) and
paging (the first PAGE rows of the result, then "show more"), so 10,000 clusters stay quick to browse.
"""

CSS = """
:root{--fg:#1d2330;--muted:#5f6b7a;--line:#dde3ea;--bg:#f6f8fa;--card:#fff;--accent:#1f5fbf}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{background:#14213d;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px;font-weight:600}
header .meta{color:#c9d3e3;font-size:13px}
header .meta b{color:#fff}
main{padding:18px 28px 40px;max-width:1800px;margin:0 auto}
section{margin:0 0 26px}
h2{font-size:16px;margin:0 0 10px;font-weight:600}
.notes{background:#fff8e1;border:1px solid #f3d27a;border-radius:6px;padding:8px 12px;margin:0 0 18px;font-size:13px}
.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;
 border-top:4px solid var(--c,#888);cursor:pointer;text-align:left;font:inherit;color:inherit;min-width:112px}
.tile:hover{box-shadow:0 1px 6px rgba(0,0,0,.12)}
.tile .n{font-size:24px;font-weight:650;line-height:1.1}
.tile .l{font-size:12px;color:var(--muted)}
.tile.big{min-width:170px}
.tile.zero{opacity:.55}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card h3{margin:0 0 4px;font-size:14px}
.card svg{display:block;width:100%;height:auto}
.legend{display:flex;gap:14px;flex-wrap:wrap;font-size:12px;color:var(--muted);margin:6px 0 0}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
.timeline{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px;overflow-x:auto}
.timeline svg{display:block;width:100%;min-width:640px;height:auto}
.controls{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:0 0 10px}
.controls input[type=search]{padding:6px 10px;border:1px solid var(--line);border-radius:6px;min-width:260px;font:inherit}
.controls select{padding:5px 8px;border:1px solid var(--line);border-radius:6px;font:inherit;background:#fff}
.controls .count{color:var(--muted);font-size:13px}
table{border-collapse:collapse;width:100%;background:var(--card);border:1px solid var(--line);font-size:13px}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top;white-space:nowrap}
td.wrap{max-width:420px;overflow:hidden;text-overflow:ellipsis;color:var(--muted);font-size:12px}
h3.sub{font-size:13px;font-weight:600;color:var(--muted);margin:14px 0 6px}
.hint{color:var(--muted);font-size:12px;margin:-4px 0 8px}
span.up{color:#b71c1c;font-weight:600}span.down{color:#2e7d32;font-weight:600}
.card,.timeline,section .scroll{min-width:0}
.scroll{overflow-x:auto;max-width:100%}
td.pools{max-width:230px;overflow:hidden;text-overflow:ellipsis}
th{background:#eef2f7;position:sticky;top:0;font-weight:600;user-select:none}
#clusters th{cursor:pointer}
#clusters th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
#clusters th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.bad{color:#b71c1c;font-weight:600}
td.warn{color:#b45f06}
.st{display:inline-block;padding:1px 7px;border-radius:10px;color:#fff;font-size:12px;background:var(--c,#888)}
.risk{color:#b71c1c;font-weight:700}
button.more{margin:10px 0;padding:6px 14px;border:1px solid var(--line);border-radius:6px;background:#fff;cursor:pointer;font:inherit}
.empty{color:var(--muted);font-style:italic}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px;text-align:center}
"""

JS = r"""
(function(){
"use strict";
var PAGE = 500;
var data = JSON.parse(document.getElementById("report-data").textContent);
var cols = data.columns, rows = data.rows, colors = data.statusColors, ucolors = data.upgradeColors;
var C = {}; cols.forEach(function(c, i){ C[c] = i; });
Object.keys(data.dicts).forEach(function(name){   // undo the dictionary encoding of repeated values
  var i = C[name], values = data.dicts[name];
  for(var j = 0; j < rows.length; j++) rows[j][i] = values[rows[j][i]];
});
function verKey(v){
  if(v === null || v === undefined || v === "") return null;
  var m = /^\s*v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(v);
  return m ? (+m[1]) * 1e8 + (+m[2]) * 1e4 + (m[3] ? +m[3] : 0) : null;
}
var VERSION_COLS = {controlPlane:1, oldest:1, newest:1, target:1};
var hay = rows.map(function(r){
  return [r[C.id], r[C.provider], r[C.location], r[C.controlPlane], r[C.oldest], r[C.newest], r[C.policy],
          r[C.target], r[C.status], r[C.upgrade], r[C.wave], r[C.labels]].join(" ").toLowerCase();
});
var keys = {};
function sortKey(col){
  if(!keys[col]){
    var i = C[col];
    keys[col] = rows.map(function(r){ return VERSION_COLS[col] ? verKey(r[i]) : r[i]; });
  }
  return keys[col];
}
function cmp(a, b){
  if(a === b) return 0;
  if(a === null || a === undefined || a === "") return 1;
  if(b === null || b === undefined || b === "") return -1;
  return a < b ? -1 : 1;
}
function el(tag, attrs, text){
  var e = document.createElement(tag);
  if(attrs) for(var k in attrs){ if(attrs.hasOwnProperty(k)) e.setAttribute(k, attrs[k]); }
  if(text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
function statusCell(s, palette, title){
  var td = el("td", title ? {title: title} : null),
      span = el("span", {"class": "st", style: "--c:" + ((palette || colors)[s] || "#888")}, s);
  td.appendChild(span); return td;
}
function daysCell(v){
  var td = el("td", {"class": "num" + (v === null ? "" : v <= 0 ? " bad" : v <= 90 ? " warn" : "")},
              v === null ? "unknown" : v);
  return td;
}
var state = {sort: null, dir: 1, shown: PAGE, order: null};
var q = document.getElementById("q"), fs = document.getElementById("f-status"),
    fp = document.getElementById("f-provider"), fr = document.getElementById("f-risk"),
    fu = document.getElementById("f-upgrade");
var tbody = document.querySelector("#clusters tbody"), count = document.getElementById("count"),
    more = document.getElementById("more");
function compute(){
  var text = q.value.trim().toLowerCase(), st = fs.value, pr = fp.value, risk = fr.checked, up = fu.value;
  var idx = [];
  for(var i = 0; i < rows.length; i++){
    var r = rows[i];
    if(st && r[C.status] !== st) continue;
    if(pr && r[C.provider] !== pr) continue;
    if(up && r[C.upgrade] !== up) continue;
    if(risk && !r[C.atRisk]) continue;
    if(text && hay[i].indexOf(text) < 0) continue;
    idx.push(i);
  }
  if(state.sort){
    var k = sortKey(state.sort), d = state.dir;
    idx.sort(function(a, b){ var c = cmp(k[a], k[b]); if(c === 0) return a - b; return (k[a] === null || k[a] === "" || k[b] === null || k[b] === "") ? c : c * d; });
  }
  state.order = idx;
}
function render(){
  var idx = state.order, n = Math.min(idx.length, state.shown), frag = document.createDocumentFragment();
  for(var j = 0; j < n; j++){
    var r = rows[idx[j]], tr = el("tr");
    tr.appendChild(el("td", null, r[C.id]));
    tr.appendChild(el("td", null, r[C.provider]));
    tr.appendChild(el("td", null, r[C.location]));
    tr.appendChild(el("td", null, r[C.controlPlane]));
    tr.appendChild(el("td", {"class": "pools"}, r[C.oldest] === r[C.newest] ? (r[C.oldest] || "") : r[C.oldest] + " \u2026 " + r[C.newest]));
    tr.appendChild(el("td", null, r[C.policy] || "\u2013"));
    tr.appendChild(el("td", null, r[C.target] || "\u2013"));
    tr.appendChild(statusCell(r[C.status]));
    tr.appendChild(statusCell(r[C.upgrade], ucolors, r[C.upgradeReason]));
    tr.appendChild(daysCell(r[C.daysStd]));
    tr.appendChild(daysCell(r[C.daysExt]));
    tr.appendChild(el("td", null, r[C.nextWindow] || ""));
    tr.appendChild(el("td", null, r[C.wave] || ""));
    var fc = el("td", r[C.atRisk] ? {"class": "risk", title: "at risk"} : null, r[C.completion] || "");
    tr.appendChild(fc);
    tr.appendChild(el("td", {"class": "wrap", title: r[C.reasons]}, r[C.reasons]));
    frag.appendChild(tr);
  }
  tbody.textContent = "";
  tbody.appendChild(frag);
  count.textContent = "showing " + n + " of " + idx.length + " matching (" + rows.length + " clusters)";
  more.hidden = idx.length <= n;
}
function refresh(){ state.shown = PAGE; compute(); render(); }
[q, fs, fp, fr, fu].forEach(function(e){ e.addEventListener("input", refresh); e.addEventListener("change", refresh); });
more.addEventListener("click", function(){ state.shown += PAGE; render(); });
document.querySelectorAll("#clusters th[data-col]").forEach(function(th){
  th.addEventListener("click", function(){
    var col = th.getAttribute("data-col");
    if(state.sort === col) state.dir = -state.dir; else { state.sort = col; state.dir = 1; }
    document.querySelectorAll("#clusters th[data-col]").forEach(function(o){ o.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
    compute(); render();
  });
});
document.querySelectorAll(".tile[data-status]").forEach(function(t){
  t.addEventListener("click", function(){
    fs.value = t.getAttribute("data-status"); fu.value = ""; fr.checked = false; refresh();
    document.getElementById("clusters-section").scrollIntoView();
  });
});
document.querySelectorAll(".tile[data-upgrade]").forEach(function(t){
  t.addEventListener("click", function(){
    fu.value = t.getAttribute("data-upgrade"); fs.value = ""; fr.checked = false; refresh();
    document.getElementById("clusters-section").scrollIntoView();
  });
});
var newestTile = document.querySelector(".tile[data-newest]");
if(newestTile) newestTile.addEventListener("click", function(){ document.getElementById("on-newest").scrollIntoView(); });
var riskTile = document.querySelector(".tile[data-risk]");
if(riskTile) riskTile.addEventListener("click", function(){
  fs.value = ""; fu.value = ""; fr.checked = true; refresh(); document.getElementById("clusters-section").scrollIntoView();
});
var allTile = document.querySelector(".tile[data-all]");
if(allTile) allTile.addEventListener("click", function(){ fs.value = ""; fu.value = ""; fr.checked = false; q.value = ""; fp.value = ""; refresh(); });
// risk list
var risks = data.risks, rb = document.querySelector("#risks tbody"), rmore = document.getElementById("risk-more");
var rshown = 200;
function renderRisks(){
  var frag = document.createDocumentFragment(), n = Math.min(risks.length, rshown);
  for(var i = 0; i < n; i++){
    var x = risks[i], tr = el("tr");
    [x.cluster, x.provider, x.controlPlane].forEach(function(v){ tr.appendChild(el("td", null, v)); });
    tr.appendChild(statusCell(x.status));
    tr.appendChild(statusCell(x.upgradeState, ucolors));
    tr.appendChild(el("td", null, x.reason));
    tr.appendChild(el("td", null, x.endOfStandardSupport));
    tr.appendChild(el("td", null, x.endOfExtendedSupport || "unknown"));
    if(data.forecast){
      tr.appendChild(el("td", null, x.forecastCompletion || "\u2013"));
      tr.appendChild(el("td", {"class": "num"}, x.daysLate === null ? "" : x.daysLate));
    }
    frag.appendChild(tr);
  }
  rb.textContent = ""; rb.appendChild(frag);
  if(rmore) rmore.hidden = risks.length <= n;
}
if(rb){ renderRisks(); if(rmore) rmore.addEventListener("click", function(){ rshown += 500; renderRisks(); }); }
refresh();
document.body.setAttribute("data-ready", "1");
})();
"""

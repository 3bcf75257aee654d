// kpid report: a self-contained HTML file (kpid report / GET /report) with its data inlined
// as JSON (<script id="kpid-report" type="application/json">, shape in docs/api.md) and this
// script, uPlot and the styles inlined too, so it opens with no network. It draws the summary
// table, one chart per KPI, the alerts of the window and the span table.
import { num, fmt, fmtRate, unitOf } from "./format.js";

const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const QCOLORS = { p50: "#4f7cff", p95: "#f59e0b", p99: "#ef4444", value: "#4f7cff", min: "#94a3b8", max: "#94a3b8" };
const when = (t) => new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");

function labelText(labels) {
  return Object.keys(labels || {})
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(", ");
}

function summaryRow(k) {
  const u = unitOf(k);
  const s = k.summary || {};
  // A counter's figures are rates per second (its min, mean, percentiles over the steps).
  const v = (x) => esc(k.kind === "counter" ? fmtRate(x, u) : fmt(x, u));
  const total = k.kind === "gauge" ? "—" : esc(num(s.total));
  const rate = k.kind === "gauge" ? "—" : esc(fmtRate(s.rate, k.kind === "counter" ? u : ""));
  const lab = labelText(k.labels);
  return `<tr><td><a href="#c-${esc(k.id)}">${esc(k.title || k.name)}</a>${lab ? `<div class="muted mono">${esc(lab)}</div>` : ""}</td><td>${esc(k.kind)}</td><td class="n">${v(s.min)}</td><td class="n">${v(s.mean)}</td><td class="n">${v(s.p50)}</td><td class="n">${v(s.p95)}</td><td class="n">${v(s.p99)}</td><td class="n">${v(s.max)}</td><td class="n">${total}</td><td class="n">${rate}</td></tr>`;
}

function chart(k, el) {
  const u = unitOf(k);
  const cols = Object.keys(k.columns || {});
  if (!k.t || !k.t.length || !cols.length) {
    el.insertAdjacentHTML("beforeend", `<p class="muted">no data in this window</p>`);
    return;
  }
  const isCounter = k.kind === "counter";
  const fmtY = (v) => (v == null ? "—" : isCounter ? fmtRate(v, u) : fmt(v, u));
  const series = [{ value: (_, t) => (t == null ? "" : when(t)) }];
  for (const c of cols) series.push({ label: c, stroke: QCOLORS[c] || "#4f7cff", width: c === "min" || c === "max" ? 1 : 1.5, dash: c === "min" || c === "max" ? [4, 4] : undefined, value: (_, v) => fmtY(v), spanGaps: false });
  const data = [k.t, ...cols.map((c) => k.columns[c].map((x) => (x == null || Number.isNaN(x) ? null : x)))];
  const width = Math.max(320, Math.min(1100, el.clientWidth || 900));
  // eslint-disable-next-line no-undef
  new uPlot(
    {
      width,
      height: 200,
      series,
      scales: { x: { time: true } },
      axes: [{ stroke: "#64748b", grid: { stroke: "rgba(100,116,139,.15)" } }, { stroke: "#64748b", grid: { stroke: "rgba(100,116,139,.15)" }, size: 70, values: (_, vals) => vals.map(fmtY) }],
      legend: { live: true },
    },
    data,
    el,
  );
}

function render(r) {
  document.title = `${r.title} — ${when(r.from)} to ${when(r.to)}`;
  $("title").textContent = r.title;
  $("range").textContent = `${when(r.from)} → ${when(r.to)} · step ${num(r.step)} s · made ${when(r.generated)}${r.host ? " on " + r.host : ""}`;
  // The pipeline's own KPIs first; the machine's and kpid's own after them.
  const machine = (k) => (/^(host|process|pipeline|gpu|kpid)_/.test(k.name) ? 1 : 0);
  const kpis = (r.kpis || []).slice().sort((a, b) => machine(a) - machine(b));
  $("summary").innerHTML = kpis.length
    ? `<table><thead><tr><th>KPI</th><th>kind</th><th class="n">min</th><th class="n">mean</th><th class="n">p50</th><th class="n">p95</th><th class="n">p99</th><th class="n">max</th><th class="n">total</th><th class="n">rate</th></tr></thead><tbody>${kpis.map(summaryRow).join("")}</tbody></table>`
    : `<p class="muted">No KPI has data in this window.</p>`;
  const charts = $("charts");
  for (const k of kpis) {
    const box = document.createElement("section");
    box.className = "chart";
    box.id = `c-${k.id}`;
    const lab = labelText(k.labels);
    box.innerHTML = `<h3>${esc(k.title || k.name)} <span class="muted mono">${esc(lab)}</span></h3>${k.help ? `<p class="muted">${esc(k.help)}</p>` : ""}`;
    charts.appendChild(box);
    chart(k, box);
  }
  const alerts = r.alerts || [];
  $("alerts").innerHTML = alerts.length
    ? `<table><thead><tr><th>alert</th><th>severity</th><th>labels</th><th>from</th><th>to</th><th class="n">value</th></tr></thead><tbody>${alerts
        .map((a) => `<tr><td>${esc(a.name)}</td><td><span class="pill ${esc(a.severity)}">${esc(a.severity)}</span></td><td class="mono">${esc(labelText(a.labels))}</td><td>${esc(when(a.from))}</td><td>${a.to ? esc(when(a.to)) : "still firing"}</td><td class="n">${esc(num(a.value))}</td></tr>`)
        .join("")}</tbody></table>`
    : `<p class="muted">No alert fired in this window.</p>`;
  const spans = r.spans || [];
  $("spans-box").hidden = !spans.length;
  $("spans").innerHTML = `<table><thead><tr><th>span</th><th class="n">count</th><th class="n">rate</th><th class="n">p50</th><th class="n">p95</th><th class="n">p99</th><th class="n">errors</th></tr></thead><tbody>${spans
    .map((s) => `<tr><td class="mono">${esc(s.span)}${s.app ? ` <span class="muted">(${esc(s.app)})</span>` : ""}</td><td class="n">${esc(num(s.count))}</td><td class="n">${esc(fmtRate(s.rate, ""))}</td><td class="n">${esc(fmt(s.p50, "s"))}</td><td class="n">${esc(fmt(s.p95, "s"))}</td><td class="n">${esc(fmt(s.p99, "s"))}</td><td class="n">${esc(num(s.errors))}</td></tr>`)
    .join("")}</tbody></table>`;
  document.body.dataset.ready = "1";
}

render(JSON.parse($("kpid-report").textContent));

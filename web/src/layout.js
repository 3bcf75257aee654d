// kpid dashboard, layout: the sections, panels and header strip the server resolved for each
// KPI (`layout` in /api/metrics/latest and the WebSocket frames: title, group, order, panel,
// chart, headline; see src/server/layout.rs and docs/dashboard.md). Nothing here guesses from
// names: a KPI without a layout (an older kpid) goes to "Other" under its own name.
import { fmt, fmtRate, parts, rateParts } from "./format.js";

export function labelText(labels, omit) {
  const keys = Object.keys(labels || {}).filter((k) => !omit || !omit.has(k)).sort();
  return keys.map((k) => `${k}=${labels[k]}`).join(", ");
}

// Labels whose value is the same in every label set of a KPI name: not worth repeating.
export function commonLabels(list) {
  const out = new Set();
  if (list.length < 2) return new Set(Object.keys(list[0]?.labels || {}));
  for (const k of Object.keys(list[0].labels || {})) {
    if (list.every((x) => (x.labels || {})[k] === list[0].labels[k])) out.add(k);
  }
  return out;
}

// The place of a KPI name (its label sets share one).
export function place(list) {
  const k = list[0];
  return (
    k.layout || {
      title: k.name,
      group: "other",
      group_title: "Other",
      group_order: 600,
      order: 100,
      panel: k.name,
      panel_title: k.name,
      chart: "line",
    }
  );
}

// Put `el` right after `prev` (or first) in `parent`, touching the DOM only when out of place.
export function putAfter(parent, el, prev) {
  const want = prev ? prev.nextSibling : parent.firstChild;
  if (want !== el) parent.insertBefore(el, want);
  return el;
}

// A section's element (`cls`, holding a `.${grid}`): collapsed ones (kpid's own bookkeeping) are
// a <details> that starts closed.
export function sectionEl(sec, cls, grid) {
  const g = document.createElement(sec.collapsed ? "details" : "div");
  g.className = cls;
  g.dataset.group = sec.key;
  const t = sec.collapsed ? "summary" : "h3";
  g.innerHTML = `<${t} class="group-title"></${t}><div class="${grid}"></div>`;
  return g;
}

// Sections of the KPI names `keep` accepts: [{ key, title, order, collapsed, items }], each
// item { name, list, L }, in the server's order (ties by title, then name).
export function sections(names, keep) {
  const secs = new Map();
  for (const [name, list] of names) {
    if (!keep(name, list)) continue;
    const L = place(list);
    let s = secs.get(L.group);
    if (!s) secs.set(L.group, (s = { key: L.group, title: L.group_title, order: L.group_order, collapsed: !!L.collapsed, items: [] }));
    s.items.push({ name, list, L });
  }
  const out = [...secs.values()].sort((a, b) => a.order - b.order || a.key.localeCompare(b.key));
  for (const s of out) s.items.sort((a, b) => a.L.order - b.L.order || a.L.title.localeCompare(b.L.title) || a.name.localeCompare(b.name));
  return out;
}

// The charts of a section: its items grouped by panel, in the order of their first item.
export function panelsOf(section) {
  const panels = new Map();
  for (const it of section.items) {
    let p = panels.get(it.L.panel);
    if (!p) {
      panels.set(it.L.panel, (p = { key: it.L.panel, title: it.L.panel_title, help: it.L.panel_help, chart: it.L.chart, stacked: !!it.L.stacked, thresholds: it.L.thresholds || [], items: [] }));
    }
    p.items.push(it);
  }
  return [...panels.values()];
}

// The header strip: the headline KPIs (throughput in and out, end-to-end latency p95, errors,
// or the config's `headline`), then health. `spark(list)` draws a KPI's sparkline.
export function renderHeadline(root, names, health, { esc, spark }) {
  const tiles = [];
  for (const [name, list] of names) {
    const L = list[0].layout;
    if (L && L.headline != null) tiles.push({ name, list, L });
  }
  tiles.sort((a, b) => a.L.headline - b.L.headline);
  const big = ([n, u]) => `<span class="big"><span class="num">${esc(n)}</span>${u ? `<span class="unit">${esc(u)}</span>` : ""}</span>`;
  const html = tiles.map(({ name, list, L }) => {
    const k0 = list[0];
    const unit = k0.unit || "";
    const sum = (f) => list.reduce((a, k) => a + (k.latest[f] || 0), 0);
    let value;
    let what;
    if (k0.kind === "counter") {
      value = big(rateParts(sum("rate"), unit));
      what = `total ${fmt(sum("total"), unit === "%" ? "" : unit)}`;
    } else if (k0.kind === "gauge") {
      value = big(parts(list.length > 1 ? sum("value") : k0.latest.value, unit));
      what = list.length > 1 ? `sum of ${list.length} series` : "now";
    } else {
      value = big(parts(Math.max(...list.map((k) => k.latest.p95 ?? -Infinity)), unit)).replace('<span class="big">', '<span class="big"><span class="qlabel">p95</span>');
      what = `p50 ${fmt(k0.latest.p50, unit)} · ${fmtRate(sum("rate"), "")}`;
    }
    const bad = L.group === "errors" && sum("rate") > 0;
    return `<div class="tile${bad ? " bad" : ""}" data-kpi="${esc(name)}" title="${esc(name)}${k0.help ? ": " + esc(k0.help) : ""}"><div class="tile-name">${esc(L.title)}</div><div class="tile-main">${value}${spark(list)}</div><div class="tile-sub">${esc(what)}</div></div>`;
  });
  const p = health?.pipeline;
  const s = p?.rules ? { OK: "ok", WARNING: "warn", CRITICAL: "error" }[p.status] || "unknown" : health?.status || "unknown";
  const label = p?.rules ? `pipeline ${String(p.status || "").toLowerCase()}` : s === "ok" ? "healthy" : s;
  const bad = p?.rules ? Object.values(p.kpis || {}).filter((v) => v !== "OK").length : 0;
  html.push(`<div class="tile health-tile" data-status="${esc(s)}" data-kpi="health"><div class="tile-name">Health</div><div class="tile-main"><span class="big"><span class="dot"></span><span class="num">${esc(label)}</span></span></div><div class="tile-sub">${p?.rules ? `${bad} KPI${bad === 1 ? "" : "s"} alerting · ${p.rules} rules` : "kpid's own health"}</div></div>`);
  root.innerHTML = html.join("");
  root.hidden = false;
}

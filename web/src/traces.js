// Trace waterfalls: the engine's sample of recent slow and failed traces (/api/traces,
// docs/api.md) as a list, and the selected one as a waterfall of its spans: one row per span,
// nested under its parent, its bar placed by start offset and sized by duration, spans in
// error red, a hover card with the span's attributes.
//
// `openSpan(app, span)` (the spans table) lists the traces of that root span and opens the
// slowest; `openAt(t, unit)` (a click on a latency chart) opens the slowest sampled trace
// running near that instant and says whether there was one.

import { fmt, num } from "./format.js";

const POLL_MS = 3000;
const NEAR_S = 10; // how far from a clicked instant a trace may be
const MAX_ROWS = 50; // traces listed

export function traceView({ api, esc, root, logsAt }) {
  const st = { list: [], filter: null, open: null, busy: false };
  root.innerHTML = `
    <div class="panel-head"><h2>Traces</h2><span class="muted" id="traces-sum">recent slow and failed traces, sampled per root span</span></div>
    <div class="traces-bar" id="traces-bar"></div>
    <div class="traces-body">
      <div class="table-wrap traces-list"><table class="tbl" id="traces-list"></table></div>
      <div class="waterfall" id="waterfall" aria-live="polite"></div>
    </div>
    <div class="wf-tip" id="wf-tip" hidden></div>`;
  const $ = (id) => root.querySelector("#" + id);
  const fmtS = (s) => (s == null ? "—" : fmt(s, "s"));
  const when = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });

  function renderList() {
    const rows = st.list.filter((t) => !st.filter || t.root === st.filter).slice(0, MAX_ROWS);
    $("traces-bar").innerHTML = st.filter
      ? `<span class="chip on">root <b class="mono">${esc(st.filter)}</b></span> <button class="btn" id="traces-all">all traces</button>`
      : "";
    const head = `<thead><tr><th>root span</th><th>started</th><th class="n">duration</th><th class="n">spans</th><th>kept as</th></tr></thead>`;
    const body = rows
      .map((t) => {
        const why = [t.slow ? "slow" : "", t.error ? "failed" : ""].filter(Boolean).join(" · ");
        const cls = (t.trace_id === st.open ? " sel" : "") + (t.error ? " err" : "");
        return `<tr class="trace-row${cls}" data-trace="${esc(t.trace_id)}" tabindex="0"><td class="mono" title="${esc(t.app)} · ${esc(t.trace_id)}">${esc(t.root)}</td><td>${esc(when(t.start))}</td><td class="n">${esc(fmtS(t.duration))}</td><td class="n">${esc(num(t.spans))}</td><td><span class="pill ${t.error ? "bad" : "warn"}">${esc(why)}</span></td></tr>`;
      })
      .join("");
    const none = `<tr><td colspan="5" class="muted">${st.filter ? `no sampled trace has the root span ${esc(st.filter)}` : "no traces yet (OTLP spans only)"}</td></tr>`;
    $("traces-list").innerHTML = head + `<tbody>${body || none}</tbody>`;
  }

  // Spans in tree order (each after its parent, siblings by start), with their depth.
  function tree(spans) {
    const ids = new Set(spans.map((s) => s.id));
    const kids = new Map();
    const tops = [];
    for (const s of spans) {
      if (s.parent && ids.has(s.parent) && s.parent !== s.id) {
        if (!kids.has(s.parent)) kids.set(s.parent, []);
        kids.get(s.parent).push(s);
      } else tops.push(s);
    }
    const out = [];
    const seen = new Set();
    const walk = (s, depth) => {
      if (seen.has(s.id)) return;
      seen.add(s.id);
      out.push({ s, depth });
      for (const c of (kids.get(s.id) || []).sort((a, b) => a.start - b.start)) walk(c, depth + 1);
    };
    for (const s of tops) walk(s, 0);
    return out;
  }

  function renderWaterfall(tr) {
    const total = Math.max(tr.duration, ...tr.spans.map((s) => s.start + s.duration), 1e-9);
    const lo = Math.min(0, ...tr.spans.map((s) => s.start));
    const span = total - lo;
    const pct = (x) => (100 * (x - lo)) / span;
    const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => `<span class="wf-tick" style="left:${f * 100}%">${esc(fmtS(lo + f * span))}</span>`).join("");
    const rows = tree(tr.spans)
      .map(({ s, depth }) => {
        const w = Math.max(0, (100 * s.duration) / span);
        return `<div class="wf-row${s.error ? " err" : ""}" data-span="${esc(s.id)}" data-depth="${depth}"><div class="wf-name mono" style="padding-left:${0.4 + depth * 0.9}rem" title="${esc(s.name)}">${esc(s.name)}</div><div class="wf-track"><div class="wf-bar" style="left:${pct(s.start)}%;width:${w}%" data-start="${s.start}" data-duration="${s.duration}"></div><span class="wf-dur" style="left:${pct(s.start) + w}%">${esc(fmtS(s.duration))}</span></div></div>`;
      })
      .join("");
    const dropped = tr.spans_dropped ? ` · <span class="warn">${esc(num(tr.spans_dropped))} spans not kept</span>` : "";
    $("waterfall").innerHTML = `
      <div class="wf-head"><b class="mono">${esc(tr.root)}</b> <span class="muted">${esc(tr.app)} · ${esc(when(tr.start))} · ${esc(fmtS(tr.duration))} · ${esc(num(tr.spans.length))} spans${dropped}</span>
        ${tr.error ? '<span class="pill bad">failed</span>' : ""}
        <span class="wf-id muted mono" title="trace id">${esc(tr.trace_id)}</span>
        ${logsAt ? '<button class="btn" id="wf-logs" title="the log lines around this trace">logs</button>' : ""}</div>
      <div class="wf-ruler"><div class="wf-name"></div><div class="wf-track">${ticks}</div></div>
      <div class="wf-rows">${rows}</div>`;
    st.spans = new Map(tr.spans.map((s) => [s.id, s]));
    root.dataset.trace = tr.trace_id;
  }

  async function open(id) {
    st.open = id;
    renderList();
    try {
      const r = await api(`/api/traces/${encodeURIComponent(id)}`);
      if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || `HTTP ${r.status}`);
      st.trace = await r.json();
      if (st.open === id) renderWaterfall(st.trace);
    } catch (e) {
      $("waterfall").innerHTML = `<div class="muted">trace ${esc(id)}: ${esc(e.message)} (it may have aged out of the sample)</div>`;
    }
  }

  async function refresh() {
    if (st.busy) return;
    st.busy = true;
    try {
      const r = await api("/api/traces");
      if (r.ok) {
        st.list = (await r.json()).traces || [];
        root.hidden = !st.list.length;
        renderList();
      }
    } catch {
      /* the next poll tries again */
    } finally {
      st.busy = false;
    }
  }

  const slowest = (list) => list.reduce((a, t) => (!a || t.duration > a.duration ? t : a), null);

  async function openSpan(app, span) {
    await refresh();
    st.filter = span;
    const list = st.list.filter((t) => t.root === span && (!app || t.app === app));
    renderList();
    root.hidden = false;
    const t = slowest(list);
    if (t) await open(t.trace_id);
    root.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function openAt(t, unit) {
    if (unit !== "s") return false;
    const near = st.list.filter((x) => x.start - NEAR_S <= t && t <= x.start + x.duration + NEAR_S);
    const best = slowest(near);
    if (!best) return false;
    st.filter = null;
    open(best.trace_id).then(() => root.scrollIntoView({ behavior: "smooth", block: "start" }));
    return true;
  }

  root.addEventListener("click", (e) => {
    const row = e.target.closest(".trace-row");
    if (row) open(row.dataset.trace);
    if (e.target.id === "traces-all") {
      st.filter = null;
      renderList();
    }
    if (e.target.id === "wf-logs" && st.trace) logsAt(st.trace.start);
  });
  root.addEventListener("keydown", (e) => {
    const row = e.target.closest(".trace-row");
    if (row && e.key === "Enter") open(row.dataset.trace);
  });
  const tip = $("wf-tip");
  root.addEventListener("mousemove", (e) => {
    const row = e.target.closest(".wf-row");
    const s = row && st.spans?.get(row.dataset.span);
    if (!s) {
      tip.hidden = true;
      return;
    }
    if (tip.dataset.span !== s.id) {
      const attrs = Object.entries(s.attributes || {})
        .map(([k, v]) => `<div class="wf-attr"><span class="muted">${esc(k)}</span> <span class="mono">${esc(v)}</span></div>`)
        .join("");
      tip.innerHTML = `<div><b class="mono">${esc(s.name)}</b>${s.error ? ' <span class="pill bad">error</span>' : ""}</div><div class="muted">starts at +${esc(fmtS(s.start))} · lasts ${esc(fmtS(s.duration))}</div>${attrs || '<div class="muted">no attributes</div>'}`;
      tip.dataset.span = s.id;
    }
    const box = root.getBoundingClientRect();
    tip.hidden = false;
    // Below and right of the pointer, kept inside the panel and the window.
    const below = e.clientY + 14 + tip.offsetHeight < window.innerHeight;
    tip.style.left = `${Math.max(0, Math.min(e.clientX - box.left + 14, box.width - tip.offsetWidth - 4))}px`;
    tip.style.top = `${e.clientY - box.top + (below ? 14 : -14 - tip.offsetHeight)}px`;
  });
  root.addEventListener("mouseleave", () => (tip.hidden = true));

  refresh();
  setInterval(() => !document.hidden && refresh(), POLL_MS);
  return { openSpan, openAt, refresh };
}

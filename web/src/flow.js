// The pipeline flow: its stages (span names) drawn left to right in the order they run, each
// with its rate, p95 latency and error ratio, coloured by health, from /api/flow (docs/api.md).
// A stage that contains others (a `frame` span around `capture → infer → post`) heads the
// chain of its children; nested stages get their own chain under it.

import { fmt, fmtRate, num } from "./format.js";

const POLL_MS = 2000;
const MAX_DEPTH = 6;

export function flowView({ api, esc, root }) {
  root.innerHTML = `<div class="panel-head"><h2>Pipeline flow</h2><span class="muted">stages from span nesting, in the order they run: rate, p95 latency, errors</span></div><div class="flow" id="flow"></div>`;
  const el = root.querySelector("#flow");

  function box(s, head) {
    const err = s.error_ratio == null ? "—" : `${num(s.error_ratio * 100)} %`;
    return `<div class="stage h-${esc(s.health)}${head ? " head" : ""}" data-stage="${esc(s.span)}" title="${esc(s.app)} · ${esc(s.span)}: ${esc(num(s.total))} spans, p50 ${esc(fmt(s.p50, "s"))} · p99 ${esc(fmt(s.p99, "s"))}">
      <div class="stage-name">${esc(s.span)}</div>
      <div class="stage-figs"><b>${esc(fmtRate(s.rate, ""))}</b> · p95 <b>${esc(fmt(s.p95, "s"))}</b></div>
      <div class="stage-err">errors <b>${esc(err)}</b></div></div>`;
  }

  function render(f) {
    const stages = f.stages || [];
    root.hidden = !stages.length;
    if (!stages.length) return;
    const key = (app, span) => `${app}\u0000${span}`;
    const byKey = new Map(stages.map((s) => [key(s.app, s.span), s]));
    const kids = new Map();
    const hasParent = new Set();
    for (const e of f.edges || []) {
      if (!byKey.has(key(e.app, e.span)) || e.parent === e.span) continue;
      const k = key(e.app, e.parent);
      if (!kids.has(k)) kids.set(k, []);
      kids.get(k).push(key(e.app, e.span));
      hasParent.add(key(e.app, e.span));
    }
    const chain = (k, depth, seen) => {
      const list = (kids.get(k) || []).filter((c) => !seen.has(c));
      if (!list.length || depth > MAX_DEPTH) return "";
      const next = new Set([...seen, ...list]);
      return `<div class="chain">${list
        .map((c, i) => `${i ? '<span class="arrow" aria-hidden="true">→</span>' : ""}<div class="node">${box(byKey.get(c), false)}${chain(c, depth + 1, next)}</div>`)
        .join("")}</div>`;
    };
    const roots = stages.map((s) => key(s.app, s.span)).filter((k) => !hasParent.has(k));
    const apps = new Set(stages.map((s) => s.app));
    el.innerHTML = roots
      .map((k) => {
        const s = byKey.get(k);
        return `<div class="flow-row">${apps.size > 1 ? `<div class="flow-app muted">${esc(s.app)}</div>` : ""}${box(s, true)}${chain(k, 1, new Set([k]))}</div>`;
      })
      .join("");
  }

  async function poll() {
    if (document.hidden) return;
    try {
      const r = await api("/api/flow");
      if (r.ok) render(await r.json());
    } catch (e) {
      /* the connection indicator says when kpid is away */
    }
  }
  root.hidden = true;
  poll();
  setInterval(poll, POLL_MS);
}

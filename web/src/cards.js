// kpid dashboard, cards: the header strip (layout.js) and a card per KPI name with its latest
// value, a sparkline of the last minute and its label sets, in the sections the server lays
// out; the machine's and the spans' KPIs have their own panels instead.
import { num, parts, rateParts, fmt, fmtRate } from "./format.js";
import { labelText, commonLabels, place, sections, sectionEl, putAfter, renderHeadline } from "./layout.js";

// Sections shown in their own panels (the machine, the spans table), not as cards.
const NO_CARDS = new Set(["system", "spans"]);

export function cardsView({ state, alerts, $, esc, nowS }) {
  const big = ([n, u]) => `<span class="big"><span class="num">${esc(n)}</span>${u ? `<span class="unit">${esc(u)}</span>` : ""}</span>`;
  const cardEls = new Map();
  const groupEls = new Map();

  function sparkline(values) {
    const first = values.findIndex((x) => x != null && Number.isFinite(x));
    if (first > 0) values = values.slice(first);
    const v = values.filter((x) => x != null && Number.isFinite(x));
    if (v.length < 2) return "";
    let min = Math.min(...v);
    let max = Math.max(...v);
    if (min > 0) min = 0;
    if (max === min) max = min + 1;
    const W = 120;
    const H = 28;
    const step = W / (values.length - 1);
    let d = "";
    let pen = false;
    values.forEach((x, i) => {
      if (x == null || !Number.isFinite(x)) return; // a gauge holds its value across a gap
      const y = H - 1 - ((x - min) / (max - min)) * (H - 2);
      d += `${pen ? "L" : "M"}${(i * step).toFixed(1)},${y.toFixed(1)}`;
      pen = true;
    });
    return `<svg class="spark" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" aria-hidden="true"><path d="${d}"/></svg>`;
  }

  // Per-second series of one KPI over the last `n` buckets (counters: increase / bucket).
  function recent(k, col, n) {
    const end = Math.floor(nowS());
    const out = new Array(n).fill(null);
    const b = state.bucket || 1;
    for (let i = k.h.t.length - 1; i >= 0; i--) {
      const idx = n - 1 - Math.round((end - k.h.t[i]) / b);
      if (idx < 0) break;
      if (idx < n) out[idx] = k.h[col][i];
    }
    if (k.kind === "counter") {
      const first = out.findIndex((x) => x != null);
      if (first >= 0) for (let i = first; i < n; i++) if (out[i] == null) out[i] = 0;
    }
    return out;
  }

  // `errors`: the KPI is in the server's errors-and-drops section (any increase is bad news).
  function cardBody(errors, list) {
    const k0 = list[0];
    const unit = k0.unit || "";
    const L = k0.latest;
    let main = "";
    let sub = "";
    let spark = "";
    let bad = false;
    if (list.length === 1) {
      if (k0.kind === "counter") {
        main = big(rateParts(L.rate, unit));
        sub = `total <b>${esc(fmt(L.total, unit === "%" ? "" : unit))}</b>`;
        spark = sparkline(recent(k0, "value", 60));
        bad = errors ? (L.rate > 0 ? "bad" : L.total > 0 ? "warn" : false) : false;
      } else if (k0.kind === "gauge") {
        main = big(parts(L.value, unit));
        sub = `<span title="over the last 60 s">min <b>${esc(fmt(L.min, unit))}</b> · max <b>${esc(fmt(L.max, unit))}</b></span>`;
        spark = sparkline(recent(k0, "value", 60));
        bad = errors && L.value > 0 ? "bad" : false;
      } else {
        main = big(parts(L.p50, unit)).replace('<span class="big">', '<span class="big"><span class="qlabel">p50</span>');
        sub = `p95 <b>${esc(fmt(L.p95, unit))}</b> · p99 <b>${esc(fmt(L.p99, unit))}</b><div>rate <b>${esc(fmtRate(L.rate, ""))}</b> · count <b>${esc(num(L.count))}</b></div>`;
        spark = sparkline(recent(k0, "p95", 60));
      }
      const lt = labelText(k0.labels, state.globalLabels);
      if (lt) sub += `<div class="labels">${esc(lt)}</div>`;
    } else {
      const omit = commonLabels(list);
      if (k0.kind === "counter") {
        const rate = list.reduce((a, k) => a + (k.latest.rate || 0), 0);
        const total = list.reduce((a, k) => a + (k.latest.total || 0), 0);
        main = big(rateParts(rate, unit));
        sub = `total <b>${esc(fmt(total, unit === "%" ? "" : unit))}</b>`;
        bad = errors ? (rate > 0 ? "bad" : total > 0 ? "warn" : false) : false;
      }
      const rows = list.slice(0, 6).map((k) => {
        const l = k.latest;
        const varying = Object.keys(k.labels).filter((x) => !omit.has(x));
        const lab = varying.length === 1 ? k.labels[varying[0]] : labelText(k.labels, omit) || "—";
        const lvl = String(k.labels.level || k.labels.severity || "").toLowerCase();
        const cls = /^(error|err|fatal|critical)$/.test(lvl) && l.total > 0 ? " bad" : /^(warn|warning)$/.test(lvl) && l.total > 0 ? " warn" : "";
        let val;
        if (k.kind === "counter") val = `${esc(fmtRate(l.rate, unit))} <span class="muted">· ${esc(num(l.total))}</span>`;
        else if (k.kind === "gauge") val = esc(fmt(l.value, unit));
        else val = `${esc(fmt(l.p50, unit))} <span class="muted">p95 ${esc(fmt(l.p95, unit))}</span>`;
        return `<div class="row${cls}"><span class="rk" title="${esc(labelText(k.labels))}">${esc(lab)}</span><span class="rv">${val}</span></div>`;
      });
      if (list.length > 6) rows.push(`<div class="row more">+${list.length - 6} more label sets</div>`);
      sub += `<div class="rows">${rows.join("")}</div>`;
    }
    return { html: `<div class="card-main">${main}${spark}</div><div class="card-sub">${sub}</div>`, bad };
  }

  // Labels with one value across the whole dashboard (e.g. source="pipeline" with one source)
  // say nothing on a card.
  function globalLabels() {
    const vals = new Map();
    for (const k of state.kpis.values()) {
      for (const [key, v] of Object.entries(k.labels || {})) {
        if (!vals.has(key)) vals.set(key, new Set());
        vals.get(key).add(v);
      }
    }
    return new Set([...vals].filter(([, set]) => set.size === 1).map(([key]) => key));
  }

  function renderCards(names) {
    const root = $("cards");
    state.globalLabels = globalLabels();
    const groups = sections(names, (n, list) => !NO_CARDS.has(place(list).group));
    $("cards-empty").hidden = groups.length > 0;
    const live = new Set();
    let prevG = $("cards-empty");
    for (const sec of groups) {
      let g = groupEls.get(sec.key);
      if (!g) {
        g = sectionEl(sec, "card-group", "card-grid");
        groupEls.set(sec.key, g);
      }
      g.querySelector(".group-title").textContent = sec.title;
      prevG = putAfter(root, g, prevG);
      const n = Math.min(sec.items.length, 4);
      g.style.flex = `${sec.items.length} 1 ${n * 210 + (n - 1) * 10}px`;
      const grid = g.querySelector(".card-grid");
      let prevC = null;
      for (const { name, list: ks, L } of sec.items) {
        let c = cardEls.get(name);
        if (!c) {
          c = document.createElement("div");
          c.className = "card";
          c.dataset.kpi = name;
          cardEls.set(name, c);
        }
        prevC = putAfter(grid, c, prevC);
        const { html, bad } = cardBody(L.group === "errors", ks);
        const tip = `${name} (${ks[0].kind})${ks[0].help ? ": " + ks[0].help : ""}`;
        c.innerHTML = `<div class="card-head"><span class="card-name" title="${esc(tip)}">${esc(L.title)}</span></div>${html}`;
        c.classList.toggle("bad", bad === "bad");
        c.classList.toggle("warn", bad === "warn");
        // The colour of its alert state (firing rules over any of its series), beside the hint.
        c.dataset.alert = alerts.kpiLevel(ks.map((k) => k.id)) || "";
        live.add(name);
      }
    }
    for (const [n, c] of cardEls) if (!live.has(n)) (c.remove(), cardEls.delete(n));
    for (const [p, g] of groupEls) if (!groups.some((q) => q.key === p)) (g.remove(), groupEls.delete(p));
  }

  function render(names) {
    renderHeadline($("headline"), names, state.health, { esc, spark: (list) => (list.length === 1 ? sparkline(recent(list[0], list[0].kind === "distribution" ? "p95" : "value", 60)) : "") });
    renderCards(names);
  }

  return { render };
}

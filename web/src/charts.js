// kpid dashboard, charts: one uPlot chart per panel of the server's layout (a KPI name, or a
// [[dashboard.panel]] with several), in sections. Time axes labelled by the tick step (seconds
// only when ticks are seconds apart, dates past a day, spaced for their width); a counter
// draws 0 where it did not increase, up to now; legends show the current values until the
// cursor picks another instant; cursors synced across charts; drag to zoom, double-click
// back; each chart's data as CSV and its picture as PNG.
import { num, fmt, fmtRate } from "./format.js";
import { labelText, commonLabels, place, sections, panelsOf, sectionEl, putAfter } from "./layout.js";
import { axisValues } from "./axis.js";

const CHART_H = 190;
const PALETTE = ["#4f7cff", "#22c55e", "#f59e0b", "#ef4444", "#a855f7", "#06b6d4", "#ec4899", "#84cc16", "#f97316", "#14b8a6"];
const QCOLORS = { p50: "#4f7cff", p95: "#f59e0b", p99: "#ef4444" };
const SYNC = "kpid";
// Charts drawn whatever their place; past these, a chart is created and updated only while it
// is near the viewport (500 charts otherwise cost seconds at first data and every second).
const EAGER = 24;

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const clockShort = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
const clockDay = new Intl.DateTimeFormat(undefined, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
const dayOnly = new Intl.DateTimeFormat(undefined, { month: "short", day: "2-digit" });

// Tick labels by the step between ticks: never two equal labels, never seconds that are all 00.
export function timeTicks(vals, incr, span) {
  const f = incr >= 86400 ? dayOnly : incr >= 60 ? (span > 86400 ? clockDay : clockShort) : clock;
  return vals.map((v) => f.format(new Date(v * 1000)));
}

// Log levels keep their usual colours whatever the palette order.
function levelColor(labels) {
  const l = String(labels.level || labels.severity || "").toLowerCase();
  if (/^(error|err|fatal|critical|crit)$/.test(l)) return "#ef4444";
  if (/^(warn|warning)$/.test(l)) return "#f59e0b";
  if (/^(info|notice)$/.test(l)) return "#22c55e";
  if (/^(debug|trace)$/.test(l)) return "#94a3b8";
  return null;
}

// The file a download gets, and the download.
function save(name, blob) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 5000);
}
const slug = (s) => String(s).replace(/[^A-Za-z0-9_.-]+/g, "_").replace(/^_+|_+$/g, "") || "chart";

export function chartsView(ctx) {
  const { state, alerts, $, esc, nowS, onPick, onBack, onZoom } = ctx;
  const charts = new Map(); // panel key -> { el, body, plot, sig, ro, series, ids, raw }
  const groupEls = new Map();
  const seen = new IntersectionObserver(
    (entries) => {
      let more = false;
      for (const e of entries) {
        const c = charts.get(e.target.dataset.kpi);
        if (!c) continue;
        more ||= e.isIntersecting && !c.near;
        c.near = e.isIntersecting;
      }
      if (more) requestAnimationFrame(() => render());
    },
    { rootMargin: "800px 0px" },
  );
  // The theme's colours, read once per theme (getComputedStyle recomputes styles: per chart and
  // per draw it cost seconds with 500 charts).
  let theme = null;
  const cssVar = (n) => {
    if (!theme || theme.key !== state.themeKey) {
      const cs = getComputedStyle(document.documentElement);
      theme = { key: state.themeKey, get: new Map() };
      theme.cs = cs;
    }
    if (!theme.get.has(n)) theme.get.set(n, theme.cs.getPropertyValue(n).trim());
    return theme.get.get(n);
  };

  // The chart window: the last `win` seconds, or less while kpid has less history than that
  // (a fresh daemon's charts fill from the left instead of hugging the right edge).
  function xRange() {
    if (state.range) return [state.range.from, state.range.to];
    const now = nowS();
    const min = Math.min(now - 20, Number.isFinite(state.firstT) ? state.firstT : -Infinity);
    return [Math.max(now - state.win, min), now];
  }

  // Series of a panel: [{ id, col, label, color, counter }]; `names` are its KPI names in order.
  function seriesOf(p) {
    const out = [];
    const many = p.items.length > 1;
    for (const { name, list } of p.items) {
      const k0 = list[0];
      const counter = k0.kind === "counter";
      const unit = k0.unit || "";
      if (k0.kind === "distribution") {
        if (list.length === 1 && !many) {
          for (const q of ["p50", "p95", "p99"]) out.push({ id: k0.id, col: q, label: q, color: QCOLORS[q], unit });
          continue;
        }
        const q = state.quantile[p.key] || "p95";
        const omit = commonLabels(list);
        for (const k of list) out.push({ id: k.id, col: q, label: `${many ? place(list).title + " " : ""}${labelText(k.labels, omit) || (many ? "" : k.name)} ${q}`.trim(), unit });
        continue;
      }
      const omit = commonLabels(list);
      for (const k of list) {
        const lt = labelText(k.labels, omit);
        const label = many ? (lt ? `${place(list).title} ${lt}` : place(list).title) : lt || name;
        out.push({ id: k.id, col: "value", label, color: levelColor(k.labels), counter, unit });
      }
    }
    let i = 0;
    for (const s of out) if (!s.color) s.color = PALETTE[i++ % PALETTE.length];
    return out;
  }

  // Aligned uPlot data over the window; counters draw 0 where a bucket has no increase, from
  // their first point up to now. `raw` keeps each series' own values when stacked.
  function chartData(p, series) {
    const now = nowS();
    const R = state.range;
    const x1 = xRange()[1];
    const from = R ? R.from : now - state.win - 2 * state.bucket;
    const b = R ? R.step : state.bucket || 1;
    const byId = new Map();
    for (const it of p.items) for (const k of it.list) byId.set(k.id, k);
    const hist = (k) => (R ? k.r || { t: [] } : k.h);
    const ts = new Set();
    let first = Infinity;
    for (const s of series) {
      for (const t of hist(byId.get(s.id)).t) {
        if (t < from) continue;
        ts.add(t);
        if (s.counter && t < first) first = t;
      }
    }
    if (Number.isFinite(first)) {
      // A counter bucket without data means no increase: 0 up to the last complete bucket
      // (the current one is still filling).
      const end = Math.min(x1, R ? R.to : now - b);
      for (let t = first; t <= end; t += b) ts.add(Math.floor(t / b) * b);
    }
    const x = [...ts].sort((a, c) => a - c);
    const pos = new Map(x.map((t, i) => [t, i]));
    const raw = series.map((s) => {
      const h = hist(byId.get(s.id));
      const y = new Array(x.length).fill(null);
      let firstIdx = Infinity;
      h.t.forEach((t, i) => {
        const j = pos.get(t);
        if (j === undefined) return;
        y[j] = (h[s.col] || [])[i] ?? null;
        if (j < firstIdx) firstIdx = j;
      });
      if (s.counter && Number.isFinite(firstIdx)) for (let j = firstIdx; j < y.length; j++) if (y[j] == null) y[j] = 0;
      return y;
    });
    if (!p.stacked) return { data: [x, ...raw], raw };
    const acc = new Array(x.length).fill(0);
    const stacked = raw.map((y) => y.map((v, i) => (acc[i] += v ?? 0)));
    return { data: [x, ...stacked], raw };
  }

  // The panel's unit: its KPIs' when they share one, else none (plain numbers on the axis).
  const unitOfPanel = (p) => {
    const us = new Set(p.items.map((it) => it.list[0].unit || ""));
    return us.size === 1 ? [...us][0] : "";
  };
  // The newest value at or before index `end` (the last complete bucket: the current one holds
  // a few observations, whose p50, p95 and p99 are all the same).
  const lastOf = (arr, end) => {
    for (let i = Math.min(end ?? Infinity, (arr?.length || 0) - 1); i >= 0; i--) if (arr[i] != null) return arr[i];
    return null;
  };

  function makePlot(c, p, series, width) {
    const unit = unitOfPanel(p);
    const isCounter = p.items[0].list[0].kind === "counter";
    // Each series in its own unit (a panel may mix °C and %).
    const fmtY = (v, s) => (v == null ? "—" : s.counter ? fmtRate(v, s.unit) : fmt(v, s.unit));
    const axis = cssVar("--axis");
    const grid = cssVar("--grid");
    const single = series.length === 1;
    const kind = p.chart || "line";
    const bars = kind === "bars" && uPlot.paths?.bars ? uPlot.paths.bars({ size: [0.7, 24] }) : null;
    const opts = {
      width: Math.max(200, width),
      height: CHART_H,
      padding: [8, 26, 0, 0],
      // Hover one chart: every chart shows the same instant. Drag across to read that range
      // from history; double-click to go back.
      cursor: { sync: { key: SYNC, setSeries: false }, drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
      legend: { show: true, live: true },
      scales: {
        x: { time: true, range: () => xRange() },
        y: {
          range: (u, min, max) => {
            // Thresholds stay in view: the headroom left is what they are drawn for.
            for (const v of [...alerts.thresholds(c.ids || []).map((t) => t.v), ...(p.thresholds || [])]) {
              min = min == null ? v : Math.min(min, v);
              max = max == null ? v : Math.max(max, v);
            }
            if (min == null || max == null) return [0, 1];
            const lo = min >= 0 ? 0 : min - (max - min) * 0.1;
            const hi = max <= 0 ? 1 : max + (max - lo) * 0.12;
            return [lo, hi === lo ? lo + 1 : hi];
          },
        },
      },
      axes: [
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { stroke: grid, width: 1 },
          font: "11px system-ui, sans-serif",
          // Room for "12:30:45" (or "Nov 30 12:30") and a gap, at any width.
          space: () => (xRange()[1] - xRange()[0] > 86400 ? 100 : 72),
          values: (u, vals, ai, space, incr) => timeTicks(vals, incr, xRange()[1] - xRange()[0]),
        },
        {
          stroke: axis,
          grid: { stroke: grid, width: 1 },
          ticks: { show: false },
          font: "11px system-ui, sans-serif",
          // One scale for the whole axis: "0 ms, 20 ms, 40 ms", never "0 s" beside "20.0 ms".
          values: (u, vals) => axisValues(vals, isCounter ? (unit === "bytes" ? "bytes/s" : unit) : unit),
          size: (u, vals) => (vals && vals.length ? Math.ceil(Math.max(...vals.map((v) => measure(v)))) + 16 : 40),
        },
      ],
      series: [
        { value: (u, v) => (v == null ? "" : clock.format(new Date(v * 1000))) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 1.6,
          fill: kind === "area" || p.stacked || (single && kind !== "bars") ? s.color + (p.stacked ? "66" : "22") : kind === "bars" ? s.color + "aa" : undefined,
          paths: bars || undefined,
          spanGaps: !s.counter,
          points: { show: (u, i, i0, i1) => !bars && i1 - i0 < 8 },
          // The legend: the value at the cursor, or the current one when no cursor is over
          // any chart; a stacked series shows its own value, not the sum.
          value: (u, v, sidx, idx) => {
            const i = p.stacked ? series.length - sidx : sidx - 1;
            const own = c.raw?.[i];
            return fmtY(idx == null ? lastOf(own, c.done) : own ? own[idx] : v, series[i]);
          },
        })),
      ],
    };
    const pal = { warn: cssVar("--warn"), bad: cssVar("--bad"), ok: cssVar("--ok"), muted: cssVar("--muted") };
    const colors = () => pal;
    const marks = alerts.markHook(() => c.ids || [], colors);
    opts.hooks = {
      draw: [alerts.drawHook(() => c.ids || [], colors, (v) => fmt(v, unit)), marks.draw, (u) => panelLines(u, p.thresholds || [], pal.muted, (v) => fmt(v, unit))],
      setCursor: [marks.cursor],
      ready: [
        (u) => {
          // A click on a chart picks that instant (the log lines, or a trace, around it).
          u.over.addEventListener("click", () => {
            const t = u.posToVal(u.cursor.left, "x");
            if (Number.isFinite(t) && u.cursor.left >= 0 && !u.select.width) onPick(t, unit);
          });
          u.over.addEventListener("dblclick", onBack);
        },
      ],
      setSelect: [
        (u) => {
          if (u.select.width < 5) return;
          const from = u.posToVal(u.select.left, "x");
          const to = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          onZoom(from, to);
        },
      ],
    };
    // Stacked: the top of the stack is drawn first so that each band shows.
    if (p.stacked) opts.series = [opts.series[0], ...opts.series.slice(1).reverse()];
    c.plot = new uPlot(opts, [[]], c.body);
  }

  // Dashed lines at a config panel's thresholds.
  function panelLines(u, list, color, fmtV) {
    if (!list.length) return;
    const g = u.ctx;
    const { left, top, width, height } = u.bbox;
    const dpr = devicePixelRatio || 1;
    g.save();
    g.setLineDash([3 * dpr, 3 * dpr]);
    g.strokeStyle = g.fillStyle = color;
    g.font = `${Math.round(10 * dpr)}px system-ui, sans-serif`;
    for (const v of list) {
      const y = Math.round(u.valToPos(v, "y", true));
      if (y < top || y > top + height) continue;
      g.beginPath();
      g.moveTo(left, y);
      g.lineTo(left + width, y);
      g.stroke();
      g.fillText(fmtV(v), left + 4 * dpr, y - 3 * dpr);
    }
    g.restore();
  }

  let measureCtx = null;
  function measure(text) {
    if (!measureCtx) {
      measureCtx = document.createElement("canvas").getContext("2d");
      measureCtx.font = "11px system-ui, sans-serif";
    }
    return measureCtx.measureText(String(text ?? "")).width;
  }

  // ---------- exports ----------
  function csvOf(c) {
    const x = c.plot.data[0];
    const head = ["time", ...c.series.map((s) => s.label)];
    const q = (s) => (/[",\n]/.test(s) ? `"${String(s).replace(/"/g, '""')}"` : s);
    const rows = [head.map(q).join(",")];
    x.forEach((t, i) => rows.push([new Date(t * 1000).toISOString(), ...c.raw.map((y) => (y[i] == null ? "" : String(y[i])))].join(",")));
    return rows.join("\n") + "\n";
  }
  function pngOf(c, done) {
    const src = c.plot.ctx.canvas;
    const dpr = devicePixelRatio || 1;
    const head = Math.round(26 * dpr);
    const out = document.createElement("canvas");
    out.width = src.width;
    out.height = src.height + head;
    const g = out.getContext("2d");
    g.fillStyle = cssVar("--panel") || "#fff";
    g.fillRect(0, 0, out.width, out.height);
    g.fillStyle = cssVar("--text") || "#000";
    g.font = `600 ${Math.round(13 * dpr)}px system-ui, sans-serif`;
    g.fillText(c.title, 8 * dpr, 18 * dpr);
    g.drawImage(src, 0, head);
    out.toBlob(done, "image/png");
  }

  function ensureChart(p) {
    const series = seriesOf(p);
    const sig = JSON.stringify([series.map((s) => [s.id, s.col, s.label]), p.chart, p.stacked, p.thresholds]) + state.themeKey;
    let c = charts.get(p.key);
    if (!c) {
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.kpi = p.key;
      el.innerHTML = `<div class="chart-head"><div class="chart-title"><span class="chart-name"></span><span class="chart-unit muted"></span></div><div class="chart-tools"><span class="chart-q"></span><button class="mini chart-csv" title="this chart's data as CSV">CSV</button><button class="mini chart-png" title="this chart as a PNG picture">PNG</button></div><span class="chart-now"></span></div><div class="chart-help muted"></div><div class="chart-body"></div>`;
      c = { el, body: el.querySelector(".chart-body"), plot: null, sig: "" };
      el.querySelector(".chart-csv").addEventListener("click", () => c.plot && save(`${slug(c.key)}.csv`, new Blob([csvOf(c)], { type: "text/csv" })));
      el.querySelector(".chart-png").addEventListener("click", () => c.plot && pngOf(c, (b) => b && save(`${slug(c.key)}.png`, b)));
      c.ro = new ResizeObserver(() => {
        if (c.plot && c.body.clientWidth > 0 && Math.abs(c.plot.width - c.body.clientWidth) > 1) c.plot.setSize({ width: c.body.clientWidth, height: CHART_H });
      });
      c.ro.observe(c.body);
      seen.observe(el);
      charts.set(p.key, c);
    }
    c.key = p.key;
    c.title = p.title;
    c.ids = p.items.flatMap((it) => it.list.map((k) => k.id));
    const k0 = p.items[0].list[0];
    const unit = unitOfPanel(p);
    c.el.querySelector(".chart-name").textContent = p.title;
    c.el.querySelector(".chart-name").title = p.items.map((it) => it.name).join(", ");
    c.el.querySelector(".chart-unit").textContent =
      k0.kind === "counter" ? ` · ${unit === "bytes" ? "B" : unit && unit !== "%" ? unit : "events"}/s` : k0.kind === "distribution" ? (p.items.length > 1 || p.items[0].list.length > 1 ? ` · ${state.quantile[p.key] || "p95"}` : " · p50 / p95 / p99") : unit ? ` · ${unit === "ratio" ? "%" : unit}` : "";
    c.el.querySelector(".chart-help").textContent = p.help || (p.items.length === 1 ? k0.help || "" : "");
    const qs = c.el.querySelector(".chart-q");
    if (k0.kind === "distribution" && (p.items.length > 1 || p.items[0].list.length > 1)) {
      const q = state.quantile[p.key] || "p95";
      if (qs.dataset.q !== q) {
        qs.dataset.q = q;
        qs.innerHTML = `<span class="seg small">${["p50", "p95", "p99"].map((x) => `<button data-q="${x}" class="${x === q ? "on" : ""}">${x}</button>`).join("")}</span>`;
        qs.querySelectorAll("button").forEach((b) =>
          b.addEventListener("click", () => {
            state.quantile[p.key] = b.dataset.q;
            render();
          }),
        );
      }
    } else if (qs.innerHTML) {
      qs.innerHTML = "";
      delete qs.dataset.q;
    }
    if (c.sig !== sig || !c.plot) {
      if (c.plot) c.plot.destroy();
      c.plot = null;
      c.sig = sig;
      c.series = series;
    }
    return c;
  }

  function summary(p) {
    if (p.items.length > 1) return "";
    const list = p.items[0].list;
    const k0 = list[0];
    const unit = k0.unit || "";
    if (list.length > 1) {
      if (k0.kind === "counter") return fmtRate(list.reduce((a, k) => a + (k.latest.rate || 0), 0), unit) + " total";
      return `${list.length} series`;
    }
    const L = k0.latest;
    if (k0.kind === "counter") return fmtRate(L.rate, unit);
    if (k0.kind === "gauge") return fmt(L.value, unit);
    return `p95 ${fmt(L.p95, unit)}`;
  }

  function render(names) {
    names = names || ctx.byName();
    state.firstT = Infinity;
    for (const k of state.kpis.values()) if (k.h.t.length && k.h.t[0] < state.firstT) state.firstT = k.h.t[0];
    const root = $("charts");
    const secs = sections(names, (n, list) => place(list).chart !== "none");
    const live = new Set();
    const todo = [];
    let shown = 0;
    let prevG = null;
    for (const s of secs) {
      let g = groupEls.get(s.key);
      if (!g) {
        g = sectionEl(s, "chart-group", "chart-grid");
        if (s.collapsed) g.addEventListener("toggle", () => render());
        groupEls.set(s.key, g);
      }
      g.querySelector(".group-title").textContent = s.title;
      prevG = putAfter(root, g, prevG);
      const panels = panelsOf(s);
      g.style.flex = `${panels.length} 1 ${Math.min(3, panels.length) * 400}px`;
      const grid = g.querySelector(".chart-grid");
      const open = !s.collapsed || g.open;
      let prevC = null;
      for (const p of panels) {
        const c = ensureChart(p);
        prevC = putAfter(grid, c.el, prevC);
        live.add(p.key);
        if (open && (shown++ < EAGER || c.near)) todo.push([c, p]);
      }
    }
    // New charts' widths read in one pass, after every element is in place: one layout, not
    // one per chart.
    const widths = todo.map(([c]) => (c.plot ? 0 : c.body.clientWidth));
    todo.forEach(([c, p], i) => {
      if (!c.plot) makePlot(c, p, c.series, widths[i]);
      const { data, raw } = chartData(p, c.series);
      c.raw = raw;
      const xs = data[0];
      const b = state.range ? state.range.step : state.bucket || 1;
      c.done = xs.length && !state.range && xs[xs.length - 1] + b > nowS() ? xs.length - 2 : xs.length - 1;
      c.plot.setData(p.stacked ? [data[0], ...data.slice(1).reverse()] : data);
      if (c.plot.cursor.left == null || c.plot.cursor.left < 0) c.plot.setLegend({ idx: null }, false);
      c.el.querySelector(".chart-now").textContent = summary(p);
      c.el.dataset.alert = alerts.kpiLevel(c.ids) || "";
      // Exposed for tests and scripts: the chart's last point.
      const x = data[0];
      const n = x.length;
      c.el.dataset.points = String(n);
      if (n) {
        c.el.dataset.lastT = String(x[n - 1]);
        const v = raw[0]?.[n - 1];
        c.el.dataset.lastV = v == null ? "" : String(v);
      }
    });
    for (const [k, c] of charts) {
      if (!live.has(k)) {
        if (c.plot) c.plot.destroy();
        c.ro.disconnect();
        seen.unobserve(c.el);
        c.el.remove();
        charts.delete(k);
      }
    }
    for (const [k, g] of groupEls) if (!secs.some((s) => s.key === k)) (g.remove(), groupEls.delete(k));
  }

  // For tests and the curious (window.__kpid.charts()).
  function list() {
    return [...charts.entries()].map(([key, c]) => {
      const u = c.plot;
      const cl = u && u.cursor.left != null && u.cursor.left >= 0 ? u.posToVal(u.cursor.left, "x") : null;
      return {
        name: key,
        title: c.title,
        points: Number(c.el.dataset.points || 0),
        lastT: c.el.dataset.lastT ? Number(c.el.dataset.lastT) : null,
        lastV: c.el.dataset.lastV ? Number(c.el.dataset.lastV) : null,
        series: c.series ? c.series.length : 0,
        legend: u ? [...c.el.querySelectorAll(".u-legend .u-series:not(:first-child) .u-value")].map((e) => e.textContent) : [],
        cursorT: cl,
        alert: c.el.dataset.alert || null,
        thresholds: alerts.thresholds(c.ids || []).map((t) => t.v),
        marks: alerts.marks(c.ids || [], ...xRange()).map((t) => ({ at: t.at, rule: t.rule, to: t.to })),
      };
    });
  }

  return { render, list, xRange, esc, num };
}

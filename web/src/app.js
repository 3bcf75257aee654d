// kpid dashboard: one WebSocket (/ws/metrics, see docs/api.md), a header strip of the headline
// KPIs, cards of the latest values and live charts (charts.js) in the sections the server lays
// out (layout.js), health, sources, drops, spans and plugins panels.
// Plain JS, no framework; web/build.mjs bundles it (with its modules) into web/dist/app.js.
import { num, dur, bytes, join, fmt, fmtRate } from "./format.js";
import { labelText } from "./layout.js";
import { cardsView } from "./cards.js";
import { chartsView } from "./charts.js";
import { logViewer } from "./logview.js";
import { flowView } from "./flow.js";
import { traceView } from "./traces.js";
import { rangeBar, stepFor } from "./range.js";

(() => {
  "use strict";

  const MAX_WINDOW_S = 3600; // longest selectable chart window; history kept client-side

  const state = {
    kpis: new Map(), // id -> { id, name, labels, kind, unit, help, latest, h: { t: [], <columns>: [] } }
    health: null,
    offset: 0, // server time - client time, seconds
    bucket: 1,
    interval: 1,
    win: 300,
    range: null, // { from, to, step } while the charts show a range from history
    conn: "connecting",
    frames: 0,
    lastFrame: 0,
    quantile: {}, // chart name -> quantile drawn when a distribution has several label sets
  };

  // The API token, from the link kpid printed at start (?token=...): taken out of the address
  // bar and kept for this tab only (no cookie). Needed beyond loopback, and to change state.
  const TOKEN = (() => {
    const u = new URL(location.href);
    const t = u.searchParams.get("token");
    if (t) {
      try {
        sessionStorage.setItem("kpid-token", t);
      } catch (e) {}
      u.searchParams.delete("token");
      history.replaceState(null, "", u.pathname + u.search + u.hash);
      return t;
    }
    try {
      return sessionStorage.getItem("kpid-token") || "";
    } catch (e) {
      return "";
    }
  })();
  const api = (path) => fetch(path, TOKEN ? { headers: { Authorization: `Bearer ${TOKEN}` } } : undefined);

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const nowS = () => Date.now() / 1000 + state.offset;
  // Alerts panel, toasts, config banner, and each KPI's alert state and thresholds (alerts.js).
  const alerts = window.KpidAlerts({ $, esc, api, token: TOKEN });


  // ---------- store ----------
  const columnsOf = (kind) => (kind === "distribution" ? ["count", "p50", "p95", "p99"] : ["value"]);

  function upsert(e) {
    let k = state.kpis.get(e.id);
    if (!k) {
      k = { id: e.id, name: e.name, labels: e.labels || {}, kind: e.kind, unit: e.unit || "", help: e.help, layout: e.layout, latest: {}, h: { t: [] } };
      for (const c of columnsOf(e.kind)) k.h[c] = [];
      state.kpis.set(e.id, k);
    }
    for (const f of ["name", "labels", "kind", "unit", "help", "layout"]) if (e[f] !== undefined) k[f] = e[f];
    const latest = {};
    for (const [f, v] of Object.entries(e)) if (f !== "history" && f !== "point" && f !== "points" && f !== "labels" && f !== "layout") latest[f] = v;
    k.latest = latest;
    return k;
  }

  // Merge history columns (sorted by t) into a KPI; newer data wins on the same t.
  function mergeHistory(k, hist) {
    if (!hist || !Array.isArray(hist.t)) return;
    const cols = columnsOf(k.kind);
    const rows = new Map();
    k.h.t.forEach((t, i) => rows.set(t, cols.map((c) => k.h[c][i])));
    hist.t.forEach((t, i) => rows.set(t, cols.map((c) => (hist[c] ? hist[c][i] : null))));
    const ts = [...rows.keys()].sort((a, b) => a - b);
    k.h = { t: ts };
    cols.forEach((c, j) => (k.h[c] = ts.map((t) => rows.get(t)[j])));
    prune(k);
  }

  function appendPoint(k, p) {
    if (!p || typeof p.t !== "number") return;
    const h = k.h;
    const n = h.t.length;
    const cols = columnsOf(k.kind);
    if (n && h.t[n - 1] === p.t) {
      for (const c of cols) h[c][n - 1] = p[c] ?? null;
    } else if (!n || p.t > h.t[n - 1]) {
      // Frames carry only the newest bucket: a skipped bucket is fetched back from the history.
      if (n && p.t - h.t[n - 1] > 1.5 * (state.bucket || 1)) heal.set(k.id, Math.min(heal.get(k.id) ?? Infinity, h.t[n - 1]));
      h.t.push(p.t);
      for (const c of cols) h[c].push(p[c] ?? null);
    } else {
      const one = { t: [p.t] };
      for (const c of cols) one[c] = [p[c] ?? null];
      mergeHistory(k, one);
    }
    prune(k);
  }

  const heal = new Map(); // KPI id -> time from which its history is refetched
  let healing = false;
  async function healGaps() {
    if (healing || !heal.size) return;
    healing = true;
    const ids = [...heal.keys()].slice(0, 40);
    const from = Math.min(...ids.map((i) => heal.get(i)));
    ids.forEach((i) => heal.delete(i));
    try {
      const q = ids.map((i) => `kpi=${encodeURIComponent(i)}`).join("&");
      const r = await api(`/api/metrics/history?${q}&from=${Math.floor(from)}&last=${MAX_WINDOW_S}`);
      if (r.ok) {
        const body = await r.json();
        for (const sr of body.series || []) {
          const k = state.kpis.get(sr.id);
          if (k) mergeHistory(k, sr);
        }
        schedule();
      }
    } catch (e) {
      console.warn("kpid: history fetch failed", e);
    } finally {
      healing = false;
      if (heal.size) setTimeout(healGaps, 1000);
    }
  }

  function prune(k) {
    const cut = nowS() - MAX_WINDOW_S - 5;
    let i = 0;
    while (i < k.h.t.length && k.h.t[i] < cut) i++;
    if (i) for (const c of Object.keys(k.h)) k.h[c].splice(0, i);
  }

  // ---------- websocket ----------
  let ws = null;
  let attempts = 0;
  let retryTimer = 0;
  let lastMsgAt = 0;
  let offlineSince = 0;

  function setConn(s, detail) {
    state.conn = s;
    const el = $("conn");
    el.dataset.state = s;
    el.querySelector(".label").textContent = detail ? `${s} · ${detail}` : s;
    document.body.classList.toggle("stale", s !== "live" && state.frames > 0);
  }

  function connect() {
    clearTimeout(retryTimer);
    const proto = location.protocol === "https:" ? "wss" : "ws";
    let sock;
    try {
      const q = TOKEN ? `?token=${encodeURIComponent(TOKEN)}` : "";
      sock = new WebSocket(`${proto}://${location.host}/ws/metrics${q}`);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = () => {
      attempts = 0;
      offlineSince = 0;
      lastMsgAt = Date.now();
      setConn("live");
    };
    sock.onmessage = (ev) => {
      lastMsgAt = Date.now();
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch (e) {
        console.warn("kpid: unparsable frame", e);
        return;
      }
      onFrame(m);
    };
    sock.onclose = () => {
      if (ws === sock) scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (ws) {
      ws.onclose = ws.onmessage = ws.onopen = null;
      try {
        ws.close();
      } catch (e) {}
      ws = null;
    }
    attempts++;
    if (!offlineSince) offlineSince = Date.now();
    const base = Math.min(15000, 500 * 2 ** (attempts - 1));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    const offline = Date.now() - offlineSince > 30000 || !navigator.onLine;
    setConn(offline ? "offline" : "reconnecting", `retry in ${Math.max(1, Math.round(delay / 1000))}s`);
    retryTimer = setTimeout(connect, delay);
    // Refused for want of the token: say so rather than retrying in silence.
    api("/api/health")
      .then((r) => {
        if (r.status === 401) setConn("locked", "this kpid needs its API token: open the link kpid printed at start (…/?token=…)");
      })
      .catch(() => {});
  }

  // Application-level heartbeat: a silent connection (no frame, no pong) is reopened.
  setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - lastMsgAt > 30000) {
      scheduleReconnect();
      return;
    }
    try {
      ws.send(JSON.stringify({ type: "ping" }));
    } catch (e) {}
  }, 10000);
  window.addEventListener("online", () => {
    if (!ws) connect();
  });

  function onFrame(m) {
    if (typeof m.ts === "number") state.offset = m.ts - Date.now() / 1000;
    if (m.type === "snapshot") {
      if (m.interval_ms) state.interval = m.interval_ms / 1000;
      if (m.bucket_s) state.bucket = m.bucket_s;
      const seen = new Set();
      for (const e of m.kpis || []) {
        const k = upsert(e);
        seen.add(k.id);
        if (e.history) mergeHistory(k, e.history);
        if (e.point) appendPoint(k, e.point);
      }
      for (const id of [...state.kpis.keys()]) if (!seen.has(id)) state.kpis.delete(id);
      if (state.win > 300) fetchHistory(state.win);
    } else if (m.type === "update") {
      for (const e of m.kpis || []) {
        const k = upsert(e);
        if (e.history) mergeHistory(k, e.history);
        if (Array.isArray(e.points)) e.points.forEach((p) => appendPoint(k, p));
        if (e.point) appendPoint(k, e.point);
      }
    } else {
      return; // pong and anything unknown
    }
    if (m.health) {
      state.health = m.health;
      alerts.onHealth(m.health);
    }
    if (m.type === "update") healGaps();
    state.frames++;
    state.lastFrame = Date.now();
    schedule();
  }

  // Longer windows than the snapshot's 300 points come from the REST history.
  async function fetchHistory(last) {
    try {
      const r = await api(`/api/metrics/history?last=${last}`);
      if (!r.ok) return;
      const body = await r.json();
      if (body.bucket_s) state.bucket = body.bucket_s;
      for (const s of body.series || []) {
        const k = state.kpis.get(s.id);
        if (k) mergeHistory(k, s);
      }
      schedule();
    } catch (e) {
      console.warn("kpid: history fetch failed", e);
    }
  }

  // ---------- rendering ----------
  let rafPending = false;
  function schedule() {
    if (rafPending) return;
    rafPending = true;
    requestAnimationFrame(() => {
      rafPending = false;
      render();
    });
  }
  // The window slides even when nothing changed.
  setInterval(() => {
    if (document.visibilityState === "visible") renderCharts();
    renderFooter();
  }, 1000);

  function byName() {
    const names = new Map();
    for (const k of state.kpis.values()) {
      if (!names.has(k.name)) names.set(k.name, []);
      names.get(k.name).push(k);
    }
    for (const list of names.values()) list.sort((a, b) => labelText(a.labels).localeCompare(labelText(b.labels)));
    return names;
  }
  function render() {
    const names = byName();
    renderHealth();
    renderPipelineHealth();
    renderSystem(names);
    renderProcesses();
    renderGpuState();
    renderConnections();
    renderDrops();
    cards.render(names);
    renderSpans(names);
    renderCharts(names);
    renderSources();
    renderPlugins();
    renderFooter();
  }

  function renderHealth() {
    const h = state.health;
    const el = $("health");
    const s = h?.status || "unknown";
    el.dataset.status = s;
    el.querySelector(".label").textContent = s === "unknown" ? "health: —" : s === "ok" ? "healthy" : s === "warn" ? "warning" : s;
    if (h) {
      $("host").textContent = `${location.host} · ${h.kpi_count ?? state.kpis.size} KPIs · ${(h.sources || []).length} source${(h.sources || []).length === 1 ? "" : "s"}`;
    }
  }

  // The GPU sampler's state: "gpu: unavailable (reason)" without a GPU; its KPIs are cards.
  function renderGpuState() {
    const el = $("gpu-state");
    const g = (state.health?.samplers?.samplers || []).find((s) => s.name === "gpu");
    el.hidden = !g;
    if (!g) return;
    const un = g.unavailable || [];
    const down = un.length === 1 && un[0].startsWith("gpu: unavailable");
    el.dataset.state = down ? "down" : un.length ? "partial" : "ok";
    el.textContent = down ? un[0] : un.length ? `gpu: ${un.length} figure${un.length === 1 ? "" : "s"} unsupported` : "gpu: sampled";
    el.title = un.join("\n") || "gpu sampled through nvml";
  }

  // The pipeline's health from its alerts (`/api/health` → `pipeline`), beside kpid's own;
  // hidden when no alert rules are configured.
  function renderPipelineHealth() {
    const p = state.health?.pipeline;
    const el = $("pipeline");
    el.hidden = !p?.rules;
    if (el.hidden) return;
    const s = { OK: "ok", WARNING: "warn", CRITICAL: "error" }[p.status] || "unknown";
    el.dataset.status = s;
    const bad = Object.entries(p.kpis || {}).filter(([, v]) => v !== "OK").map(([k, v]) => `${k}: ${v}`);
    el.title = bad.length ? `pipeline ${p.status}\n${bad.join("\n")}` : `pipeline ${p.status}`;
    el.querySelector(".label").textContent = `pipeline: ${p.status.toLowerCase()}`;
  }

  function renderFooter() {
    const h = state.health;
    if (h?.version) $("foot-version").textContent = `kpid ${h.version}`;
    if (h?.uptime_s != null) {
      const up = h.uptime_s + (state.lastFrame ? (Date.now() - state.lastFrame) / 1000 : 0);
      $("foot-uptime").textContent = `up ${join(dur(up))}`;
    }
    if (state.lastFrame) {
      const ago = Math.max(0, Math.round((Date.now() - state.lastFrame) / 1000));
      $("foot-updated").textContent = `updated ${new Date(state.lastFrame).toLocaleTimeString()}${ago > 2 ? ` (${ago}s ago)` : ""}`;
    }
  }

  const human = (k) => k.replace(/_/g, " ");

  function renderDrops() {
    const d = state.health?.drops;
    const el = $("drops");
    if (!d) return;
    const chips = Object.entries(d).map(([k, v]) => {
      const bad = typeof v === "number" && v > 0;
      return `<span class="chip${bad ? " bad" : ""}" data-drop="${esc(k)}" title="${esc(k)}"><span class="chip-k">${esc(human(k))}</span><span class="chip-v">${esc(typeof v === "number" ? num(v) : v)}</span></span>`;
    });
    const anyBad = Object.values(d).some((v) => typeof v === "number" && v > 0);
    el.innerHTML = `<span class="strip-title${anyBad ? " bad" : ""}">Drops</span>${chips.join("")}`;
  }

  // The machine at a glance: CPU per core, memory, load and pressure, disks, network.
  function renderSystem(names) {
    const one = (n) => names.get(n)?.[0]?.latest?.value;
    const all = (n) => names.get(n) || [];
    const panel = $("system-panel");
    panel.hidden = one("host_memory_total_bytes") == null;
    if (panel.hidden) return;
    const bar = (ratio) => {
      const r = Math.max(0, Math.min(1, ratio || 0));
      return `<div class="bar${r > 0.9 ? " bad" : r > 0.75 ? " warn" : ""}"><i style="width:${(r * 100).toFixed(1)}%"></i></div>`;
    };
    const row = (k, ratio, v) => `<div class="sys-row"><span class="k" title="${esc(k)}">${esc(k)}</span>${ratio == null ? "<span></span>" : bar(ratio)}<span class="v">${esc(v)}</span></div>`;
    const pct = (r) => (r == null ? "—" : `${(r * 100).toFixed(r < 0.1 ? 1 : 0)} %`);
    const rate = (k) => fmtRate(k?.latest?.rate || 0, "bytes");
    const boxes = [];
    const cpu = one("host_cpu_utilization_ratio");
    const cores = all("host_cpu_core_utilization_ratio").slice().sort((a, b) => Number(a.labels.cpu) - Number(b.labels.cpu));
    boxes.push(`<div class="sys-box" data-sys="cpu"><h3>CPU</h3>${row("all", cpu, pct(cpu))}${cores.map((k) => row(`cpu ${k.labels.cpu}`, k.latest?.value, pct(k.latest?.value))).join("")}</div>`);
    const mt = one("host_memory_total_bytes");
    const mu = one("host_memory_used_bytes");
    const st = one("host_swap_total_bytes");
    const su = one("host_swap_used_bytes");
    let mem = row("used", mt ? mu / mt : null, `${fmt(mu || 0, "bytes")} of ${fmt(mt, "bytes")}`);
    if (st) mem += row("swap", su / st, `${fmt(su || 0, "bytes")} of ${fmt(st, "bytes")}`);
    const cl = one("host_cgroup_memory_limit_bytes");
    if (cl) mem += row("cgroup", one("host_cgroup_memory_used_bytes") / cl, `${fmt(one("host_cgroup_memory_used_bytes") || 0, "bytes")} of ${fmt(cl, "bytes")}`);
    const cc = one("host_cgroup_cpu_limit_cores");
    if (cc) mem += row("cpu quota", null, `${cc.toFixed(2)} cores`);
    boxes.push(`<div class="sys-box" data-sys="memory"><h3>Memory</h3>${mem}</div>`);
    const load = ["host_load1", "host_load5", "host_load15"].map(one);
    let lp = row("load", null, load.map((l) => (l == null ? "—" : l.toFixed(2))).join(" · "));
    for (const r of ["cpu", "memory", "io"]) {
      const v = one(`host_pressure_${r}_some_ratio`);
      if (v != null) lp += row(`${r} stall`, v, pct(v));
    }
    boxes.push(`<div class="sys-box" data-sys="load"><h3>Load and pressure</h3>${lp}</div>`);
    const used = new Map(all("host_disk_used_bytes").map((k) => [k.labels.mount, k.latest?.value]));
    const reads = new Map(all("host_disk_read_bytes_total").map((k) => [k.labels.mount, k]));
    const writes = new Map(all("host_disk_written_bytes_total").map((k) => [k.labels.mount, k]));
    const disks = all("host_disk_total_bytes")
      .map((k) => row(k.labels.mount, (used.get(k.labels.mount) || 0) / k.latest?.value, `${fmt(used.get(k.labels.mount) || 0, "bytes")} of ${fmt(k.latest?.value, "bytes")}`) + row("", null, `read ${rate(reads.get(k.labels.mount))} · write ${rate(writes.get(k.labels.mount))}`))
      .join("");
    if (disks) boxes.push(`<div class="sys-box" data-sys="disks"><h3>Disks</h3>${disks}</div>`);
    const tx = new Map(all("host_network_transmit_bytes_total").map((k) => [k.labels.interface, k]));
    const nets = all("host_network_receive_bytes_total")
      .map((k) => row(k.labels.interface, null, `↓ ${rate(k)} · ↑ ${rate(tx.get(k.labels.interface))}`))
      .join("");
    if (nets) boxes.push(`<div class="sys-box" data-sys="network"><h3>Network</h3>${nets}</div>`);
    $("system").innerHTML = boxes.join("");
    const pc = one("pipeline_cpu_utilization_ratio");
    const pm = one("pipeline_resident_memory_bytes");
    $("system-sum").textContent = pc == null ? `${cores.length} cores` : `${cores.length} cores · the pipeline: ${pct(pc)} of a core, ${fmt(pm || 0, "bytes")} resident`;
  }

  // The pipeline's processes (process_* KPIs, one row per pid seen in the last 10 s).
  function renderProcesses() {
    const rows = new Map();
    const now = nowS();
    for (const k of state.kpis.values()) {
      if (!k.name.startsWith("process_") || !k.labels?.pid) continue;
      if (k.latest?.t != null && now - k.latest.t > 10) continue;
      const key = k.labels.pid;
      if (!rows.has(key)) rows.set(key, { pid: key, name: k.labels.process || "", gpu: 0 });
      const r = rows.get(key);
      const v = k.kind === "counter" ? k.latest?.rate : k.latest?.value;
      if (k.name === "process_gpu_memory_bytes") r.gpu += v || 0;
      else r[k.name] = v;
    }
    const panel = $("procs-panel");
    panel.hidden = rows.size === 0;
    if (panel.hidden) return;
    const list = [...rows.values()].sort((a, b) => (b.process_cpu_utilization_ratio || 0) - (a.process_cpu_utilization_ratio || 0));
    const cell = (v, unit) => (v == null ? "—" : unit === "cores" ? `${(v * 100).toFixed(0)} %` : unit === "bytes" ? fmt(v, "bytes") : unit === "bytes/s" ? fmtRate(v, "bytes") : num(v));
    const head = `<thead><tr><th>process</th><th class="n">pid</th><th class="n" title="100 % = one core">CPU</th><th class="n">RSS</th><th class="n">threads</th><th class="n">open files</th><th class="n">read</th><th class="n">written</th><th class="n">GPU memory</th></tr></thead>`;
    const body = list
      .map((r) => `<tr data-pid="${esc(r.pid)}"><td class="mono">${esc(r.name)}</td><td class="n">${esc(r.pid)}</td><td class="n">${esc(cell(r.process_cpu_utilization_ratio, "cores"))}</td><td class="n">${esc(cell(r.process_resident_memory_bytes, "bytes"))}</td><td class="n">${esc(cell(r.process_threads))}</td><td class="n">${esc(cell(r.process_open_fds))}</td><td class="n">${esc(cell(r.process_io_read_bytes_total, "bytes/s"))}</td><td class="n">${esc(cell(r.process_io_written_bytes_total, "bytes/s"))}</td><td class="n">${esc(r.gpu ? cell(r.gpu, "bytes") : "—")}</td></tr>`)
      .join("");
    $("procs").innerHTML = head + `<tbody>${body}</tbody>`;
    $("procs-sum").textContent = `${list.length} process${list.length === 1 ? "" : "es"} of the pipeline, sampled every second`;
  }

  // Who is connected, and what was refused or timed out, HTTP side and app socket.
  function renderConnections() {
    const h = state.health;
    const panel = $("conns-panel");
    const http = h?.http;
    const sock = h?.socket;
    panel.hidden = !http;
    if (!http) return;
    const chips = (entries) =>
      entries
        .filter(([, v]) => v > 0)
        .map(([k, v]) => `<span class="chip bad" data-refused="${esc(k)}"><span class="chip-k">${esc(human(k))}</span><span class="chip-v">${esc(num(v))}</span></span>`)
        .join(" ") || `<span class="muted">none</span>`;
    const refused = Object.entries(http).filter(([k]) => /^refused_|timeouts$|^accept_errors$|^ws_too_large$/.test(k)).map(([k, v]) => [k.replace(/^refused_/, ""), v]);
    const rows = [`<tr><td>HTTP</td><td class="n">${esc(num(http.connections_open))}</td><td class="n">${esc(num(http.connections_accepted))}</td><td>${chips(refused)}</td><td class="muted">—</td></tr>`];
    if (sock) {
      const rej = Object.entries(sock.rejected || {});
      const mem = sock.memory_budget ? `${fmt(sock.buffered_bytes || 0, "bytes")} of ${fmt(sock.memory_budget, "bytes")}` : "—";
      rows.push(`<tr><td>app socket</td><td class="n">${esc(num((sock.apps || []).length))}</td><td class="n">${esc(num(sock.connections))}</td><td>${chips(rej)}</td><td>${esc(mem)}</td></tr>`);
    }
    $("conns").innerHTML = `<thead><tr><th>side</th><th class="n">open</th><th class="n">accepted</th><th>refused / timed out</th><th>buffered</th></tr></thead><tbody>${rows.join("")}</tbody>`;
  }

  // ---------- header strip and cards (cards.js) ----------
  const cards = cardsView({ state, alerts, $, esc, nowS });

  // ---------- spans: the server names each span KPI's column (layout.span) ----------
  function renderSpans(names) {
    const panel = $("spans-panel");
    const rows = new Map();
    const keyOf = (labels) => JSON.stringify([labels.app ?? "", labels.span ?? labelText(labels)]);
    for (const ks of names.values()) {
      for (const k of ks) {
        const role = k.layout?.span;
        if (!role) continue;
        const key = keyOf(k.labels);
        if (!rows.has(key)) rows.set(key, { app: k.labels.app ?? "", span: k.labels.span ?? labelText(k.labels) });
        rows.get(key)[role] = k.latest;
      }
    }
    panel.hidden = rows.size === 0;
    if (!rows.size) return;
    const list = [...rows.values()].map((r) => {
      const d = r.duration || {};
      const tot = r.calls || {};
      const err = r.errors || {};
      const rate = tot.rate ?? d.rate ?? null;
      let errPct = null;
      if (tot.rate > 0 && err.rate != null) errPct = (100 * err.rate) / tot.rate;
      else if (tot.total > 0) errPct = (100 * (err.total || 0)) / tot.total;
      return { ...r, rate, d, errPct, total: tot.total ?? d.count ?? null, errors: err.total ?? 0 };
    });
    list.sort((a, b) => (b.rate || 0) - (a.rate || 0) || a.span.localeCompare(b.span));
    const hasApp = list.some((r) => r.app);
    const head = `<thead><tr>${hasApp ? "<th>app</th>" : ""}<th>span</th><th class="n">rate</th><th class="n">p50</th><th class="n">p95</th><th class="n">p99</th><th class="n">calls</th><th class="n">errors</th><th class="n">error %</th></tr></thead>`;
    const body = list
      .map((r) => {
        const ecls = r.errPct > 0 ? (r.errPct >= 5 ? " bad" : " warn") : "";
        return `<tr data-app="${esc(r.app)}" data-span="${esc(r.span)}" title="click: its sampled traces">${hasApp ? `<td>${esc(r.app)}</td>` : ""}<td class="mono">${esc(r.span)}</td><td class="n">${esc(fmtRate(r.rate, ""))}</td><td class="n">${esc(fmt(r.d.p50, "s"))}</td><td class="n">${esc(fmt(r.d.p95, "s"))}</td><td class="n">${esc(fmt(r.d.p99, "s"))}</td><td class="n">${esc(num(r.total))}</td><td class="n${r.errors > 0 ? " warn" : ""}">${esc(num(r.errors))}</td><td class="n${ecls}">${r.errPct == null ? "—" : esc(num(r.errPct)) + "%"}</td></tr>`;
      })
      .join("");
    $("spans").innerHTML = head + `<tbody>${body}</tbody>`;
  }

  // ---------- sources / plugins ----------
  function renderSources() {
    const src = state.health?.sources;
    const t = $("sources");
    if (!src) return;
    if (!src.length) {
      t.innerHTML = `<tbody><tr><td class="muted">no sources: start kpid with --log PATH</td></tr></tbody>`;
      $("sources-sum").textContent = "";
      return;
    }
    const nz = (v, cls = "bad") => (v > 0 ? ` ${cls}` : "");
    const head = `<thead><tr><th>source</th><th>path</th><th>state</th><th class="n">lines</th><th class="n">bytes</th><th class="n">parse errors</th><th class="n">discarded</th><th class="n">truncated loss</th><th class="n" title="files gone before kpid could open them, or compressed rotations">missed files</th><th class="n" title="inotify queue overflows while following (files may have been missed)">event overflows</th><th class="n">rotations</th><th class="n">invalid UTF-8</th><th>last error</th></tr></thead>`;
    const body = src
      .map((s) => {
        const st = String(s.state || "unknown");
        const stc = /error|fail/.test(st) ? "bad" : /follow|ok|tail|read/.test(st) ? "ok" : "warn";
        return `<tr data-source="${esc(s.source)}"><td>${esc(s.source)}</td><td class="mono path" title="${esc(s.path)}">${esc(s.path)}</td><td><span class="pill ${stc}">${esc(st)}</span></td><td class="n">${esc(num(s.lines))}</td><td class="n">${esc(join(bytes(s.bytes ?? 0)))}</td><td class="n${nz(s.parse_errors, "warn")}">${esc(num(s.parse_errors ?? 0))}</td><td class="n${nz(s.discarded_long_lines, "warn")}">${esc(num(s.discarded_long_lines ?? 0))}</td><td class="n${nz(s.truncated_bytes_lost)}">${esc(join(bytes(s.truncated_bytes_lost ?? 0)))}</td><td class="n${nz(s.missed_files)}">${esc(num(s.missed_files ?? 0))}</td><td class="n${nz(s.event_overflows)}">${esc(num(s.event_overflows ?? 0))}</td><td class="n">${esc(num(s.rotations ?? 0))}</td><td class="n${nz(s.invalid_utf8_lines, "warn")}">${esc(num(s.invalid_utf8_lines ?? 0))}</td><td class="err-text${s.last_error ? " bad" : " muted"}" title="${esc(s.last_error || "")}">${esc(s.last_error || "—")}</td></tr>`;
      })
      .join("");
    t.innerHTML = head + `<tbody>${body}</tbody>`;
    const lines = src.reduce((a, s) => a + (s.lines || 0), 0);
    $("sources-sum").textContent = `${src.length} source${src.length === 1 ? "" : "s"} · ${num(lines)} lines`;
  }

  function renderPlugins() {
    const pl = state.health?.plugins;
    const panel = $("plugins-panel");
    panel.hidden = !(Array.isArray(pl) && pl.length);
    if (panel.hidden) return;
    const head = `<thead><tr><th>plugin</th><th>version</th><th class="n">ABI</th><th>status</th><th class="n">lines</th><th class="n">errors</th><th class="n">ns / line</th><th>mode</th><th class="n" title="worker crashes / line timeouts / memory-limit hits / lines with refused output">crashes · timeouts · memory · refused</th><th>last poison line</th><th>path</th></tr></thead>`;
    const body = pl
      .map((p) => {
        const st = p.quarantined ? "quarantined until its file changes" : String(p.status || "unknown");
        const fails = [p.crashes, p.timeouts, p.memory_limit_hits, p.refused_output].map((v) => num(v || 0)).join(" · ");
        const failed = (p.crashes || 0) + (p.timeouts || 0) + (p.memory_limit_hits || 0) + (p.refused_output || 0) > 0;
        const lp = p.last_poison;
        const poison = lp ? `${lp.source || "—"} @ ${lp.offset == null ? "?" : lp.offset}: ${lp.reason}` : "—";
        const stc = /error|fail|reject|disabled|quarantine/.test(st) ? "bad" : /ok|loaded|active|running/.test(st) ? "ok" : "warn";
        return `<tr><td class="mono">${esc(p.name)}</td><td>${esc(p.version)}</td><td class="n">${esc(p.abi)}</td><td><span class="pill ${stc}">${esc(st)}</span></td><td class="n">${esc(num(p.lines))}</td><td class="n${p.errors > 0 ? " warn" : ""}">${esc(num(p.errors))}</td><td class="n">${esc(p.ns_per_line == null ? "—" : num(p.ns_per_line))}</td><td>${esc(p.mode || "—")}</td><td class="n${failed ? " warn" : ""}">${esc(fails)}</td><td class="mono" title="source @ byte offset: reason">${esc(poison)}</td><td class="mono path" title="${esc(p.path)}">${esc(p.path)}</td></tr>`;
      })
      .join("");
    $("plugins").innerHTML = head + `<tbody>${body}</tbody>`;
  }

  // ---------- charts (charts.js) ----------
  const chartsV = chartsView({
    state,
    alerts,
    $,
    esc,
    nowS,
    byName,
    // On a latency chart, the slowest sampled trace near that instant, if any; else the logs.
    onPick: (t, unit) => traces.openAt(t, unit) || logs.openAt(t),
    onBack: () => state.range && range.pick(state.prevRange || null),
    onZoom: (from, to) => {
      state.prevRange = state.range;
      range.pick({ from, to, preset: "zoom" });
    },
  });
  const renderCharts = (names) => chartsV.render(names);
  const xRange = () => chartsV.xRange();

  // ---------- controls ----------
  function effectiveTheme() {
    const t = document.documentElement.dataset.theme;
    if (t === "light" || t === "dark") return t;
    return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  state.themeKey = effectiveTheme();
  function rethemeCharts() {
    state.themeKey = effectiveTheme();
    renderCharts();
  }
  $("theme").addEventListener("click", () => {
    const next = effectiveTheme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("kpid.theme", next);
    } catch (e) {}
    rethemeCharts();
  });
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", rethemeCharts);

  document.querySelectorAll("#window button").forEach((b) =>
    b.addEventListener("click", () => {
      state.win = Number(b.dataset.win);
      if (state.range) range.pick(null);
      document.querySelectorAll("#window button").forEach((x) => x.classList.toggle("on", x === b));
      try {
        localStorage.setItem("kpid.window", String(state.win));
      } catch (e) {}
      if (state.win > 300) fetchHistory(state.win);
      alerts.loadMarks(nowS() - state.win, nowS()).then(renderCharts);
      renderCharts();
    }),
  );
  try {
    const w = Number(localStorage.getItem("kpid.window"));
    if ([60, 300, 900, 3600].includes(w)) {
      state.win = w;
      document.querySelectorAll("#window button").forEach((x) => x.classList.toggle("on", Number(x.dataset.win) === w));
    }
  } catch (e) {}

  // For tests and the curious: window.__kpid.charts() lists each chart's last point.
  window.__kpid = {
    state,
    logs: () => logs.stats(),
    get conn() {
      return state.conn;
    },
    get frames() {
      return state.frames;
    },
    charts: () => chartsV.list(),
  };

  const logs = logViewer({ api, esc, root: $("logs-panel"), token: TOKEN });
  flowView({ api, esc, root: $("flow-panel") });
  const traces = traceView({ api, esc, root: $("traces-panel"), logsAt: logs.openAt });
  $("spans").addEventListener("click", (e) => { const r = e.target.closest("tr[data-span]"); if (r) traces.openSpan(r.dataset.app, r.dataset.span); });

  // ---------- ranges from history ----------
  let rangeSeq = 0;
  async function showRange(r) {
    const seq = ++rangeSeq;
    if (!r) {
      state.range = null;
      state.prevRange = null;
      for (const k of state.kpis.values()) delete k.r;
      renderCharts();
      return;
    }
    const step = stepFor(r.from, r.to, state.bucket);
    try {
      const resp = await api(`/api/metrics/history?from=${Math.floor(r.from)}&to=${Math.ceil(r.to)}&step=${step}`);
      const body = await resp.json();
      if (seq !== rangeSeq) return;
      if (!resp.ok) throw new Error(body.error || `HTTP ${resp.status}`);
      for (const k of state.kpis.values()) k.r = { t: [] };
      for (const sr of body.series || []) {
        const k = state.kpis.get(sr.id);
        if (k) k.r = sr;
      }
      await alerts.loadMarks(r.from, r.to);
      if (seq !== rangeSeq) return;
      state.range = { from: r.from, to: r.to, step: body.step_s || step };
      range.show({ ...r, step: state.range.step });
      renderCharts();
    } catch (e) {
      console.warn("kpid: range fetch failed", e);
      $("range-now").textContent = `history: ${e.message}`;
    }
  }
  const range = rangeBar({ root: $("rangebar"), onChange: showRange, nowS });
  // Export what is on screen: the range, or the live window at its bucket width.
  const span = () => (state.range ? state.range : { from: nowS() - state.win, to: nowS(), step: state.bucket || 1 });
  setInterval(() => range.links(span, TOKEN), 1000);
  range.links(span, TOKEN);
  // The live window's alert marks: what history holds for it, refreshed now and then (the
  // newest come with every health frame).
  const liveMarks = () => state.range || alerts.loadMarks(nowS() - state.win, nowS());
  setInterval(liveMarks, 15000);
  liveMarks();

  connect();
})();

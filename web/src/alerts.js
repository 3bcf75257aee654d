// kpid dashboard, alerts: the alerts panel (active alerts, silences, recent state changes;
// acknowledge and silence with the API token), toasts when an alert fires or resolves, the
// config-error banner, and what cards and charts need (alert state and thresholds per KPI id,
// all resolved by the server in /api/health → pipeline; state changes marked on the time axis,
// from /api/alerts/history). app.js calls window.KpidAlerts(ctx).
(() => {
  "use strict";

  const SILENCE_FOR = ["15m", "1h", "4h", "24h"];
  const TOAST_MS = 8000;
  const MAX_TOASTS = 4;

  window.KpidAlerts = function (ctx) {
    const { $, esc, api, token } = ctx;
    let pipeline = null;
    let seenSeq = null; // newest transition already shown (null until the first health)
    let active = null; // last /api/alerts/active
    let fetching = false;
    let fetchedSeq = -1;
    let note = ""; // the result of the last action

    const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    const at = (t) => (t ? clock.format(new Date(t * 1000)) : "—");
    const ago = (t) => {
      const s = Math.max(0, Date.now() / 1000 - t);
      return s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
    };
    const num = (v) => (v == null ? "—" : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3));
    const levelOf = (state, severity) =>
      state === "firing" ? (severity === "critical" ? "critical" : "warning") : state === "nodata" ? "warning" : state === "pending" ? "pending" : "ok";
    const labelText = (labels, skip) =>
      Object.entries(labels || {})
        .filter(([k]) => !(skip || []).includes(k))
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");

    // ---------- what cards and charts show ----------
    // The worst alert level among `ids` (KPI ids): "critical", "warning" or null.
    function kpiLevel(ids) {
      const m = pipeline?.kpis || {};
      let worst = null;
      for (const id of ids) {
        const l = m[id];
        if (l === "CRITICAL") return "critical";
        if (l === "WARNING") worst = "warning";
      }
      return worst;
    }

    // Thresholds to draw for `ids`: [{ v, level, label }] without repeats; `fmtV` formats a
    // value in the chart's unit.
    function thresholds(ids, fmtV = num) {
      const m = pipeline?.thresholds || {};
      const out = new Map();
      for (const id of ids) {
        for (const t of m[id] || []) {
          const q = /^p\d\d$/.test(t.value) ? `${t.value} ` : "";
          if (t.warn != null) out.set(`w${t.warn}`, { v: t.warn, level: "warning", label: `${q}warn ${fmtV(t.warn)}` });
          if (t.crit != null) out.set(`c${t.crit}`, { v: t.crit, level: "critical", label: `${q}crit ${fmtV(t.crit)}` });
        }
      }
      return [...out.values()];
    }

    // A uPlot draw hook: dashed lines at the thresholds of the chart's KPIs (`idsOf()`).
    function drawHook(idsOf, colors, fmtV) {
      return (u) => {
        const list = thresholds(idsOf(), fmtV);
        if (!list.length) return;
        const c = u.ctx;
        const { left, top, width, height } = u.bbox;
        const dpr = devicePixelRatio || 1;
        c.save();
        c.font = `${Math.round(10 * dpr)}px system-ui, sans-serif`;
        c.textAlign = "right";
        c.setLineDash([6 * dpr, 4 * dpr]);
        c.lineWidth = 1.2 * dpr;
        for (const t of list) {
          const y = Math.round(u.valToPos(t.v, "y", true));
          if (y < top || y > top + height) continue;
          const col = t.level === "critical" ? colors().bad : colors().warn;
          c.strokeStyle = col;
          c.fillStyle = col;
          c.beginPath();
          c.moveTo(left, y);
          c.lineTo(left + width, y);
          c.stroke();
          c.fillText(t.label, left + width - 4 * dpr, y - 4 * dpr);
        }
        c.restore();
      };
    }

    // ---------- alert history on the charts' time axis ----------
    // State changes over the span the charts show: those history stored (/api/alerts/history,
    // fetched when the span changes and every MARKS_EVERY_MS while live) and the newest ones
    // the health frames carry, without repeats.
    let stored = [];
    async function loadMarks(from, to) {
      try {
        const r = await api(`/api/alerts/history?from=${Math.floor(from)}&to=${Math.ceil(to)}&limit=2000`);
        if (r.ok) stored = (await r.json()).events || [];
      } catch (e) {
        console.warn("kpid: alert history fetch failed", e);
      }
    }
    function marks(ids, from, to) {
      const want = new Set(ids);
      const seen = new Set();
      const out = [];
      for (const t of [...stored, ...(active?.recent || []), ...(pipeline?.recent || [])]) {
        if (!want.has(t.kpi) || t.at < from || t.at > to) continue;
        const key = `${t.at}|${t.id}|${t.to}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(t);
      }
      return out.sort((a, b) => a.at - b.at);
    }
    const markLevel = (t) => (t.to === "resolved" || t.to === "inactive" ? "ok" : levelOf(t.to, t.severity));
    const markText = (t) => `${t.rule}: ${t.from} → ${t.to}${t.severity && t.to === "firing" ? ` (${t.severity})` : ""} at ${at(t.at)}${t.value != null ? `, value ${num(t.value)}` : ""}`;

    // A uPlot draw hook: a dotted line and a triangle on the time axis at each state change of
    // the chart's KPIs, in its level's colour; the cursor near one names it (the plot's title).
    function markHook(idsOf, colors) {
      const draw = (u) => {
        const [from, to] = [u.scales.x.min, u.scales.x.max];
        const list = marks(idsOf(), from, to);
        u._kpidMarks = [];
        if (!list.length) return;
        const c = u.ctx;
        const { left, top, width, height } = u.bbox;
        const dpr = devicePixelRatio || 1;
        const col = colors();
        c.save();
        for (const t of list) {
          const x = Math.round(u.valToPos(t.at, "x", true));
          if (x < left || x > left + width) continue;
          const lvl = markLevel(t);
          const stroke = lvl === "critical" ? col.bad : lvl === "warning" ? col.warn : lvl === "ok" ? col.ok : col.muted;
          c.strokeStyle = stroke;
          c.fillStyle = stroke;
          c.globalAlpha = 0.55;
          c.setLineDash([2 * dpr, 3 * dpr]);
          c.lineWidth = 1 * dpr;
          c.beginPath();
          c.moveTo(x, top);
          c.lineTo(x, top + height);
          c.stroke();
          c.globalAlpha = 1;
          const s = 5 * dpr;
          c.beginPath();
          c.moveTo(x, top + height - s * 1.6);
          c.lineTo(x - s, top + height);
          c.lineTo(x + s, top + height);
          c.closePath();
          c.fill();
          u._kpidMarks.push({ x: x / dpr - u.bbox.left / dpr, t });
        }
        c.restore();
      };
      const cursor = (u) => {
        const near = (u._kpidMarks || []).filter((m) => Math.abs(m.x - u.cursor.left) <= 6);
        u.over.title = near.map((m) => markText(m.t)).join("\n");
      };
      return { draw, cursor };
    }

    // ---------- toasts ----------
    function toast(t) {
      const box = $("toasts");
      const lvl = t.to === "resolved" ? "ok" : levelOf(t.to, t.severity);
      const what = t.to === "firing" ? `firing${t.severity ? " · " + t.severity : ""}` : t.to === "nodata" ? "no data" : t.to;
      const el = document.createElement("div");
      el.className = `toast ${lvl}`;
      el.dataset.rule = t.rule;
      el.dataset.to = t.to;
      el.setAttribute("role", "status");
      el.innerHTML = `<div class="toast-head"><b>${esc(t.rule)}</b><span class="pill ${lvl === "ok" ? "ok" : lvl === "critical" ? "bad" : "warn"}">${esc(what)}</span><button class="toast-x" aria-label="dismiss">×</button></div><div class="toast-body">${esc(t.summary || labelText(t.labels, ["alertname"]))}</div><div class="toast-foot muted">${esc(at(t.at))}${t.value != null ? " · value " + esc(num(t.value)) : ""}</div>`;
      el.querySelector(".toast-x").addEventListener("click", () => el.remove());
      box.prepend(el);
      while (box.children.length > MAX_TOASTS) box.lastChild.remove();
      setTimeout(() => el.remove(), TOAST_MS);
    }

    // ---------- the config banner ----------
    function banner(cfg) {
      const el = $("config-banner");
      const err = cfg?.error;
      const restart = cfg?.needs_restart || [];
      el.hidden = !err && !restart.length;
      if (el.hidden) return;
      el.dataset.kind = err ? "error" : "restart";
      el.innerHTML = err
        ? `<b>Config reload refused</b> — the running config stays in force.<div class="mono">${esc(err)}</div>`
        : `<b>Config reloaded</b>, but ${esc(restart.join(", "))} changed and needs a restart to take effect.`;
    }

    // ---------- the panel ----------
    async function refresh() {
      if (fetching) return;
      fetching = true;
      try {
        const r = await api("/api/alerts/active");
        if (r.ok) active = await r.json();
      } catch (e) {
        console.warn("kpid: alerts fetch failed", e);
      } finally {
        fetching = false;
      }
      renderPanel();
    }

    async function post(path, method, body) {
      if (!token) {
        note = "acknowledging and silencing need the API token: open the link kpid printed at start (…/?token=…)";
        renderPanel();
        return;
      }
      const headers = { Authorization: `Bearer ${token}` };
      if (body) headers["Content-Type"] = "application/json";
      try {
        const r = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
        const j = await r.json().catch(() => ({}));
        note = r.ok ? "" : `refused: ${j.error || r.status}`;
      } catch (e) {
        note = `failed: ${e}`;
      }
      refresh();
    }

    function renderPanel() {
      const panel = $("alerts-panel");
      const rules = pipeline?.rules || 0;
      const alerts = active?.alerts || [];
      panel.hidden = !rules && !alerts.length;
      if (panel.hidden) return;
      const firing = alerts.filter((a) => a.state === "firing" || a.state === "nodata").length;
      $("alerts-sum").textContent = `${firing} firing · ${alerts.length - firing} pending · ${rules} rule${rules === 1 ? "" : "s"}${token ? "" : " · read-only (no API token)"}`;
      const order = { critical: 0, warning: 1, pending: 2, ok: 3 };
      alerts.sort((a, b) => order[levelOf(a.state, a.severity)] - order[levelOf(b.state, b.severity)] || a.rule.localeCompare(b.rule));
      const opts = SILENCE_FOR.map((d) => `<option value="${d}">${d}</option>`).join("");
      const dis = token ? "" : ` disabled title="needs the API token"`;
      const rows = alerts.map((a) => {
        const lvl = levelOf(a.state, a.severity);
        const pill = lvl === "critical" ? "bad" : lvl === "pending" ? "" : "warn";
        const flags = `${a.acked ? ' <span class="pill ok">acked</span>' : ""}${a.silenced ? ' <span class="pill">silenced</span>' : ""}`;
        return `<tr data-id="${esc(a.id)}" data-state="${esc(a.state)}"><td><span class="pill ${pill}">${esc(a.state === "firing" ? a.severity || "firing" : a.state)}</span>${flags}</td><td><b>${esc(a.rule)}</b><div class="muted small">${esc(a.annotations?.summary || "")}</div></td><td class="mono small">${esc(labelText(a.labels, ["alertname"]))}</td><td class="n" data-k="value">${esc(num(a.value))}</td><td class="n" data-k="for" title="${esc(at(a.since))}">${esc(ago(a.since))}</td><td class="acts"><button class="btn ack"${dis}${a.acked ? " disabled" : ""}>Ack</button><select class="sil-for" aria-label="silence for"${dis}>${opts}</select><button class="btn silence"${dis}${a.silenced ? " disabled" : ""}>Silence</button></td></tr>`;
      });
      $("alerts-active").innerHTML = rows.length
        ? `<thead><tr><th>state</th><th>alert</th><th>labels</th><th class="n">value</th><th class="n">for</th><th></th></tr></thead><tbody>${rows.join("")}</tbody>`
        : `<tbody><tr><td class="muted">No alert pending or firing: the pipeline is within its thresholds.</td></tr></tbody>`;
      const sil = active?.silences || [];
      $("alerts-silences").innerHTML = sil
        .map((s) => `<span class="chip" data-silence="${s.id}"><span class="chip-k">silenced ${esc(labelText(s.matchers))} until ${esc(at(s.expires_at))}</span><button class="btn unsilence"${dis} aria-label="end silence">end</button></span>`)
        .join(" ");
      const recent = (active?.recent || pipeline?.recent || []).slice(-12).reverse();
      $("alerts-recent").innerHTML = recent
        .map((t) => {
          const lvl = t.to === "resolved" ? "ok" : levelOf(t.to, t.severity);
          return `<li class="${lvl}"><span class="muted">${esc(at(t.at))}</span> <b>${esc(t.rule)}</b> <span class="mono small">${esc(labelText(t.labels, ["alertname"]))}</span> ${esc(t.from)} → <b>${esc(t.to)}</b>${t.value != null ? ` <span class="muted">at ${esc(num(t.value))}</span>` : ""}</li>`;
        })
        .join("");
      $("alerts-recent").closest("details").hidden = !recent.length;
      $("alerts-note").textContent = note;
      $("alerts-note").hidden = !note;
    }

    $("alerts-panel").addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (!b || b.disabled) return;
      const row = b.closest("tr[data-id]");
      if (b.classList.contains("ack") && row) post(`/api/alerts/${encodeURIComponent(row.dataset.id)}/ack`, "POST");
      if (b.classList.contains("silence") && row) {
        const a = (active?.alerts || []).find((x) => x.id === row.dataset.id);
        if (a) post("/api/alerts/silences", "POST", { matchers: a.labels, duration: row.querySelector(".sil-for").value, comment: "from the dashboard" });
      }
      const chip = b.closest("[data-silence]");
      if (b.classList.contains("unsilence") && chip) post(`/api/alerts/silences/${chip.dataset.silence}`, "DELETE");
    });

    // Every health object (each WebSocket frame): header state, banner, toasts, the panel.
    function onHealth(h) {
      pipeline = h?.pipeline || null;
      banner(h?.config);
      const seq = pipeline?.recent_seq ?? 0;
      if (seenSeq === null) seenSeq = seq; // what happened before the page opened is no news
      for (const t of pipeline?.recent || []) {
        if (t.seq > seenSeq && ["firing", "resolved", "nodata"].includes(t.to)) toast(t);
      }
      seenSeq = Math.max(seenSeq, seq);
      if (seq !== fetchedSeq && (pipeline?.rules || active?.alerts?.length)) {
        fetchedSeq = seq;
        refresh();
      } else renderPanel();
    }
    // Durations and silences age without news.
    setInterval(() => {
      if (!$("alerts-panel").hidden && document.visibilityState === "visible") refresh();
    }, 5000);

    return { onHealth, kpiLevel, thresholds, drawHook, markHook, marks, loadMarks };
  };
})();

// The live log viewer: the recent lines of every source from /api/logs, then streamed live
// from /ws/logs (polling while the stream is down; docs/api.md), with follow mode (paused when the reader scrolls up, a "N new lines" badge to come back), level
// chips, a regex filter whose matches are highlighted, jump to a time, export of the filtered
// lines, and `openAt(t)` for charts: the lines around the instant a chart was clicked.

const LEVELS = ["error", "warn", "info", "debug", "trace", "none"];
const MAX_DOM = 2000; // lines kept on the page while following
const POLL_MS = 1000;

export function logViewer({ api, esc, root, token }) {
  const st = {
    source: "",
    levels: new Set(),
    q: "",
    follow: true,
    last: 0, // newest seq received (shown, or counted as pending while paused)
    first: 0, // oldest seq shown
    pending: 0, // new lines while paused
    busy: false,
    more: false,
    streamed: 0, // lines received since the page opened (the benchmark reads it)
    sources: [],
  };
  root.innerHTML = `
    <div class="panel-head"><h2>Logs</h2><span class="muted" id="logs-sum"></span></div>
    <div class="logs-bar">
      <select id="logs-source" aria-label="source"><option value="">all sources</option></select>
      <span class="chips" id="logs-levels">${LEVELS.map((l) => `<button class="chip lv-${l}" data-level="${l}" aria-pressed="false">${l}</button>`).join("")}</span>
      <input id="logs-q" type="search" placeholder="regex filter, e.g. (?i)gpu|timeout" spellcheck="false" aria-label="regex filter">
      <input id="logs-at" type="datetime-local" step="1" aria-label="jump to a time">
      <button class="btn" id="logs-jump" title="show the lines around this time">jump</button>
      <button class="btn on" id="logs-follow" aria-pressed="true" title="follow new lines">follow</button>
      <button class="btn" id="logs-export" title="download the filtered lines">export</button>
    </div>
    <div class="logs-err bad" id="logs-err" hidden></div>
    <div class="logview mono" id="logview" tabindex="0" aria-label="log lines"></div>
    <button class="logs-new" id="logs-new" hidden></button>`;
  const $ = (id) => root.querySelector("#" + id);
  const view = $("logview");

  const params = (extra) => {
    const p = new URLSearchParams();
    if (st.source) p.set("source", st.source);
    if (st.levels.size) p.set("level", [...st.levels].join(","));
    if (st.q) p.set("q", st.q);
    for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
    return p.toString();
  };
  async function get(extra) {
    const r = await api(`/api/logs?${params(extra)}`);
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
    return body;
  }
  const clock = new Intl.DateTimeFormat(undefined, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  function marked(text, hl) {
    if (!hl || !hl.length) return esc(text);
    let out = "";
    let at = 0;
    for (const [a, b] of hl) {
      out += esc(text.slice(at, a)) + "<mark>" + esc(text.slice(a, b)) + "</mark>";
      at = b;
    }
    return out + esc(text.slice(at));
  }
  function row(l) {
    const d = document.createElement("div");
    d.className = `ll lv-${l.level}`;
    d.dataset.seq = l.seq;
    d.dataset.t = l.t;
    const multi = st.sources.length > 1 && !st.source;
    d.innerHTML = `<span class="lt" title="${esc(new Date(l.t * 1000).toISOString())}">${esc(clock.format(new Date(l.t * 1000)))}</span>${multi ? `<span class="ls">${esc(l.source)}</span>` : ""}<span class="ll-lv">${esc(l.level === "none" ? "" : l.level)}</span><span class="lx">${marked(l.text, l.hl)}${l.truncated ? ' <span class="muted">…(cut)</span>' : ""}</span>`;
    return d;
  }
  const atBottom = () => view.scrollHeight - view.scrollTop - view.clientHeight < 24;
  function summary(body) {
    st.sources = body.sources || [];
    const sel = $("logs-source");
    for (const s of st.sources) {
      if (![...sel.options].some((o) => o.value === s.name)) sel.add(new Option(s.name, s.name));
    }
    const ev = st.sources.reduce((a, s) => a + s.evicted, 0);
    const kept = st.sources.reduce((a, s) => a + s.kept, 0);
    $("logs-sum").textContent = `${kept.toLocaleString()} recent lines kept` + (ev ? ` · ${ev.toLocaleString()} older ones rolled out` : "") + (body.untracked ? ` · ${body.untracked} from untracked sources` : "");
  }
  function showError(e) {
    const el = $("logs-err");
    el.hidden = !e;
    el.textContent = e ? `filter: ${e.message}` : "";
  }
  function badge() {
    const b = $("logs-new");
    b.hidden = st.follow || !st.pending;
    b.textContent = `${st.pending.toLocaleString()} new line${st.pending === 1 ? "" : "s"} ↓`;
  }
  function setFollow(on) {
    st.follow = on;
    $("logs-follow").classList.toggle("on", on);
    $("logs-follow").setAttribute("aria-pressed", String(on));
    if (on) st.pending = 0;
    badge();
  }
  function fill(lines, more) {
    view.replaceChildren(...lines.map(row));
    st.first = lines.length ? lines[0].seq : st.last;
    st.last = lines.length ? lines[lines.length - 1].seq : st.last;
    st.more = more;
    if (!lines.length) view.innerHTML = `<div class="muted empty-logs">No line matches.</div>`;
  }
  let reloads = 0;
  async function reload() {
    unstream();
    const my = ++reloads;
    try {
      const body = await get({ limit: 300 });
      if (my !== reloads) return; // filters changed again meanwhile: the newer answer wins
      showError(null);
      summary(body);
      fill(body.lines, body.more);
      if (!body.lines.length) st.last = body.next_seq - 1;
      view.scrollTop = view.scrollHeight;
      setFollow(true);
      stream();
    } catch (e) {
      showError(e);
    }
  }
  // New lines (from the stream or a poll), oldest first: appended while following, counted
  // while paused. Lines already had (a poll and the stream overlapping) are skipped.
  function take(body) {
    summary(body);
    const lines = (body.lines || []).filter((l) => l.seq > st.last);
    if (!lines.length) return;
    if (view.querySelector(".empty-logs")) view.replaceChildren();
    const stick = st.follow && atBottom();
    if (st.follow) {
      const frag = document.createDocumentFragment();
      lines.forEach((l) => frag.appendChild(row(l)));
      view.appendChild(frag);
      while (view.childElementCount > MAX_DOM) view.firstElementChild.remove();
      st.first = Number(view.firstElementChild.dataset.seq);
      if (stick) view.scrollTop = view.scrollHeight;
    } else {
      st.pending += lines.length;
      badge();
    }
    st.last = lines[lines.length - 1].seq;
    st.streamed += lines.length;
  }
  async function poll() {
    if (st.busy || document.hidden || (sock && sock.readyState === WebSocket.OPEN)) return;
    st.busy = true;
    try {
      // Nothing kept yet (next_seq 0): no `after`, which is a sequence number (-1 is refused).
      const my = reloads;
      const body = await get(st.last >= 0 ? { after: st.last, limit: 5000 } : { limit: 5000 });
      // Asked before the filters changed: its lines may not match them.
      if (my === reloads) take(body);
    } catch (e) {
      showError(e);
    } finally {
      st.busy = false;
    }
  }
  // The live stream (/ws/logs, the same filters) from the newest line had; polling stands in
  // while it is down. Filters changed: `reload` restarts it.
  let sock = null;
  let sockFails = 0;
  // Ends the stream; frames it already received are ignored (they match the old filters).
  function unstream() {
    if (!sock) return;
    const s = sock;
    sock = null;
    s.onclose = null;
    s.close();
  }
  function stream() {
    unstream();
    if (sockFails > 5 || typeof WebSocket === "undefined") return;
    const p = new URLSearchParams(params(st.last >= 0 ? { after: st.last } : {}));
    if (token) p.set("token", token);
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const s = new WebSocket(`${proto}://${location.host}/ws/logs?${p}`);
    s.onopen = () => (sockFails = 0);
    s.onmessage = (ev) => {
      if (sock !== s) return;
      try {
        take(JSON.parse(ev.data));
      } catch (e) {
        console.warn("kpid: log stream frame", e);
      }
    };
    s.onclose = () => {
      if (sock !== s) return;
      sock = null;
      sockFails++;
      setTimeout(() => sock || stream(), 1000 * Math.min(sockFails, 10));
    };
    sock = s;
  }
  async function older() {
    if (!st.more || st.busy || !st.first) return;
    st.busy = true;
    try {
      const body = await get({ before: st.first, limit: 300 });
      const h = view.scrollHeight;
      view.prepend(...body.lines.map(row));
      if (body.lines.length) st.first = body.lines[0].seq;
      st.more = body.more;
      view.scrollTop += view.scrollHeight - h;
    } catch (e) {
      showError(e);
    } finally {
      st.busy = false;
    }
  }
  // Lines around instant `t` (Unix seconds): some before it, some after, the nearest marked.
  async function openAt(t) {
    try {
      const [before, after] = await Promise.all([get({ to: t, limit: 100 }), get({ after: 0, from: t, limit: 100 })]);
      showError(null);
      const seen = new Set();
      const lines = [...before.lines, ...after.lines].filter((l) => !seen.has(l.seq) && seen.add(l.seq));
      setFollow(false);
      const newest = st.last;
      fill(lines, before.more);
      st.last = Math.max(newest, st.last);
      const near = [...view.children].find((d) => Number(d.dataset.t) >= t) || view.lastElementChild;
      if (near) {
        near.classList.add("near");
        near.scrollIntoView({ block: "center" });
      }
      root.scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (e) {
      showError(e);
    }
  }
  async function exportLines() {
    const body = await get({ limit: 5000 });
    const text = body.lines.map((l) => `${new Date(l.t * 1000).toISOString()} ${l.source} ${l.text}`).join("\n") + "\n";
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    a.download = `kpid-logs-${new Date().toISOString().replace(/[:.]/g, "-")}.log`;
    document.body.appendChild(a);
    a.click();
    setTimeout(() => {
      URL.revokeObjectURL(a.href);
      a.remove();
    }, 1000);
  }

  view.addEventListener("scroll", () => {
    if (view.scrollTop < 40) older();
    if (atBottom() && !st.follow && !st.pending) return;
    if (!atBottom() && st.follow) setFollow(false);
  });
  $("logs-new").addEventListener("click", reload);
  $("logs-follow").addEventListener("click", () => (st.follow ? setFollow(false) : reload()));
  $("logs-export").addEventListener("click", () => exportLines().catch(showError));
  $("logs-source").addEventListener("change", (e) => {
    st.source = e.target.value;
    reload();
  });
  $("logs-levels").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-level]");
    if (!b) return;
    const l = b.dataset.level;
    st.levels.has(l) ? st.levels.delete(l) : st.levels.add(l);
    b.setAttribute("aria-pressed", String(st.levels.has(l)));
    reload();
  });
  let typing;
  $("logs-q").addEventListener("input", (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      st.q = e.target.value;
      reload();
    }, 300);
  });
  $("logs-jump").addEventListener("click", () => {
    const v = $("logs-at").value;
    if (v) openAt(new Date(v).getTime() / 1000);
  });

  reload();
  setInterval(poll, POLL_MS);
  return { openAt, reload, stats: () => ({ streamed: st.streamed, shown: view.childElementCount, streaming: !!sock && sock.readyState === WebSocket.OPEN }) };
}

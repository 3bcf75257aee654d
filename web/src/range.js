// What the charts show: the live window (the last 1-60 minutes, fed by the WebSocket) or a
// range read from kpid's history (24 h, 7 d, a custom range, or what was dragged on a chart),
// and the export links (CSV, JSON, report) for what is on screen.

const NICE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
// Most points per chart a range asks for.
const MAX_POINTS = 720;

// The history step for a range: the smallest nice step giving at most MAX_POINTS points.
export function stepFor(from, to, bucket) {
  const want = Math.max(bucket || 1, (to - from) / MAX_POINTS);
  return NICE_STEPS.find((s) => s >= want) || 86400;
}

const toLocalInput = (t) => {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
};

// The bar under the header: range buttons, the custom range, and the export links.
// `onChange(range)` gets null for live, or { from, to } in Unix seconds.
export function rangeBar({ root, onChange, nowS }) {
  root.innerHTML = `
    <span class="muted">history</span>
    <div class="seg" id="ranges" role="group" aria-label="history range">
      <button data-range="86400">24h</button>
      <button data-range="604800">7d</button>
      <button data-range="custom">custom</button>
    </div>
    <span class="range-custom" id="range-custom" hidden>
      <input type="datetime-local" id="range-from" aria-label="from"> →
      <input type="datetime-local" id="range-to" aria-label="to">
      <button class="btn" id="range-apply">show</button>
    </span>
    <span class="range-now muted" id="range-now"></span>
    <button class="btn" id="range-live" hidden title="back to the live window">● live</button>
    <span class="range-export">export
      <a class="btn" id="export-csv" download>CSV</a><a class="btn" id="export-json" download>JSON</a><a class="btn" id="export-report" target="_blank" rel="noopener">report</a>
    </span>`;
  const $ = (id) => root.querySelector("#" + id);
  const fmt = new Intl.DateTimeFormat(undefined, { month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });
  let current = null;
  function show(range) {
    current = range;
    root.querySelectorAll("#ranges button").forEach((b) => b.classList.toggle("on", !!range && b.dataset.range === String(range.preset || "")));
    $("range-live").hidden = !range;
    $("range-now").textContent = range ? `${fmt.format(new Date(range.from * 1000))} → ${fmt.format(new Date(range.to * 1000))} · from history, step ${range.step} s` : "";
  }
  function pick(range) {
    show(range);
    onChange(range);
  }
  root.querySelectorAll("#ranges button").forEach((b) =>
    b.addEventListener("click", () => {
      const r = b.dataset.range;
      $("range-custom").hidden = r !== "custom";
      if (r === "custom") {
        const now = nowS();
        $("range-from").value = toLocalInput(now - 3 * 3600);
        $("range-to").value = toLocalInput(now);
        return;
      }
      const to = nowS();
      pick({ from: to - Number(r), to, preset: r });
    }),
  );
  $("range-apply").addEventListener("click", () => {
    const from = new Date($("range-from").value).getTime() / 1000;
    const to = new Date($("range-to").value).getTime() / 1000;
    if (Number.isFinite(from) && Number.isFinite(to) && to > from) pick({ from, to, preset: "custom" });
  });
  $("range-live").addEventListener("click", () => {
    $("range-custom").hidden = true;
    pick(null);
  });
  // Export links follow what is on screen (`span()` gives the live window when not in a range).
  function links(span, token) {
    const { from, to, step } = span();
    const q = `from=${Math.floor(from)}&to=${Math.ceil(to)}&step=${step}` + (token ? `&token=${encodeURIComponent(token)}` : "");
    $("export-csv").href = `/api/export?format=csv&${q}`;
    $("export-json").href = `/api/export?format=json&${q}`;
    $("export-report").href = `/report?${q}`;
  }
  return { show, pick, links, get current() { return current; } };
}

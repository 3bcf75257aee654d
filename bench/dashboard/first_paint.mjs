// First paint, first data and transferred size of the dashboard with ~500 KPIs, in headless
// Chromium (playwright-core, as the browser tests use it).
//
//   cargo build --release && node bench/dashboard/first_paint.mjs target/release/kpid [runs]
//
// Starts kpid on two logfmt logs of 250 numeric fields each (500 auto gauges, plus the
// machine's KPIs), appends a line to each every 250 ms, then opens the page `runs` times (5 by
// default) in a fresh browser profile each, and prints the medians: first contentful paint,
// when the first WebSocket frame (the snapshot) reaches the page, first data (that snapshot
// drawn: every KPI's card, and the charts in view and the first 24; charts further down are
// drawn as they come near the viewport), the bytes transferred for the page and its
// assets, those of the API calls it makes, and the size of the snapshot frame.
import { spawn } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { launch } from "../../tests/browser/chromium.mjs";

const [bin, runsArg] = process.argv.slice(2);
if (!bin) {
  console.error("usage: node bench/dashboard/first_paint.mjs <kpid binary> [runs]");
  process.exit(2);
}
const runs = Number(runsArg || 5);
const FIELDS = 250;
const dir = mkdtempSync(join(tmpdir(), "kpid-bench-dash-"));
const port = await new Promise((ok) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
const line = (src, i) => Array.from({ length: FIELDS }, (_, f) => `${src}_f${String(f).padStart(3, "0")}=${(f + i) % 97}`).join(" ") + "\n";
for (const s of ["a", "b"]) writeFileSync(join(dir, `${s}.log`), line(s, 0));
writeFileSync(
  join(dir, "k.toml"),
  `[tail]\nfrom_start = true\n\n[[source]]\nname = "a"\npath = "a.log"\nparser = "logfmt"\n\n[[source]]\nname = "b"\npath = "b.log"\nparser = "logfmt"\n`,
);
const kpid = spawn(resolve(bin), ["--config", "k.toml", "--state-dir", "state", "--no-socket", "--port", String(port)], { cwd: dir, stdio: "ignore" });
let tick = 0;
const feeder = setInterval(() => {
  tick++;
  for (const s of ["a", "b"]) appendFileSync(join(dir, `${s}.log`), line(s, tick));
}, 250);
const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  const url = `http://127.0.0.1:${port}/`;
  let kpis = 0;
  for (let i = 0; i < 300 && kpis < 2 * FIELDS; i++) {
    await new Promise((r) => setTimeout(r, 100));
    kpis = await fetch(`${url}api/kpis`).then((r) => r.json()).then((b) => b.kpis.length).catch(() => 0);
  }
  if (kpis < 2 * FIELDS) throw new Error(`kpid has ${kpis} KPIs, expected ${2 * FIELDS}`);
  const res = { fcp: [], data: [], bytes: [], snapshot: [], snapAt: [], api: [] };
  for (let r = 0; r < runs; r++) {
    const b = await launch({ width: 1440, height: 900 });
    const cdp = await b.page.context().newCDPSession(b.page);
    await cdp.send("Network.enable");
    let bytes = 0;
    let api = 0;
    let snapshot = 0;
    const kind = new Map();
    cdp.on("Network.responseReceived", (e) => kind.set(e.requestId, e.type));
    cdp.on("Network.loadingFinished", (e) => {
      if (["Document", "Script", "Stylesheet"].includes(kind.get(e.requestId))) bytes += e.encodedDataLength;
      else api += e.encodedDataLength;
    });
    // When the snapshot frame reaches the page (before it is drawn).
    await b.page.addInitScript(() => {
      const WS = window.WebSocket;
      window.WebSocket = function (...a) {
        const s = new WS(...a);
        s.addEventListener("message", () => (window.__snapAt ??= performance.now()));
        return s;
      };
      window.WebSocket.prototype = WS.prototype;
      Object.assign(window.WebSocket, { OPEN: WS.OPEN, CLOSED: WS.CLOSED, CONNECTING: WS.CONNECTING, CLOSING: WS.CLOSING });
    });
    cdp.on("Network.webSocketFrameReceived", (e) => {
      if (!snapshot && e.response.payloadData.startsWith('{"type":"snapshot"')) snapshot = e.response.payloadData.length;
    });
    await b.page.goto(url, { waitUntil: "load" });
    // First data: every KPI has its card, and the charts in view (and the first 24) are drawn.
    const data = await b.page.waitForFunction((n) => window.__kpid && window.__kpid.state.kpis.size >= n && document.querySelectorAll("#cards .card").length >= n && document.querySelectorAll("#charts .chart canvas").length >= 24 && performance.now(), 2 * FIELDS, { timeout: 60_000, polling: "raf" });
    const t = await data.jsonValue();
    const fcp = await b.page.evaluate(() => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null);
    res.snapAt.push(await b.page.evaluate(() => window.__snapAt));
    await b.page.waitForTimeout(2000);
    res.api.push(api);
    res.fcp.push(fcp);
    res.data.push(t);
    res.bytes.push(bytes);
    res.snapshot.push(snapshot);
    await b.close();
  }
  console.log(`KPIs: ${kpis}; runs: ${runs}`);
  console.log(`first contentful paint: ${median(res.fcp).toFixed(0)} ms (runs: ${res.fcp.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`first data (${2 * FIELDS} cards, the charts in view and the first 24 drawn): ${median(res.data).toFixed(0)} ms (runs: ${res.data.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`snapshot frame received: ${median(res.snapAt).toFixed(0)} ms (runs: ${res.snapAt.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`page and assets transferred (HTML, JS, CSS; HTTP, encoded): ${(median(res.bytes) / 1024).toFixed(1)} KiB`);
  console.log(`API responses in the first seconds (logs, flow, alerts...): ${(median(res.api) / 1024).toFixed(1)} KiB`);
  console.log(`WebSocket snapshot frame: ${(median(res.snapshot) / 1024).toFixed(1)} KiB`);
} finally {
  clearInterval(feeder);
  kpid.kill();
  await new Promise((r) => kpid.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}

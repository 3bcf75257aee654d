// Headless Chromium check of the trace waterfall: sends traces to kpid's OTLP/HTTP receiver
// (OTLP/JSON), opens the slowest `checkout` trace from the spans table and checks its bars
// (one per span, nested under its parent, placed by start and sized by duration, the failed
// span red, the hover card with its attributes), then a click on the latency chart opening the
// slowest trace near that instant.
//
//   node tests/browser/traces.mjs 'http://127.0.0.1:PORT/' OTLP_PORT SHOTS
//
// Screenshots (light with the hover card, dark, narrow) go to SHOTS. Exits non-zero with a
// message on any failure.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { launch, problems as watch } from "./chromium.mjs";

const [url, otlpPort, shots] = process.argv.slice(2);
if (!url || !otlpPort || !shots) {
  console.error("usage: node traces.mjs <dashboard url> <otlp port> <screenshot dir>");
  process.exit(2);
}
const fail = (msg) => {
  throw new Error(msg);
};
const step = (msg) => console.log(`[traces] ${msg}`);
const MS = 1_000_000n;
const hex = (n, len) => n.toString(16).padStart(len, "0");

// A trace: [span id, parent id (0: root), name, start ms, duration ms, error, attributes].
async function send(traceId, t0, spans, app = "shop") {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: app } }] },
        scopeSpans: [
          {
            scope: { name: "browser-test" },
            spans: spans.map(([id, parent, name, start, dur, error, attrs = {}]) => ({
              traceId: hex(traceId, 32),
              spanId: hex(id, 16),
              parentSpanId: parent ? hex(parent, 16) : "",
              name,
              startTimeUnixNano: String(t0 + BigInt(start) * MS),
              endTimeUnixNano: String(t0 + BigInt(start + dur) * MS),
              status: error ? { code: 2, message: "failed" } : {},
              attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: typeof v === "number" ? { intValue: String(v) } : { stringValue: v } })),
            })),
          },
        ],
      },
    ],
  };
  const r = await fetch(`http://127.0.0.1:${otlpPort}/v1/traces`, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  if (!r.ok) fail(`POST /v1/traces answered ${r.status}: ${await r.text()}`);
}

// The trace the waterfall is checked against: 120 ms, payment failed.
const SLOW = [
  [1, 0, "checkout", 0, 120, false, { "http.route": "/checkout" }],
  [2, 1, "auth", 2, 10, false],
  [3, 1, "db.query", 15, 40, false, { "db.statement": "SELECT * FROM carts WHERE id = $1" }],
  [4, 3, "db.connect", 15, 5, false],
  [5, 1, "payment", 60, 50, true, { "http.status_code": 502, "peer.service": "payments" }],
  [6, 5, "retry", 85, 20, false],
];
const TREE = [
  ["checkout", 0],
  ["auth", 1],
  ["db.query", 1],
  ["db.connect", 2],
  ["payment", 1],
  ["retry", 2],
];

let browser;
let code = 0;
try {
  mkdirSync(shots, { recursive: true });
  const now = BigInt(Date.now()) * MS;
  await send(0xa1n, now - 3000n * MS, SLOW);
  await send(0xb2n, now - 2000n * MS, [
    [1, 0, "checkout", 0, 60, false],
    [2, 1, "auth", 1, 8, false],
  ]);
  await send(0xc3n, now - 1000n * MS, [[1, 0, "search", 0, 30, false]]);
  step("sent 3 traces");

  browser = await launch({ width: 1440, height: 1300 });
  const { page } = browser;
  const problems = watch(page);
  const wait = (what, fn, arg, ms = 20_000) =>
    page.waitForFunction(fn, arg, { timeout: ms, polling: 100 }).catch(async () => {
      const seen = await page.evaluate(() => `trace ${document.querySelector("#traces-panel")?.dataset.trace}, ${document.querySelectorAll(".wf-row").length} rows, waterfall: ${document.querySelector("#waterfall")?.textContent.slice(0, 200)}`);
      fail(`timed out waiting for ${what} (${seen})`);
    });
  await page.goto(url, { waitUntil: "load", timeout: 30_000 });
  await wait("live", () => document.querySelector("#conn")?.dataset.state === "live");
  await wait("the spans table", () => document.querySelector('#spans tr[data-span="checkout"]'));
  await wait("the traces panel", () => !document.querySelector("#traces-panel").hidden && document.querySelectorAll("#traces-list tr.trace-row").length === 3);
  step("spans table and traces panel shown");

  // From the spans table: the slowest checkout trace.
  // The table re-sorts by rate as data comes: click the row itself, not a position.
  await page.locator('#spans tr[data-span="checkout"] td.mono').dispatchEvent("click");
  await wait("the waterfall of the slowest checkout", (id) => document.querySelector("#traces-panel").dataset.trace === id && document.querySelectorAll(".wf-row").length === 6, hex(0xa1n, 32));
  const listed = await page.$$eval("#traces-list tr.trace-row", (rs) => rs.map((r) => r.dataset.trace));
  if (listed.length !== 2) fail(`the spans table's link lists the ${listed.length} traces of root checkout, want 2`);
  const rows = await page.$$eval(".wf-row", (rs) =>
    rs.map((r) => {
      const track = r.querySelector(".wf-track").getBoundingClientRect();
      const bar = r.querySelector(".wf-bar").getBoundingClientRect();
      return {
        name: r.querySelector(".wf-name").textContent,
        depth: Number(r.dataset.depth),
        indent: parseFloat(getComputedStyle(r.querySelector(".wf-name")).paddingLeft),
        left: (bar.left - track.left) / track.width,
        width: bar.width / track.width,
        err: r.classList.contains("err"),
        color: getComputedStyle(r.querySelector(".wf-bar")).backgroundColor,
      };
    }),
  );
  const bad = await page.evaluate(() => {
    const d = document.createElement("div");
    d.style.color = "var(--bad)";
    document.body.append(d);
    const c = getComputedStyle(d).color;
    d.remove();
    return c;
  });
  rows.forEach((r, i) => {
    const [name, depth] = TREE[i];
    if (r.name !== name || r.depth !== depth) fail(`row ${i}: ${r.name} at depth ${r.depth}, want ${name} at ${depth}`);
    if (i && r.indent <= rows.find((p) => p.depth === depth - 1).indent) fail(`row ${i} (${name}) is not indented under its parent`);
    const [, , , start, dur, error] = SLOW.find((s) => s[2] === name);
    if (Math.abs(r.left - start / 120) > 0.01 || Math.abs(r.width - dur / 120) > 0.01) {
      fail(`${name}: bar at ${r.left.toFixed(3)} wide ${r.width.toFixed(3)}, want ${(start / 120).toFixed(3)} wide ${(dur / 120).toFixed(3)}`);
    }
    if (r.err !== error || (r.color === bad) !== error) fail(`${name}: error ${r.err}, colour ${r.color} (bad is ${bad})`);
  });
  step(`waterfall: ${rows.map((r) => `${"  ".repeat(r.depth)}${r.name}@${(r.left * 120).toFixed(0)}+${(r.width * 120).toFixed(0)}ms`).join(", ")}`);

  await page.hover('.wf-row:has-text("payment") .wf-bar');
  await wait("the hover card", () => {
    const t = document.querySelector("#wf-tip");
    return t && !t.hidden && /payment/.test(t.textContent) && /http\.status_code\s*502/.test(t.textContent) && /peer\.service\s*payments/.test(t.textContent);
  });
  step("hover card: payment, http.status_code 502, peer.service payments");
  // The panel just under the sticky header, the window around it in the picture.
  const shoot = async (name) => {
    await page.evaluate(() => {
      const el = document.querySelector("#traces-panel");
      const head = document.querySelector("header")?.getBoundingClientRect().height || 0;
      window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - head - 12);
    });
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(shots, `${name}.png`) });
  };
  await shoot("traces-light");
  await page.hover('.wf-row:has-text("payment") .wf-bar');
  await page.screenshot({ path: join(shots, "traces-light.png") });

  await page.click("#theme");
  await page.mouse.move(0, 0);
  await shoot("traces-dark");
  await page.click("#theme");
  await page.setViewportSize({ width: 390, height: 1300 });
  await page.waitForTimeout(300);
  await shoot("traces-narrow");
  await page.setViewportSize({ width: 1440, height: 1300 });

  // A click on the latency chart: the slowest sampled trace near that instant (a fresh one,
  // the slowest of all, so that the live window's right edge is near it).
  await send(0xd4n, BigInt(Date.now()) * MS - 300n * MS, [
    [1, 0, "checkout", 0, 200, false],
    [2, 1, "payment", 5, 190, false],
  ]);
  await wait("the fresh trace listed", (id) => document.querySelector(`#traces-list tr[data-trace="${id}"]`), hex(0xd4n, 32));
  const over = page.locator('#charts .chart[data-kpi="span_duration_seconds"] .u-over').first();
  await over.scrollIntoViewIfNeeded();
  await page.waitForTimeout(1500);
  const box = await over.boundingBox();
  if (!box) fail("no latency chart");
  await page.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
  await wait("the chart click's trace", (id) => document.querySelector("#traces-panel").dataset.trace === id && document.querySelectorAll(".wf-row").length === 2, hex(0xd4n, 32));
  step("latency chart click opened the slowest trace near that instant");

  if (problems.length) fail(`page problems:\n${problems.join("\n")}`);
  step("ok");
} catch (e) {
  console.error(`[traces] FAIL: ${e.message}`);
  code = 1;
} finally {
  await browser?.close();
}
process.exit(code);

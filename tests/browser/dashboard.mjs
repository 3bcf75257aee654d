// Headless Chromium check of the kpid dashboard.
//
//   node tests/browser/dashboard.mjs http://127.0.0.1:8050/ target/screenshots/dashboard.png
//
// Opens the dashboard, waits for the connection indicator to say "live", checks that cards,
// charts, the health badge, the drops strip and the sources panel rendered, records every
// chart's last data point, waits until one of them changes, toggles the theme, checks the
// console stayed clean and saves a 1440x900 screenshot. Exits non-zero with a message on any
// failure. The browser is Debian's /usr/bin/chromium (override with KPID_CHROMIUM).
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { launch, problems as watch } from "./chromium.mjs";

const [url, shot] = process.argv.slice(2);
if (!url || !shot) {
  console.error("usage: node dashboard.mjs <dashboard url> <screenshot.png>");
  process.exit(2);
}
const fail = (msg) => {
  throw new Error(msg);
};
const step = (msg) => console.log(`[dashboard] ${msg}`);

let browser;
let code = 0;
try {
  browser = await launch({ width: 1440, height: 900 });
  const { page } = browser;
  const problems = watch(page);

  step(`open ${url}`);
  const resp = await page.goto(url, { waitUntil: "load", timeout: 30_000 });
  if (!resp || !resp.ok()) fail(`GET ${url} answered ${resp ? resp.status() : "nothing"}`);

  await page
    .waitForSelector('#conn[data-state="live"]', { timeout: 20_000 })
    .catch(async () => fail(`connection indicator never said live (it says: ${await page.textContent("#conn").catch(() => "?")})`));
  step("connection indicator: live");

  await page
    .waitForFunction(() => document.querySelectorAll("#cards .card").length > 0, null, { timeout: 20_000 })
    .catch(() => fail("no KPI card rendered within 20 s"));
  await page
    .waitForFunction(() => (window.__kpid?.charts() || []).some((c) => c.points > 1) && document.querySelector("#charts .chart canvas"), null, { timeout: 20_000 })
    .catch(() => fail("no chart with data rendered within 20 s"));
  const cards = await page.locator("#cards .card").count();
  const charts = await page.locator("#charts .chart canvas").count();
  step(`${cards} cards, ${charts} charts`);

  const health = await page.getAttribute("#health", "data-status");
  if (!["ok", "warn", "error"].includes(health)) fail(`health badge not set (data-status=${health})`);
  const chips = await page.locator("#drops .chip").count();
  if (chips < 1) fail("drops strip is empty");
  const sources = await page.locator("#sources tbody tr").count();
  if (sources < 1) fail("sources panel is empty");
  const conns = await page.locator("#conns tbody tr").allInnerTexts();
  if (!conns.some((r) => r.startsWith("HTTP"))) fail(`connections panel has no HTTP row: ${JSON.stringify(conns)}`);
  step(`health ${health}, ${chips} drop counters, ${sources} source rows, connections ${JSON.stringify(conns)}`);

  const before = await page.evaluate(() => window.__kpid.charts());
  step(`recorded ${before.length} charts' last points; waiting for one to change`);
  const changed = await page
    .waitForFunction(
      (prev) => {
        const old = new Map(prev.map((c) => [c.name, c]));
        for (const c of window.__kpid.charts()) {
          const o = old.get(c.name);
          if (o && c.lastT != null && (c.lastT !== o.lastT || c.lastV !== o.lastV)) return { name: c.name, from: [o.lastT, o.lastV], to: [c.lastT, c.lastV] };
        }
        return false;
      },
      before,
      { timeout: 20_000, polling: 250 },
    )
    .then((h) => h.jsonValue())
    .catch(() => fail("no chart's last data point changed within 20 s"));
  step(`chart ${changed.name}: last point (t=${changed.from[0]}, v=${changed.from[1]}) -> (t=${changed.to[0]}, v=${changed.to[1]})`);

  // The pipeline flow: the demo's frame span heads its four stages, in the order they run.
  await page
    .waitForFunction(() => document.querySelectorAll("#flow .chain .stage").length >= 4, null, { timeout: 20_000 })
    .catch(() => fail("the pipeline flow shows no chain of stages within 20 s"));
  const flow = await page.evaluate(() => ({
    head: document.querySelector("#flow .stage.head .stage-name")?.textContent,
    chain: [...document.querySelectorAll("#flow .flow-row > .chain > .node > .stage .stage-name")].map((e) => e.textContent),
    rates: [...document.querySelectorAll("#flow .stage-figs b")].map((e) => e.textContent),
  }));
  if (flow.head !== "frame" || flow.chain.join(">") !== "capture>preprocess>infer>postprocess") fail(`flow: ${JSON.stringify(flow)}`);
  if (!flow.rates.some((r) => /\/s$/.test(r) && parseFloat(r) > 0)) fail(`flow shows no rate: ${JSON.stringify(flow.rates)}`);
  step(`flow: ${flow.head} ⊃ ${flow.chain.join(" → ")}`);

  // The demo app's spans come over the socket with ids (protocol 2): the spans table opens
  // the sampled frames, and a frame's waterfall nests its four stages under it.
  await page.locator('#spans tr[data-span="frame"] td.mono').first().dispatchEvent("click");
  await page
    .waitForFunction(() => document.querySelectorAll("#traces-list tr.trace-row").length > 0 && document.querySelectorAll(".wf-row").length === 5, null, { timeout: 20_000 })
    .catch(() => fail("no waterfall of a demo frame within 20 s of a click on its span row"));
  const wf = await page.$$eval(".wf-row", (rs) => rs.map((r) => `${r.dataset.depth}:${r.querySelector(".wf-name").textContent}`));
  if (wf.join(",") !== "0:frame,1:capture,1:preprocess,1:infer,1:postprocess") fail(`demo waterfall: ${wf.join(", ")}`);
  step(`waterfall of a demo frame: ${wf.join(", ")}`);

  // The log viewer: live lines, a level chip, a regex with highlights, pause on scroll with
  // the "N new lines" badge, and a click on a chart opening the lines around that instant.
  await page
    .waitForFunction(() => document.querySelectorAll("#logview .ll").length > 5, null, { timeout: 20_000 })
    .catch(() => fail("the log viewer shows no lines within 20 s"));
  await page.click('#logs-levels button[data-level="warn"]');
  // The demo's WARN lines (a dropped frame) come every few seconds to half a minute.
  await page
    .waitForFunction(() => {
      const rows = [...document.querySelectorAll("#logview .ll")];
      return rows.length > 0 && rows.every((r) => r.classList.contains("lv-warn"));
    }, null, { timeout: 45_000 })
    .catch(() => fail("the warn chip did not leave only warn lines"));
  await page.fill("#logs-q", "queue_depth=\\d+");
  await page
    .waitForFunction(() => {
      const rows = [...document.querySelectorAll("#logview .ll")];
      return rows.length > 0 && rows.every((r) => /queue_depth=\d+/.test(r.querySelector("mark")?.textContent || ""));
    }, null, { timeout: 10_000 })
    .catch(() => fail("the regex filter did not highlight queue_depth=N in every line"));
  await page.click('#logs-levels button[data-level="warn"]');
  await page.fill("#logs-q", "");
  await page.waitForTimeout(800);
  await page.evaluate(() => {
    const v = document.getElementById("logview");
    v.scrollTop = 0;
    v.dispatchEvent(new Event("scroll"));
  });
  await page
    .waitForFunction(() => !document.getElementById("logs-new").hidden && /new line/.test(document.getElementById("logs-new").textContent), null, { timeout: 15_000 })
    .catch(() => fail("scrolled up: no 'new lines' badge appeared"));
  const badge = await page.textContent("#logs-new");
  await page.click("#logs-new");
  await page
    .waitForFunction(() => document.getElementById("logs-follow").getAttribute("aria-pressed") === "true", null, { timeout: 10_000 })
    .catch(() => fail("the badge did not resume following"));
  const over = page.locator("#charts .chart .u-over").first();
  await over.scrollIntoViewIfNeeded();
  const box = await over.boundingBox();
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5);
  await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page
    .waitForFunction(() => document.querySelector("#logview .ll.near"), null, { timeout: 10_000 })
    .catch(() => fail("a click on a chart did not open the log lines around that instant"));
  const near = await page.evaluate(() => Number(document.querySelector("#logview .ll.near").dataset.t));
  step(`log viewer: warn chip, regex highlight, paused with "${badge}", chart click opened lines at t=${near}`);
  await page.click("#logs-follow");

  // Theme toggle round trip: charts are rebuilt with the other palette, then restored.
  const theme0 = await page.evaluate(() => document.documentElement.dataset.theme || "auto");
  await page.click("#theme");
  const theme1 = await page.evaluate(() => document.documentElement.dataset.theme);
  if (!theme1 || theme1 === theme0) fail(`theme toggle did nothing (${theme0} -> ${theme1})`);
  await page.waitForTimeout(300);
  await page.click("#theme");
  await page.evaluate(() => {
    delete document.documentElement.dataset.theme;
    localStorage.removeItem("kpid.theme");
  });
  step(`theme toggle: ${theme0} -> ${theme1} -> back`);

  // Let the charts fill (15 s of points, at most 40 s of waiting), then take the picture.
  await page
    .waitForFunction(() => Math.max(...window.__kpid.charts().map((c) => c.points)) >= 15, null, { timeout: 40_000, polling: 500 })
    .catch(() => step("charts still short of 15 points; taking the screenshot anyway"));
  await page.waitForTimeout(500);
  if ((await page.getAttribute("#conn", "data-state")) !== "live") fail("connection dropped during the test");
  mkdirSync(dirname(resolve(shot)), { recursive: true });
  await page.screenshot({ path: shot, fullPage: false });
  step(`screenshot saved to ${shot}`);

  if (problems.length) fail(`the page reported problems:\n  ${problems.join("\n  ")}`);
  step("ok");
} catch (e) {
  console.error(`[dashboard] FAIL: ${e.message}`);
  code = 1;
} finally {
  if (browser) await browser.close();
}
process.exit(code);

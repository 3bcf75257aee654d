// Headless Chromium check of the dashboard's layout and charts.
//
//   node tests/browser/layout.mjs default 'http://127.0.0.1:PORT/' SHOTS
//   node tests/browser/layout.mjs config 'http://127.0.0.1:PORT/?token=T' SHOTS DIR
//
// `default` (against `kpid demo`): the header strip (throughput in and out, end-to-end latency
// p95, health), sections in the pipeline's order with kpid's own counters collapsed, legends
// with values without hover, a cursor synced across charts, a chart's CSV and PNG, drag to
// zoom and double-click back, and screenshots at 1440 px and 390 px, light and dark.
// `config` (against kpid following DIR/app.log with DIR/k.toml's [dashboard]): the panels,
// sections, stacking and header strip the config sets, and a reload of the section followed
// live. Exits non-zero with a message on any failure.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launch, problems as watch } from "./chromium.mjs";

const [mode, url, shots, dir] = process.argv.slice(2);
if (!["default", "config"].includes(mode) || !url || !shots || (mode === "config" && !dir)) {
  console.error("usage: node layout.mjs default|config <dashboard url> <screenshot dir> [dir]");
  process.exit(2);
}
const fail = (msg) => {
  throw new Error(msg);
};
const step = (msg) => console.log(`[layout] ${msg}`);

let browser;
let code = 0;
let feeder = null;
try {
  mkdirSync(shots, { recursive: true });
  browser = await launch({ width: 1440, height: 1000 });
  const { page } = browser;
  const problems = watch(page);
  const wait = (what, fn, arg, ms = 30_000) =>
    page.waitForFunction(fn, arg, { timeout: ms, polling: 200 }).catch(() => fail(`timed out waiting for ${what}`));
  if (mode === "config") {
    let i = 0;
    feeder = setInterval(() => appendFileSync(join(dir, "app.log"), `reqs_in=${10 + (i % 3)} reqs_out=${8 + (i++ % 2)} gpu_util=${50 + (i % 7)} gpu_temp_c=61\n`), 200);
  }
  await page.goto(url, { waitUntil: "load", timeout: 30_000 });
  await wait("live", () => document.querySelector("#conn")?.dataset.state === "live");
  const headline = () => page.evaluate(() => [...document.querySelectorAll("#headline .tile")].map((t) => t.dataset.kpi));
  const groups = (root) => page.evaluate((r) => [...document.querySelectorAll(`#${r} > [data-group]`)].map((g) => g.dataset.group), root);

  if (mode === "default") {
    await wait("the header strip", () => document.querySelectorAll("#headline .tile").length >= 4);
    const h = await headline();
    if (h.slice(0, 3).join() !== "frames_in_per_second,frames_out_per_second,e2e_latency_seconds" || h.at(-1) !== "health") fail(`header strip: ${h}`);
    step(`header strip: ${h.join(", ")}`);
    await wait("the latency and queue sections", () => document.querySelector('#cards [data-group="queues"]') && document.querySelector('#charts [data-group="latency"]'));
    const cg = await groups("cards");
    const want = ["throughput", "latency", "queues", "errors", "resources", "other", "kpid"].filter((g) => cg.includes(g));
    if (cg.join() !== want.join() || !cg.includes("throughput") || !cg.includes("kpid")) fail(`card sections out of order: ${cg}`);
    if (cg.includes("system") || cg.includes("spans")) fail(`the machine's or the spans' KPIs are cards: ${cg}`);
    const kpid = await page.evaluate(() => {
      const g = document.querySelector('#cards [data-group="kpid"]');
      return { tag: g.tagName, open: g.open, has: !!g.querySelector('[data-kpi="log_lines_total"]') };
    });
    if (kpid.tag !== "DETAILS" || kpid.open || !kpid.has) fail(`kpid's section is not collapsed with its counters: ${JSON.stringify(kpid)}`);
    const titles = await page.evaluate(() => document.querySelector('#cards .card[data-kpi="e2e_latency_seconds"] .card-name').textContent);
    if (titles !== "End-to-end latency of each frame") fail(`card title from the help text: ${titles}`);
    step(`sections: ${cg.join(" → ")}; kpid collapsed`);
    // The order holds while KPIs come and go: the same sections, the same cards, a few seconds on.
    const cards0 = await page.evaluate(() => [...document.querySelectorAll("#cards .card")].map((c) => c.dataset.kpi));
    await page.waitForTimeout(3000);
    const cards1 = await page.evaluate(() => [...document.querySelectorAll("#cards .card")].map((c) => c.dataset.kpi));
    const kept = cards1.filter((c) => cards0.includes(c));
    if (kept.join() !== cards0.filter((c) => cards1.includes(c)).join()) fail(`cards moved:\n${cards0}\n${cards1}`);

    // Legends show the current values with no cursor over any chart.
    await wait("charts with points", () => window.__kpid.charts().filter((c) => c.points > 5).length > 3);
    await page.mouse.move(2, 2);
    const legends = await page.evaluate(() => window.__kpid.charts().filter((c) => c.points > 5).map((c) => [c.name, c.legend]));
    const empty = legends.filter(([, l]) => !l.length || l.some((v) => !v || v === "—"));
    if (empty.length) fail(`legends without values: ${JSON.stringify(empty.slice(0, 3))}`);
    step(`${legends.length} legends with current values, e.g. ${legends[0][0]}: ${legends[0][1].join(" ")}`);

    // Hover one chart: the others show the same instant.
    const a = page.locator('#charts .chart[data-kpi="frames_in_per_second"] .u-over');
    await a.scrollIntoViewIfNeeded();
    const box = await a.boundingBox();
    // A live chart rebuilt between the move and the look (a new label set) has its cursor back
    // at the next move: up to three moves, every chart synced on one of them.
    let sync, off;
    for (let i = 0; i < 3; i++) {
      await page.mouse.move(box.x + box.width * (0.6 + i * 0.05), box.y + box.height * 0.5);
      await page.waitForTimeout(200);
      sync = await page.evaluate(() => {
        const all = window.__kpid.charts();
        const src = all.find((c) => c.name === "frames_in_per_second");
        return { t: src.cursorT, others: all.filter((c) => c.name !== src.name && c.points > 0).map((c) => [c.name, c.cursorT]) };
      });
      off = sync.others.filter(([, t]) => t == null || Math.abs(t - sync.t) > 1);
      if (sync.t != null && !off.length) break;
    }
    if (sync.t == null) fail("no cursor on the hovered chart");
    if (!sync.others.length || off.length) fail(`cursors not synced at t=${sync.t}: ${JSON.stringify(off.slice(0, 4))}`);
    step(`cursor at ${sync.t.toFixed(1)} on ${sync.others.length + 1} charts`);

    // A chart's data as CSV, its picture as PNG.
    const chart = page.locator('#charts .chart[data-kpi="e2e_latency_seconds"]');
    await chart.scrollIntoViewIfNeeded();
    const [csv] = await Promise.all([page.waitForEvent("download"), chart.locator(".chart-csv").click()]);
    const text = readFileSync(await csv.path(), "utf8").trim().split("\n");
    if (csv.suggestedFilename() !== "e2e_latency_seconds.csv" || text[0] !== "time,p50,p95,p99" || text.length < 6) fail(`CSV: ${csv.suggestedFilename()}: ${text.slice(0, 3).join(" | ")}`);
    // Every row has its time; a bucket with no observation (the one in progress, a gap) has
    // empty values: the check reads the last row with a p95.
    if (!text.slice(1).every((r) => /^\d{4}-\d\d-\d\dT/.test(r))) fail(`CSV rows without a time: ${text.slice(1, 4).join(" | ")}`);
    const valued = text.slice(1).filter((r) => r.split(",")[2] !== "");
    const row = (valued.at(-1) || "").split(",");
    if (valued.length < 5 || !(Number(row[2]) > 0 && Number(row[2]) < 1)) fail(`CSV: ${valued.length} rows with a p95, the last: ${valued.at(-1)}`);
    const [png] = await Promise.all([page.waitForEvent("download"), chart.locator(".chart-png").click()]);
    const img = readFileSync(await png.path());
    if (png.suggestedFilename() !== "e2e_latency_seconds.png" || img.readUInt32BE(0) !== 0x89504e47 || img.length < 5000) fail(`PNG: ${png.suggestedFilename()}, ${img.length} bytes`);
    step(`CSV: ${text.length - 1} rows (${text[1]}); PNG: ${img.length} bytes`);

    // Drag to zoom, double-click back.
    const over = chart.locator(".u-over");
    const ob = await over.boundingBox();
    await page.mouse.move(ob.x + ob.width * 0.3, ob.y + ob.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(ob.x + ob.width * 0.7, ob.y + ob.height * 0.5, { steps: 8 });
    await page.mouse.up();
    await wait("the zoomed range", () => window.__kpid.state.range != null);
    const r = await page.evaluate(() => window.__kpid.state.range);
    step(`zoomed to ${(r.to - r.from).toFixed(0)} s`);
    await over.dblclick({ position: { x: ob.width * 0.5, y: ob.height * 0.5 } });
    await wait("back to live", () => window.__kpid.state.range == null);
    step("double-click: back to live");

    for (const [w, theme] of [[1440, "light"], [1440, "dark"], [390, "light"], [390, "dark"]]) {
      await page.setViewportSize({ width: w, height: w > 800 ? 1000 : 844 });
      await page.evaluate((t) => {
        document.documentElement.dataset.theme = t;
      }, theme);
      await page.click("#theme");
      await page.click("#theme");
      await page.evaluate(() => scrollTo(0, 0));
      await page.mouse.move(1, 1);
      await page.waitForTimeout(600);
      await page.screenshot({ path: join(shots, `layout-${w}-${theme}.png`), fullPage: false });
      // The latency charts, under the sticky top bar.
      await page.evaluate(() => {
        const g = document.querySelector('#charts [data-group="latency"]');
        scrollTo(0, g.getBoundingClientRect().top + scrollY - document.querySelector(".topbar").offsetHeight - 8);
      });
      await page.waitForTimeout(300);
      await page.screenshot({ path: join(shots, `layout-charts-${w}-${theme}.png`), fullPage: false });
    }
    step("screenshots: layout-{1440,390}-{light,dark}.png, layout-charts-*.png");
  } else {
    await wait("the config's header strip", () => document.querySelectorAll("#headline .tile").length >= 3);
    const h = await headline();
    if (h.join() !== "reqs_out,gpu_util_percent,health") fail(`header strip: ${h}`);
    await wait("both panels", () => ["panel:Load", "panel:GPU"].every((k) => window.__kpid.charts().some((c) => c.name === k && c.series === 2 && c.points > 2)));
    const cg = await groups("charts");
    if (cg.slice(0, 2).join() !== "panel:Panels,panel:Hardware") fail(`config sections first, in the file's order: ${cg}`);
    const load = await page.evaluate(() => {
      const c = window.__kpid.charts().find((x) => x.name === "panel:Load");
      const g = document.querySelector('#charts [data-group="panel:Hardware"] .group-title').textContent;
      return { title: c.title, legend: c.legend, section: g };
    });
    if (load.title !== "Load" || load.section !== "Hardware" || load.legend.length !== 2) fail(`panels: ${JSON.stringify(load)}`);
    // Stacked: the legend shows each series' own value, not the running sum.
    if (load.legend.some((v) => Number(v) > 12)) fail(`stacked legend shows sums: ${load.legend}`);
    step(`panels Load (stacked, ${load.legend.join(" / ")}) and GPU in ${cg.slice(0, 2).join(", ")}`);
    await page.screenshot({ path: join(shots, "layout-config.png"), fullPage: false });
    // Reload: a renamed panel follows without a page reload.
    const cfg = readFileSync(join(dir, "k.toml"), "utf8").replace('title = "GPU"', 'title = "Accelerator"');
    writeFileSync(join(dir, "k.toml.new"), cfg);
    (await import("node:fs")).renameSync(join(dir, "k.toml.new"), join(dir, "k.toml"));
    await wait("the renamed panel", () => window.__kpid.charts().some((c) => c.name === "panel:Accelerator" && c.series === 2) && !window.__kpid.charts().some((c) => c.name === "panel:GPU"));
    step("config reload: panel GPU renamed Accelerator, live");
  }
  if (problems.length) fail(`the page reported problems:\n  ${problems.join("\n  ")}`);
  step("ok");
} catch (e) {
  console.error(`[layout] FAIL: ${e.message}`);
  code = 1;
} finally {
  if (feeder) clearInterval(feeder);
  if (browser) await browser.close();
}
process.exit(code);

// Headless Chromium check of the dashboard's alerts: the panel, a toast when an alert fires
// and when it resolves, the card, chart and header colours, threshold lines, acknowledge and
// silence (with the token from the address, kept in sessionStorage), the config-error banner.
//
//   node tests/browser/alerts.mjs 'http://127.0.0.1:PORT/?token=T' DIR SHOTS
//
// DIR holds kpid's config (k.toml) and the log it follows (app.log): the script writes lines
// that cross the thresholds, and an invalid config. Screenshots (light, dark, narrow) go to
// SHOTS. Exits non-zero with a message on any failure.
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { launch, problems as watch } from "./chromium.mjs";

const [url, dir, shots] = process.argv.slice(2);
if (!url || !dir || !shots) {
  console.error("usage: node alerts.mjs <dashboard url> <dir> <screenshot dir>");
  process.exit(2);
}
const fail = (msg) => {
  throw new Error(msg);
};
const step = (msg) => console.log(`[alerts] ${msg}`);
const log = (lines) => appendFileSync(join(dir, "app.log"), lines);

let browser;
let code = 0;
try {
  browser = await launch({ width: 1440, height: 1100 });
  const { page } = browser;
  const problems = watch(page);
  const wait = (what, fn, arg, ms = 20_000) =>
    page.waitForFunction(fn, arg, { timeout: ms, polling: 100 }).catch(() => fail(`timed out waiting for ${what}`));

  step(`open ${url.replace(/token=[^&]+/, "token=…")}`);
  await page.goto(url, { waitUntil: "load", timeout: 30_000 });
  await wait("live", () => document.querySelector("#conn")?.dataset.state === "live");
  if (new URL(page.url()).searchParams.has("token")) fail("the token stayed in the address bar");
  log("temp=20\n");
  await wait("the alerts panel", () => !document.querySelector("#alerts-panel").hidden);
  await wait("the pipeline badge", () => document.querySelector("#pipeline")?.dataset.status === "ok");
  step("panel shown, pipeline ok");

  // Cross the critical threshold: a toast, the panel row, the colours, the badge.
  log("temp=95\n");
  await wait("a firing toast", () => document.querySelector('#toasts .toast[data-rule="TempHigh"][data-to="firing"]'));
  await wait("the firing row", () => document.querySelector('#alerts-active tr[data-state="firing"]'));
  await wait("the critical card", () => document.querySelector('#cards .card[data-kpi="temp"]')?.dataset.alert === "critical");
  await wait("the critical chart with its thresholds", () => {
    const c = window.__kpid.charts().find((x) => x.name === "temp");
    return c && c.alert === "critical" && c.thresholds.includes(70) && c.thresholds.includes(90);
  });
  await wait("the critical badge", () => document.querySelector("#pipeline")?.dataset.status === "error");
  await wait("the firing mark on the chart's time axis", () =>
    window.__kpid.charts().find((x) => x.name === "temp")?.marks.some((m) => m.rule === "TempHigh" && m.to === "firing"),
  );
  step("firing: toast, row, card, chart (warn 70, crit 90), badge critical");

  await page.click('#alerts-active tr[data-state="firing"] button.ack');
  await wait("the acknowledgement", () => /acked/.test(document.querySelector('#alerts-active tr[data-state="firing"]')?.textContent || ""));
  await page.selectOption('#alerts-active tr[data-state="firing"] select.sil-for', "1h");
  await page.click('#alerts-active tr[data-state="firing"] button.silence');
  await wait("the silence", () => document.querySelector("#alerts-silences [data-silence]"));
  const sil = await page.textContent("#alerts-silences");
  if (!/alertname=TempHigh/.test(sil)) fail(`silence without the alert's labels: ${sil}`);
  step(`acknowledged and silenced: ${sil.trim()}`);

  mkdirSync(shots, { recursive: true });
  await page.waitForTimeout(1500);
  await page.screenshot({ path: join(shots, "alerts-light.png") });
  await page.click("#theme");
  await page.waitForTimeout(500);
  await page.screenshot({ path: join(shots, "alerts-dark.png") });
  await page.click("#theme");
  await page.setViewportSize({ width: 420, height: 1400 });
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(shots, "alerts-narrow.png") });
  await page.setViewportSize({ width: 1440, height: 1100 });

  // Back under `clear`: a resolved toast, the silence still listed until it is ended.
  log("temp=10\n");
  await wait("a resolved toast", () => document.querySelector('#toasts .toast[data-rule="TempHigh"][data-to="resolved"]'));
  await wait("no firing row", () => !document.querySelector('#alerts-active tr[data-state="firing"]'));
  await page.click("#alerts-silences button.unsilence");
  await wait("the silence ended", () => !document.querySelector("#alerts-silences [data-silence]"));
  step("resolved toast; silence ended");

  // The alert's history on the time axis, live and over a range read from history.
  await wait("the resolved mark", () => window.__kpid.charts().find((x) => x.name === "temp")?.marks.some((m) => m.to === "resolved"));
  await page.locator('.chart[data-kpi="temp"]').screenshot({ path: join(shots, "alerts-marks.png") });
  await page.click('#ranges button[data-range="86400"]');
  await wait("the marks over the 24h range", () => {
    const c = window.__kpid.charts().find((x) => x.name === "temp");
    return window.__kpid.state.range && c?.marks.some((m) => m.to === "firing") && c.marks.some((m) => m.to === "resolved");
  });
  const hist = await page.evaluate(async () => (await (await fetch("/api/alerts/history")).json()).stored);
  if (hist !== true) fail("/api/alerts/history did not come from history");
  await page.click("#range-live");
  step("firing and resolved marked on the chart, live and over 24 h from history");

  // A refused reload shows its reason in a banner; the old config stays in force.
  const cfg = join(dir, "k.toml");
  const good = readFileSync(cfg, "utf8");
  writeFileSync(cfg + ".tmp", good + '\n[[alert]]\nname = "Broken"\nkpi = "temp"\nwarm = 1\n');
  renameSync(cfg + ".tmp", cfg);
  await wait("the config banner", () => {
    const b = document.querySelector("#config-banner");
    return !b.hidden && b.dataset.kind === "error" && /warm/.test(b.textContent) && /line \d+/.test(b.textContent);
  });
  await page.screenshot({ path: join(shots, "alerts-config-error.png") });
  writeFileSync(cfg + ".tmp", good);
  renameSync(cfg + ".tmp", cfg);
  await wait("the banner gone after a good reload", () => document.querySelector("#config-banner").hidden);
  step("config banner on a refused reload, gone after a valid one");

  if (problems.length) fail(`the page reported problems:\n  ${problems.join("\n  ")}`);
  step("ok");
} catch (e) {
  console.error(`[alerts] FAIL: ${e.message}`);
  code = 1;
} finally {
  if (browser) await browser.close();
}
process.exit(code);

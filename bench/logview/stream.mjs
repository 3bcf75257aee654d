// The log viewer under a stream of lines: the dashboard (headless Chromium) follows a log that
// a writer appends RATE lines a second to for SECS seconds; every 500 ms the page's count of
// lines received (window.__kpid.logs()) is compared with the lines written so far (the
// writer's progress file). Prints the largest lag, the lag at the end of the writing, and how
// long the page took to have every line.
//   node bench/logview/stream.mjs URL LOG RATE SECS
import { appendFileSync } from "node:fs";
import { launch } from "../../tests/browser/chromium.mjs";

const [url, log, rate = "5000", secs = "20"] = process.argv.slice(2);
const RATE = Number(rate);
const SECS = Number(secs);
const { page, close } = await launch({ width: 1440, height: 1000 });
await page.goto(url, { waitUntil: "load" });
await page.waitForFunction(() => window.__kpid?.logs?.().streaming, null, { timeout: 30_000 });
let written = 0;
const start = Date.now();
const samples = [];
const writer = setInterval(() => {
  const due = Math.min(RATE * SECS, Math.floor(((Date.now() - start) / 1000) * RATE));
  let text = "";
  for (; written < due; written++) text += `level=${written % 50 === 0 ? "warn" : "info"} msg="frame ${written} decoded" stage=decode latency_ms=${3 + (written % 40)}\n`;
  if (text) appendFileSync(log, text);
}, 20);
let caught = null;
while (true) {
  await new Promise((r) => setTimeout(r, 500));
  const s = await page.evaluate(() => window.__kpid.logs());
  const t = (Date.now() - start) / 1000;
  samples.push({ t, written, streamed: s.streamed, shown: s.shown });
  if (written >= RATE * SECS && s.streamed >= written) {
    caught = t;
    break;
  }
  if (t > SECS + 60) break;
}
clearInterval(writer);
await close();
const during = samples.filter((s) => s.t <= SECS);
const maxLag = Math.max(...during.map((s) => s.written - s.streamed));
const atEnd = during.length ? during[during.length - 1] : samples[0];
console.log(
  `rate ${RATE} lines/s for ${SECS} s: ${written} written, ${samples[samples.length - 1].streamed} received by the page; ` +
    `largest lag ${maxLag} lines (${(maxLag / RATE).toFixed(2)} s); lag at ${atEnd.t.toFixed(1)} s ${atEnd.written - atEnd.streamed} lines; ` +
    (caught ? `every line on the page ${(caught - SECS).toFixed(2)} s after the last was written` : "NOT caught up within 60 s") +
    `; ${samples[samples.length - 1].shown} lines in the DOM`,
);

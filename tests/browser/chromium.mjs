// What the browser checks share: Debian's headless Chromium through playwright-core (a fresh
// profile, no sandbox, no background traffic), and a page's problems (console errors, page
// errors, failed requests, HTTP errors) collected for the final verdict.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Starts Chromium; exits 3 with a message when it or playwright-core is missing.
export async function launch(viewport) {
  const exe = process.env.KPID_CHROMIUM || "/usr/bin/chromium";
  if (!existsSync(exe)) {
    console.error(`chromium not found at ${exe}: install it (apt-get install -y chromium) or set KPID_CHROMIUM`);
    process.exit(3);
  }
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch (e) {
    console.error(`playwright-core is not installed: run \`npm ci\` in tests/browser (${e.message})`);
    process.exit(3);
  }
  const profile = mkdtempSync(join(tmpdir(), "kpid-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    viewport,
    deviceScaleFactor: 1,
    colorScheme: "light",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    timeout: 60_000,
  });
  const page = context.pages()[0] || (await context.newPage());
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  };
  return { page, close };
}

// The page's problems so far, as a growing list.
export function problems(page) {
  const list = [];
  page.on("console", (m) => {
    if (m.type() === "error") list.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => list.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => {
    // The WebSocket upgrade is not a plain request; anything else failing is a broken asset.
    if (!r.url().includes("/ws/")) list.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) list.push(`HTTP ${r.status()} for ${r.url()}`);
  });
  return list;
}

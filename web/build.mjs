// Builds the dashboard assets the daemon embeds (include_bytes!) into web/dist:
// index.html, app.js (web/src/app.js and the modules it imports, bundled), app.css, the
// report's script and style (report.js, report.css: `kpid report` inlines them), and uPlot's
// pinned build.
// `node build.mjs --check` rebuilds in memory and fails if web/dist is stale.
import { build, transform } from "esbuild";
import { readFile, writeFile, mkdir, readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const src = join(root, "src");
const dist = join(root, "dist");
const uplot = join(root, "node_modules", "uplot", "dist");
const check = process.argv.includes("--check");

async function js(file) {
  const out = await build({
    entryPoints: [join(src, file)],
    bundle: true,
    format: "iife",
    minify: true,
    target: "es2020",
    legalComments: "none",
    write: false,
  });
  return out.outputFiles[0].text;
}

async function css(file) {
  const code = await readFile(join(src, file), "utf8");
  const out = await transform(code, { loader: "css", minify: true, target: ["chrome111", "firefox113", "safari16.2"] });
  return out.code;
}

const files = {
  "index.html": await readFile(join(src, "index.html"), "utf8"),
  "app.js": await js("app.js"),
  "alerts.js": await js("alerts.js"),
  "app.css": await css("app.css"),
  "report.js": await js("report.js"),
  "report.css": await css("report.css"),
  "uPlot.iife.min.js": await readFile(join(uplot, "uPlot.iife.min.js"), "utf8"),
  "uPlot.min.css": await readFile(join(uplot, "uPlot.min.css"), "utf8"),
};

if (check) {
  const stale = [];
  for (const [name, body] of Object.entries(files)) {
    const have = await readFile(join(dist, name), "utf8").catch(() => null);
    if (have !== body) stale.push(name);
  }
  const extra = (await readdir(dist)).filter((f) => !(f in files));
  if (stale.length || extra.length) {
    console.error(`web/dist is stale: ${[...stale, ...extra.map((f) => f + " (unexpected)")].join(", ")}; run: cd web && npm ci && npm run build`);
    process.exit(1);
  }
  console.log("web/dist is up to date");
} else {
  await mkdir(dist, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    await writeFile(join(dist, name), body);
    console.log(`dist/${name}  ${body.length} bytes`);
  }
}

// Y-axis labels on one scale: the unit step is chosen from the largest tick, so an axis reads
// "0 ms, 20 ms, 40 ms" (never "0 s" beside "20.0 ms") and "0, 512 MiB, 1,024 MiB".
import { num } from "./format.js";

const TIME = [
  [1e-6, 1e-9, "ns"],
  [1e-3, 1e-6, "µs"],
  [1, 1e-3, "ms"],
  [120, 1, "s"],
  [7200, 60, "min"],
  [Infinity, 3600, "h"],
];
const SIZES = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
const BASE = { s: 1, ms: 1e-3, us: 1e-6, ns: 1e-9 };

// Labels for `vals` (tick values in `unit`, as the server resolved it).
export function axisValues(vals, unit) {
  const max = Math.max(0, ...vals.filter((v) => v != null).map((v) => Math.abs(v)));
  const step = vals.length > 1 ? Math.abs(vals[1] - vals[0]) : max;
  // Decimals enough to write the step between ticks exactly (2.5 → 1, 0.25 → 2), at most 3.
  const show = (x, d) => {
    let digits = 0;
    while (digits < 3 && d > 0 && Math.abs(d * 10 ** digits - Math.round(d * 10 ** digits)) > 1e-6 * 10 ** digits) digits++;
    return x === 0 ? "0" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  };
  if (unit in BASE) {
    const b = BASE[unit];
    const [, div, name] = TIME.find(([lim]) => max * b < lim);
    return vals.map((v) => (v == null ? "" : `${show((v * b) / div, (step * b) / div)} ${name}`));
  }
  if (unit === "bytes" || unit === "bytes/s") {
    let i = 0;
    while (max >= 1024 ** (i + 1) && i < SIZES.length - 1) i++;
    const sfx = SIZES[i] + (unit === "bytes/s" ? "/s" : "");
    return vals.map((v) => (v == null ? "" : `${show(v / 1024 ** i, step / 1024 ** i)} ${sfx}`));
  }
  if (unit === "ratio") return vals.map((v) => (v == null ? "" : `${show(v * 100, step * 100)}%`));
  if (unit === "%") return vals.map((v) => (v == null ? "" : `${show(v, step)}%`));
  return vals.map((v) => (v == null ? "" : max >= 1e6 ? num(v) : show(v, step)));
}

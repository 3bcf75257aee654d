// Number formatting shared by the dashboard and the report: values in the base units the
// server resolves (s, bytes, %, ratio, /s, ...) shown with a readable scale ("20.0 ms",
// "1.50 GiB", "880 /s").
export const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumSignificantDigits: 3 });
export const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
export const sig = (x) => {
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
};
export function num(v) {
  if (v == null || !Number.isFinite(v)) return "—";
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1e6) return compact.format(v);
  if (a >= 1000 || Number.isInteger(v)) return grouped.format(v);
  if (a >= 1) return sig(v);
  return String(parseFloat(v.toPrecision(2)));
}
export function dur(s) {
  const a = Math.abs(s);
  if (a === 0) return ["0", "s"];
  if (a < 1e-6) return [sig(s * 1e9), "ns"];
  if (a < 1e-3) return [sig(s * 1e6), "µs"];
  if (a < 1) return [sig(s * 1e3), "ms"];
  if (a < 120) return [sig(s), "s"];
  if (a < 7200) return [sig(s / 60), "min"];
  return [sig(s / 3600), "h"];
}
export function bytes(b) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let a = Math.abs(b);
  while (a >= 1024 && i < units.length - 1) {
    a /= 1024;
    i++;
  }
  return [i === 0 ? grouped.format(b) : sig(b / 1024 ** i), units[i]];
}
// The unit the server resolved for a KPI (docs/api.md, "How a field name becomes a metric
// name"): s, bytes, %, ratio, /s, bytes/s, frames/s, °C... The page guesses none from names.
export const unitOf = (k) => String(k.unit || "").trim();
// [number, unit] for a value in `unit`.
export function parts(v, unit) {
  if (v == null || !Number.isFinite(v)) return ["—", ""];
  switch (unit) {
    case "s": return dur(v);
    case "ms": return dur(v / 1e3);
    case "us": return dur(v / 1e6);
    case "ns": return dur(v / 1e9);
    case "bytes": return bytes(v);
    case "bytes/s": {
      const [n, u] = bytes(v);
      return [n, u + "/s"];
    }
    // Rates are not durations: 880 tokens/s shows "880 /s", never "14.7 min".
    case "/s": return [num(v), "/s"];
    case "%": return [num(v), "%"];
    case "ratio": return [num(v * 100), "%"];
    default: return [num(v), unit];
  }
}
export function rateParts(v, unit) {
  if (v == null || !Number.isFinite(v)) return ["—", ""];
  if (unit === "bytes") {
    const [n, u] = bytes(v);
    return [n, u + "/s"];
  }
  if (unit === "s" || unit === "ms" || unit === "us" || unit === "ns") {
    const [n, u] = parts(v, unit);
    return [n, u + "/s"];
  }
  return [num(v), (unit && unit !== "%" && unit !== "ratio" ? unit : "") + "/s"];
}
export const join = ([n, u]) => (u ? (u.startsWith("/") || u === "%" ? n + u : n + " " + u) : n);
export const fmt = (v, unit) => join(parts(v, unit));
export const fmtRate = (v, unit) => join(rateParts(v, unit));

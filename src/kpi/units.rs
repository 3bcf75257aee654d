//! How a field or KPI name becomes a Prometheus metric name, its unit and the scale that
//! brings its values to that unit (docs/api.md, "How a field name becomes a metric name").
//!
//! Prometheus names carry their unit, in base units, as a suffix (`_seconds`, `_bytes`,
//! `_celsius`), counters end in `_total` and nothing else does, and `promtool check metrics`
//! refuses abbreviated units (`_ms`, `_mb`, `_s`...). So `latency_ms` is exposed as
//! `latency_seconds` with its values × 0.001, `gpu_mem_mb` as `gpu_mem_bytes` × 1e6 and
//! `tokens_per_s` as `tokens_per_second` (a rate, unit `/s`, not a time).
//!
//! The mapping, in order:
//!
//! 1. The name is made snake_case (`gpuMem` → `gpu_mem`, `%` → `_percent`, other characters
//!    → `_`) and split into words.
//! 2. A rate: `per` followed by a time word (`per_s`, `per_sec`, `per_min`...) becomes
//!    `per_second` at the end; a last word `ps` does too; `rps`, `qps`, `fps` become
//!    `requests`, `queries`, `frames` plus `per_second`.
//! 3. The last word that names a unit is converted to its base unit and moved to the end:
//!    time (`ns`, `us`, `ms`, `s`, `sec`, `min`, `h`, `d`, `milliseconds`...) → `seconds`;
//!    sizes (`b`, `kb`, `mb`, `gb`, `tb`, `kib`, `mib`, `gib`, `bits`, `kilobytes`...) →
//!    `bytes` (×1000ⁿ, ×1024ⁿ for the i-forms); `pct`, `percent`, `util`, `utilization` → unit
//!    `%`, name ending `_percent` (`util` words stay: `gpu_util_percent`); `c`, `celsius`,
//!    `fahrenheit` → `celsius`; other SI words with a prefix (`kilometers`, `milliamperes`)
//!    → their base. Any other unit abbreviation left in the name is joined to the word
//!    before it, so no abbreviation remains.
//! 4. The words `counter`, `gauge`, `histogram`, `summary` are dropped (a name does not say
//!    its type). A counter ends in `_total` (added when missing); any other kind ending in a
//!    suffix Prometheus reserves (`_total`, `_count`, `_sum`, `_bucket`) gets `_value`.
//!
//! The mapping is idempotent: an exposed name maps to itself with scale 1.

use super::Kind;

/// What a name is exposed as: the metric name, its unit for the dashboard and how its values
/// are converted (`exposed = value × scale + offset`; offset is 0 except for °F).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldUnit {
    /// Prometheus metric name (`latency_seconds`, `requests_total`).
    pub name: String,
    /// Unit shown on the dashboard: `s`, `bytes`, `%`, `/s`, `bytes/s`, `frames/s`, `°C`, `K`,
    /// `m`, `g`, `J`, `V`, `A`, or empty when the name names none.
    pub unit: &'static str,
    /// Multiplier from the named unit to the exposed one (0.001 for `_ms`).
    pub scale: f64,
    /// Added after scaling (only °F → °C has one).
    pub offset: f64,
}

impl FieldUnit {
    /// Converts a value in the name's unit to the exposed unit.
    #[inline]
    pub fn apply(&self, v: f64) -> f64 {
        v * self.scale + self.offset
    }
}

/// The gauge a zero-config numeric field becomes: `latency_ms` → `latency_seconds`, unit `s`,
/// scale 0.001. This is the function rules call for auto gauges.
pub fn for_field(key: &str) -> FieldUnit {
    for_kpi(key, Kind::Gauge)
}

/// Like [`for_field`] for a value already typed as a duration in seconds (`took=12ms`): the
/// name ends in `_seconds`, scale 1.
pub fn for_duration_field(key: &str) -> FieldUnit {
    let f = for_field(key);
    if f.unit == "s" {
        return FieldUnit {
            scale: 1.0,
            offset: 0.0,
            ..f
        };
    }
    let mut f = for_field(&format!("{key}_seconds"));
    f.scale = 1.0;
    f
}

/// The exposed name of a KPI of `kind` called `name` (counters end in `_total`).
pub fn for_kpi(name: &str, kind: Kind) -> FieldUnit {
    map(&snake_words(name), kind)
}

/// An explicit rule: its name as [`for_kpi`]; when the name names no unit, the rule's `unit`
/// (`ms`, `KB`, `%`, `/s`...) is tried as a suffix so that `name = "latency"`, `unit = "ms"`
/// is exposed as `latency_seconds` × 0.001. An empty `unit` in the result means: keep the
/// rule's own (`frames`).
pub fn for_rule(name: &str, kind: Kind, unit: &str) -> FieldUnit {
    let f = for_kpi(name, kind);
    if !f.unit.is_empty() || unit.is_empty() {
        return f;
    }
    let suffix = match unit.trim() {
        "%" => "percent",
        "°C" | "C" => "celsius",
        "°F" | "F" => "fahrenheit",
        "/s" => "per_second",
        u => u,
    };
    let mut words = snake_words(name);
    if counter_total(&words, kind) {
        words.pop();
    }
    words.extend(snake_words(suffix));
    let g = map(&words, kind);
    if g.unit.is_empty() {
        f
    } else {
        g
    }
}

fn counter_total(words: &[String], kind: Kind) -> bool {
    kind == Kind::Counter && words.last().is_some_and(|w| w == "total")
}

/// snake_case words of a name: `gpuMem.MB` → `gpu`, `mem`, `mb`.
fn snake_words(name: &str) -> Vec<String> {
    let mut s = String::with_capacity(name.len() + 8);
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let boundary = prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (prev.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(|n| n.is_ascii_lowercase()));
            if boundary {
                s.push('_');
            }
            s.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if c == '%' {
            s.push_str("_percent_");
        } else {
            s.push('_');
        }
    }
    s.split('_')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Seconds in one of a time word (for rates: `per_min`).
fn time_word(w: &str) -> Option<f64> {
    Some(match w {
        "ns" | "nanos" | "nsec" | "nanosecond" | "nanoseconds" => 1e-9,
        "us" | "micros" | "usec" | "microsecond" | "microseconds" => 1e-6,
        "ms" | "msec" | "msecs" | "millis" | "millisecond" | "milliseconds" => 1e-3,
        "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86400.0,
        "w" | "wk" | "week" | "weeks" => 604_800.0,
        _ => return None,
    })
}

const SI_PREFIXES: [(&str, f64); 18] = [
    ("pico", 1e-12),
    ("nano", 1e-9),
    ("micro", 1e-6),
    ("milli", 1e-3),
    ("centi", 1e-2),
    ("deci", 1e-1),
    ("deca", 1e1),
    ("hecto", 1e2),
    ("kilo", 1e3),
    ("kibi", 1024.0),
    ("mega", 1e6),
    ("mebi", 1_048_576.0),
    ("giga", 1e9),
    ("gibi", 1_073_741_824.0),
    ("tera", 1e12),
    ("tebi", 1_099_511_627_776.0),
    ("peta", 1e15),
    ("pebi", 1_125_899_906_842_624.0),
];

/// A unit word: (base word, dashboard unit, scale, offset).
fn unit_word(w: &str) -> Option<(&'static str, &'static str, f64, f64)> {
    if let Some(s) = time_word(w) {
        if w != "w" && w != "wk" {
            return Some(("seconds", "s", s, 0.0));
        }
    }
    const KI: f64 = 1024.0;
    let bytes = |s: f64| Some(("bytes", "bytes", s, 0.0));
    match w {
        "b" | "byte" | "bytes" => return bytes(1.0),
        "kb" | "kbytes" => return bytes(1e3),
        "mb" | "mbytes" => return bytes(1e6),
        "gb" | "gbytes" => return bytes(1e9),
        "tb" => return bytes(1e12),
        "pb" => return bytes(1e15),
        "kib" => return bytes(KI),
        "mib" => return bytes(KI * KI),
        "gib" => return bytes(KI * KI * KI),
        "tib" => return bytes(KI * KI * KI * KI),
        "bit" | "bits" => return bytes(0.125),
        "pct" | "percent" | "percentage" | "util" | "utilization" | "utilisation" => {
            return Some(("percent", "%", 1.0, 0.0))
        }
        "c" | "degc" | "celsius" => return Some(("celsius", "°C", 1.0, 0.0)),
        "f" | "degf" | "fahrenheit" => return Some(("celsius", "°C", 5.0 / 9.0, -160.0 / 9.0)),
        "rankine" => return Some(("celsius", "°C", 5.0 / 9.0, -273.15)),
        "kelvin" | "kelvins" => return Some(("kelvin", "K", 1.0, 0.0)),
        "inches" => return Some(("meters", "m", 0.0254, 0.0)),
        "yards" => return Some(("meters", "m", 0.9144, 0.0)),
        "miles" => return Some(("meters", "m", 1609.344, 0.0)),
        "calories" => return Some(("joules", "J", 4.184, 0.0)),
        "pounds" => return Some(("grams", "g", 453.592_37, 0.0)),
        "ounces" => return Some(("grams", "g", 28.349_523_125, 0.0)),
        _ => {}
    }
    let base = |b: &str| -> Option<(&'static str, &'static str)> {
        Some(match b {
            "seconds" => ("seconds", "s"),
            "bytes" => ("bytes", "bytes"),
            "meters" => ("meters", "m"),
            "metres" => ("metres", "m"),
            "grams" => ("grams", "g"),
            "joules" => ("joules", "J"),
            "volts" => ("volts", "V"),
            "amperes" => ("amperes", "A"),
            _ => return None,
        })
    };
    if let Some((b, u)) = base(w) {
        return Some((b, u, 1.0, 0.0));
    }
    SI_PREFIXES.iter().find_map(|(p, s)| {
        let (b, u) = base(w.strip_prefix(p)?)?;
        Some((b, u, *s, 0.0))
    })
}

/// Abbreviations promtool's lint refuses anywhere in a name.
fn abbreviation(w: &str) -> bool {
    matches!(
        w,
        "s" | "ms" | "us" | "ns" | "sec" | "b" | "kb" | "mb" | "gb" | "tb" | "pb" | "m" | "h" | "d"
    )
}

/// Words promtool's lint reads as a non-base unit (`minutes`, `bits`, `milliseconds`...).
fn lint_unit_word(w: &str) -> bool {
    const BASES: [&str; 10] = [
        "amperes", "bytes", "celsius", "grams", "joules", "kelvin", "meters", "metres", "seconds",
        "volts",
    ];
    const OTHERS: [&str; 14] = [
        "minutes",
        "hours",
        "days",
        "weeks",
        "kelvins",
        "fahrenheit",
        "rankine",
        "inches",
        "yards",
        "miles",
        "bits",
        "calories",
        "pounds",
        "ounces",
    ];
    let known = |x: &str| BASES.contains(&x) || OTHERS.contains(&x);
    OTHERS.contains(&w)
        || SI_PREFIXES
            .iter()
            .any(|(p, _)| w.strip_prefix(p).is_some_and(known))
}

fn map(words: &[String], kind: Kind) -> FieldUnit {
    let mut w: Vec<String> = words.to_vec();
    if counter_total(&w, kind) {
        w.pop();
    }
    // A non-counter's reserved last word stays last (`bytes_total` → `bytes_total_value`).
    let n = w.len();
    if kind != Kind::Counter
        && n > 2
        && w[n - 1] == "value"
        && matches!(w[n - 2].as_str(), "total" | "count" | "sum" | "bucket")
    {
        w.pop();
    }
    let reserved = match w.last().map(String::as_str) {
        Some("total" | "count" | "sum" | "bucket") if kind != Kind::Counter && w.len() > 1 => {
            w.pop()
        }
        _ => None,
    };
    let mut scale = 1.0;
    let mut offset = 0.0;
    // 2. Rates.
    let mut rate: Option<&'static str> = None;
    if let Some(i) = (0..w.len().saturating_sub(1))
        .rev()
        .find(|&i| w[i] == "per" && time_word(&w[i + 1]).is_some())
    {
        scale /= time_word(&w[i + 1]).unwrap_or(1.0);
        w.drain(i..i + 2);
        rate = Some("/s");
    } else if w.len() > 1 && w.last().is_some_and(|l| l == "ps") {
        w.pop();
        rate = Some("/s");
    } else if let Some(i) = w
        .iter()
        .rposition(|x| matches!(x.as_str(), "rps" | "qps" | "fps"))
    {
        let (noun, unit) = match w[i].as_str() {
            "rps" => ("requests", "/s"),
            "qps" => ("queries", "/s"),
            _ => ("frames", "frames/s"),
        };
        w[i] = noun.to_owned();
        rate = Some(unit);
    }
    // 3. The last unit word.
    let mut unit = "";
    let mut base_word = None;
    // A name ending in `ratio` is a ratio, 0 to 1 (`gpu_utilization_ratio`): no other unit.
    let ratio = w.len() > 1 && w.last().is_some_and(|l| l == "ratio");
    if let Some(i) = w
        .iter()
        .rposition(|x| unit_word(x).is_some())
        .filter(|_| !ratio)
    {
        let (b, u, s, o) = unit_word(&w[i]).expect("found above");
        // `util` says what is measured: `gpu_util` → `gpu_util_percent`.
        if !w[i].starts_with("util") {
            w.remove(i);
        }
        scale *= s;
        offset = o;
        unit = u;
        base_word = Some(b);
    }
    // Other abbreviations join the word before them (`x_ms_to` → `xms_to`).
    let mut i = 1;
    while i < w.len() {
        if abbreviation(&w[i]) || lint_unit_word(&w[i]) {
            let tail = w.remove(i);
            w[i - 1].push_str(&tail);
        } else {
            i += 1;
        }
    }
    if w.first()
        .is_some_and(|f| abbreviation(f) || lint_unit_word(f))
        && w.len() > 1
    {
        let head = w.remove(0);
        w[0].insert_str(0, &head);
    }
    // 4. Types are not named; reserved suffixes.
    if w.len() > 1 {
        let first = w[0].clone();
        w.retain(|x| !matches!(x.as_str(), "counter" | "gauge" | "histogram" | "summary"));
        if w.is_empty() {
            w.push(first);
        }
    }
    if let Some(b) = base_word {
        w.push(b.to_owned());
    }
    if let Some(r) = rate {
        w.push("per".into());
        w.push("second".into());
        unit = match (unit, r) {
            ("bytes", _) => "bytes/s",
            ("", r) => r,
            (_, r) => r,
        };
    }
    if w.is_empty() {
        w.push("value".into());
    }
    if kind == Kind::Counter {
        w.push("total".into());
    } else if let Some(r) = reserved {
        w.push(r);
        w.push("value".into());
    }
    let mut name = w.join("_");
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    FieldUnit {
        name,
        unit,
        scale,
        offset,
    }
}

#[cfg(test)]
#[path = "units_tests.rs"]
mod tests;

//! What a field of a line becomes with no rule: the inference from its name and value, or
//! the source's `fields` override.
//!
//! | field | becomes | why |
//! | --- | --- | --- |
//! | `hit=true` (a boolean) | `hit_ratio{source}`: the fraction of true over the last minute | boolean |
//! | `latency_ms`, `*_seconds`, `*latency*`, `*duration*`, `elapsed`, `took`, `12ms` | a distribution (p50/p95/p99) in seconds | latency-like |
//! | `seq`, `batch`, `id`, `*_id`, `pid`, `step`, `status`... (numbers) | nothing | id or sequence |
//! | `*_total` | a counter of the value's increases | running total |
//! | `model`, `stage`, `status`, `method`... (text) | a label of the source's other automatic KPIs | low-cardinality name |
//! | other text | nothing | text |
//! | other numbers | a gauge (the last value) | number |
//!
//! A number that counts up by exactly one for [`SEQUENCE_RUN`] records in a row is a sequence
//! too: it stops being charted from then on (see `natural`).

use crate::config::FieldKind;
use crate::kpi::units::{self, FieldUnit};
use crate::kpi::Kind;
use kpid_parsers::Value;

/// Records in a row a number must count up by one to be taken for a sequence.
pub(super) const SEQUENCE_RUN: u32 = 8;

/// Text fields whose names say they hold few values.
const LABEL_NAMES: [&str; 26] = [
    "model",
    "stage",
    "status",
    "method",
    "route",
    "endpoint",
    "op",
    "operation",
    "kind",
    "type",
    "queue",
    "topic",
    "service",
    "component",
    "task",
    "job",
    "phase",
    "provider",
    "device",
    "region",
    "env",
    "tier",
    "mode",
    "result",
    "outcome",
    "state",
];

/// What a field was found to be, and the KPI it feeds.
#[derive(Debug, Clone)]
pub(super) struct Inferred {
    pub kind: FieldKind,
    /// Why, in a few words (`kpid parse` shows it).
    pub why: &'static str,
    /// The exposed name, unit and conversion (unused for `ignore` and `label`).
    pub exposed: FieldUnit,
}

impl FieldKind {
    /// The kind's name as written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Ignore => "ignore",
            FieldKind::Gauge => "gauge",
            FieldKind::Distribution => "distribution",
            FieldKind::Counter => "counter",
            FieldKind::Ratio => "ratio",
            FieldKind::Label => "label",
        }
    }
}

fn id_like(n: &str) -> bool {
    const EXACT: [&str; 22] = [
        "seq",
        "sequence",
        "batch",
        "id",
        "pid",
        "tid",
        "ppid",
        "uid",
        "gid",
        "port",
        "line",
        "lineno",
        "step",
        "epoch",
        "iter",
        "iteration",
        "index",
        "idx",
        "offset",
        "status",
        "code",
        "thread",
    ];
    const SUFFIX: [&str; 7] = ["_id", "_seq", "_idx", "_index", "_no", "_num", "_code"];
    EXACT.contains(&n) || SUFFIX.iter().any(|s| n.ends_with(s))
}

fn latency_like(n: &str, exposed_unit: &str) -> bool {
    const WORDS: [&str; 6] = [
        "latency",
        "duration",
        "elapsed",
        "took",
        "rtt",
        "response_time",
    ];
    const NOT: [&str; 7] = [
        "uptime", "timeout", "ttl", "interval", "period", "deadline", "age",
    ];
    if NOT.iter().any(|w| n.contains(w)) {
        return false;
    }
    WORDS.iter().any(|w| n.contains(w)) || exposed_unit == "s"
}

/// The gauge-style exposed name of a numeric field (`latency_ms` → `latency_seconds`, ×0.001;
/// a value typed as a duration is already in seconds).
pub(super) fn exposed_of(key: &str, v: &Value<'_>) -> FieldUnit {
    if matches!(v, Value::Duration(_)) {
        units::for_duration_field(key)
    } else {
        units::for_field(key)
    }
}

/// What `key` (with a first value `v`) becomes: `over` when the config says, else inferred.
pub(super) fn infer(key: &[u8], v: &Value<'_>, over: Option<FieldKind>) -> Inferred {
    let name = String::from_utf8_lossy(key).to_ascii_lowercase();
    let gauge = exposed_of(&name, v);
    // A grouped key (Go slog's `req.status`, OpenTelemetry's `http.method`) says what it
    // holds by its last part.
    let last = name.rsplit('.').next().unwrap_or(&name);
    let (kind, why) = match (over, v) {
        (Some(k), _) => (k, "set in the config"),
        (None, Value::Bool(_)) => (FieldKind::Ratio, "boolean"),
        (None, Value::Str(_)) if LABEL_NAMES.contains(&last) => {
            (FieldKind::Label, "low-cardinality name")
        }
        (None, Value::Str(_)) => (FieldKind::Ignore, "text"),
        (None, _) if id_like(last) => (FieldKind::Ignore, "id or sequence"),
        (None, Value::Duration(_)) => (FieldKind::Distribution, "latency-like"),
        (None, _) if latency_like(&name, gauge.unit) => (FieldKind::Distribution, "latency-like"),
        (None, _) if name.ends_with("_total") => (FieldKind::Counter, "running total"),
        (None, _) => (FieldKind::Gauge, "number"),
    };
    let exposed = match kind {
        FieldKind::Counter => {
            let mut e = units::for_kpi(&name, Kind::Counter);
            e.offset = 0.0;
            e
        }
        FieldKind::Ratio => units::for_kpi(&format!("{name}_ratio"), Kind::Gauge),
        _ => gauge,
    };
    Inferred { kind, why, exposed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn k(key: &str, v: Value<'_>) -> (FieldKind, String) {
        let i = infer(key.as_bytes(), &v, None);
        (i.kind, i.exposed.name)
    }

    #[test]
    fn names_and_values_decide() {
        use FieldKind::*;
        let s = || Value::Str(Cow::Borrowed(b"x"));
        assert_eq!(
            k("latency_ms", Value::Float(1.0)),
            (Distribution, "latency_seconds".into())
        );
        assert_eq!(k("took", Value::Duration(0.1)).0, Distribution);
        assert_eq!(k("elapsed", Value::Int(3)).0, Distribution);
        assert_eq!(k("queue_wait_seconds", Value::Int(3)).0, Distribution);
        assert_eq!(
            k("tokens_per_s", Value::Float(9.0)),
            (Gauge, "tokens_per_second".into())
        );
        assert_eq!(k("uptime_s", Value::Int(9)).0, Gauge);
        for id in ["seq", "batch", "request_id", "pid", "step"] {
            assert_eq!(k(id, Value::Int(1)).0, Ignore, "{id}");
        }
        assert_eq!(k("hit", Value::Bool(true)), (Ratio, "hit_ratio".into()));
        assert_eq!(k("model", s()).0, Label);
        assert_eq!(k("user", s()).0, Ignore);
        // Grouped keys (slog's groups, OpenTelemetry's names) by their last part.
        assert_eq!(k("req.method", s()).0, Label);
        assert_eq!(k("req.status", Value::Int(200)).0, Ignore);
        assert_eq!(k("req.user", s()).0, Ignore);
        assert_eq!(k("db.latency", Value::Duration(0.1)).0, Distribution);
        assert_eq!(
            k("requests_total", Value::Int(4)),
            (Counter, "requests_total".into())
        );
        assert_eq!(k("depth", Value::Int(4)), (Gauge, "depth".into()));
        let i = infer(b"batch", &Value::Int(1), Some(Gauge));
        assert_eq!((i.kind, i.why), (Gauge, "set in the config"));
    }
}

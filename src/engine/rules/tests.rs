use super::*;
use crate::config::Config;
use crate::kpi::Limits;
use kpid_parsers::Value;
use std::borrow::Cow;
use std::path::Path;

fn rules(toml: &str, limits: &Limits) -> Rules {
    let cfg = Config::parse(Path::new("t.toml"), toml).unwrap();
    Rules::new(&cfg, limits).unwrap()
}

fn span<'a>(name: &'a str, secs: f64, error: bool) -> Record<'a> {
    let mut r = Record::new();
    r.push(&b"span"[..], Value::Str(Cow::Borrowed(name.as_bytes())));
    r.push(&b"duration"[..], Value::Duration(secs));
    r.push(&b"error"[..], Value::Bool(error));
    r.push(&b"model"[..], Value::Str(Cow::Borrowed(b"yolo")));
    r
}

#[test]
fn a_rule_on_span_closes_gets_its_own_distribution_with_buckets() {
    let limits = Limits::default();
    let mut rules = rules(
        r#"[[rule]]
name = "infer_seconds"
kind = "distribution"
input = "span"
field = "duration"
filter = 'span == "infer"'
labels = ["model"]
buckets = [0.01, 0.1, 1.0]
"#,
        &limits,
    );
    let mut store = Store::new(limits);
    let app: Arc<str> = Arc::from("pipe");
    for (name, secs) in [("infer", 0.05), ("infer", 0.5), ("decode", 0.05)] {
        rules.apply(
            &mut store,
            &app,
            RecordKind::Span,
            &span(name, secs, false),
            10.0,
        );
    }
    let (d, s) = store.get("infer_seconds{model=\"yolo\"}").unwrap();
    assert_eq!(d.kind, Kind::Distribution);
    assert_eq!(s.total, 2.0, "only the spans named infer");
    assert_eq!(s.hist.as_deref(), Some(&[0, 1, 1][..]));
    // The built-in span rules ran on the same records.
    let (_, t) = store
        .get("span_total{app=\"pipe\",span=\"infer\"}")
        .unwrap();
    assert_eq!(t.total, 2.0);
    let (_, e) = store
        .get("span_errors_total{app=\"pipe\",span=\"decode\"}")
        .unwrap();
    assert_eq!(e.total, 0.0);
    assert!(store
        .get("span_duration_seconds{app=\"pipe\",span=\"decode\"}")
        .is_some());
}

#[test]
fn line_rules_do_not_see_app_records() {
    let limits = Limits::default();
    let mut rules = rules(
        "[[rule]]\nname = \"spans_seen\"\nkind = \"counter\"\n",
        &limits,
    );
    let mut store = Store::new(limits);
    let app: Arc<str> = Arc::from("pipe");
    rules.apply(
        &mut store,
        &app,
        RecordKind::Span,
        &span("x", 0.1, true),
        1.0,
    );
    assert!(store.get("spans_seen_total").is_none());
    rules.apply(&mut store, &app, RecordKind::Line, &Record::new(), 1.0);
    assert_eq!(store.get("spans_seen_total").unwrap().1.total, 1.0);
}

#[test]
fn caches_stay_bounded_under_a_cardinality_bomb() {
    // Regression: one unique key (or label value) per line grew the per-key caches in front
    // of the store without limit (853 MB after 4M lines) while the store's caps held.
    let limits = Limits {
        max_series: 100,
        max_label_sets: 10,
        ..Limits::default()
    };
    let mut rules = rules(
        "[[rule]]\nname = \"req_total\"\nkind = \"counter\"\nlabels = [\"user\"]\n",
        &limits,
    );
    let mut store = Store::new(limits);
    let src: Arc<str> = Arc::from("app");
    for i in 0..5_000 {
        let key = format!("k{i}");
        let user = format!("u{i}");
        let mut r = Record::new();
        r.push(key.as_bytes(), Value::Int(1));
        r.push(&b"user"[..], Value::Str(Cow::Borrowed(user.as_bytes())));
        rules.apply(&mut store, &src, RecordKind::Line, &r, 1.0);
    }
    let cache = rules.caches.of(&src, 0);
    let (series, names) = cache.fields.sizes();
    assert!(series <= limits.max_series, "{series}");
    assert!(names <= natural::MAX_FIELDS, "{names}");
    let rule = rules
        .rules
        .iter()
        .position(|r| r.name == "req_total")
        .unwrap();
    assert_eq!(cache.rules[rule].len(), limits.max_label_sets + 1);
    assert!(store.len() <= limits.max_series);
    let (_, other) = store.get("req_total{user=\"other\"}").unwrap();
    assert_eq!(
        other.total,
        5_000.0 - 10.0,
        "nothing lost: the rest counts into other"
    );
}

#[test]
fn event_convention_fields_and_metrics_become_kpis() {
    let limits = Limits::default();
    let mut rules = rules("", &limits);
    let mut store = Store::new(limits);
    let app: Arc<str> = Arc::from("svc");
    let mut e = Record::new();
    e.level = Some(kpid_parsers::Level::Warn);
    e.push(&b"counter.requests"[..], Value::Int(3));
    e.push(&b"gauge.queue_depth"[..], Value::Float(7.0));
    e.push(&b"histogram.latency_ms"[..], Value::Float(20.0));
    rules.apply(&mut store, &app, RecordKind::Event, &e, 1.0);
    let ids: Vec<&str> = store.iter().map(|(d, _)| d.id.as_str()).collect();
    assert_eq!(
        store.get("requests_total{app=\"svc\"}").map(|s| s.1.total),
        Some(3.0),
        "{ids:?}"
    );
    assert_eq!(
        store.get("queue_depth{app=\"svc\"}").map(|s| s.1.last),
        Some(7.0),
        "{ids:?}"
    );
    // Names apps send follow the same conventions as the exposition: base units.
    let (d, lat) = store
        .get("latency_seconds{app=\"svc\"}")
        .expect("latency in seconds");
    assert_eq!((d.unit.as_str(), lat.sum), ("s", 0.02));
    assert_eq!(
        store
            .get("events_total{app=\"svc\",level=\"warn\"}")
            .unwrap()
            .1
            .total,
        1.0
    );
    let mut m = Record::new();
    m.push(&b"name"[..], Value::Str(Cow::Borrowed(b"batch_size")));
    m.push(&b"value"[..], Value::Float(32.0));
    m.push(&b"kind"[..], Value::Str(Cow::Borrowed(b"gauge")));
    m.push(&b"stage"[..], Value::Str(Cow::Borrowed(b"pre")));
    rules.apply(&mut store, &app, RecordKind::Metric, &m, 1.0);
    assert_eq!(
        store
            .get("batch_size{app=\"svc\",stage=\"pre\"}")
            .unwrap()
            .1
            .last,
        32.0
    );
}

//! Entry points for the fuzz targets (`fuzz/`, see docs/fuzzing.md): the private parts of the
//! daemon that read untrusted text, each behind one function. Not an API: hidden from the
//! docs and free to change with the targets.

use crate::config::Config;
use crate::engine::apps;
use crate::engine::rules::Rules;
use crate::kpi::{prom, Publisher, Store};
use crate::plugin_host::{factory, PluginHost};
use crate::server::api::HistoryQuery;
use crate::server::Guard;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Loads a config file's text as `kpid --config` does: parse, resolve source names, compile
/// the rules with the store limits it sets and build every source's (built-in) parser.
/// Returns the error's message, if any.
pub fn load_config(text: &str) -> Result<(), String> {
    let mut cfg = Config::parse(Path::new("fuzz.toml"), text).map_err(|e| e.to_string())?;
    cfg.resolve().map_err(|e| e.to_string())?;
    let names: Vec<String> = cfg.sources.iter().map(|s| s.label().into_owned()).collect();
    for (i, n) in names.iter().enumerate() {
        assert!(
            !names[..i].contains(n),
            "two resolved sources share the name `{n}`"
        );
    }
    let limits = cfg.store.limits();
    assert!(limits.bucket_secs >= 1 && limits.window_buckets >= 1);
    let span = i64::try_from(limits.window_buckets)
        .ok()
        .and_then(|n| n.checked_mul(limits.bucket_secs));
    assert!(span.is_some(), "the store's window overflows: {limits:?}");
    Rules::new(&cfg, &limits).map_err(|e| e.to_string())?;
    factory::parsers(&cfg, &PluginHost::empty()).map_err(|e| e.to_string())?;
    Ok(())
}

/// Reads the decoded pairs of a `/api/metrics/history` query string as the server does;
/// returns the query it asks for (`{:?}`) or the error the reply would carry.
pub fn history_query(pairs: Vec<(String, String)>) -> Result<String, String> {
    HistoryQuery::parse(pairs).map(|q| format!("{q:?}"))
}

/// Runs the request guard on a `Host` and an `Origin` for a server bound to `addr` with the
/// extra allowed names `extra`; returns the refusal's status and message, if any.
pub fn guard(
    addr: SocketAddr,
    extra: &[String],
    host: Option<&str>,
    origin: Option<&str>,
    checks_origin: bool,
) -> Result<(), (u16, String)> {
    let counters = crate::server::HttpCounters::default();
    let head = crate::server::guard::Head {
        host,
        origin,
        upgrade: checks_origin,
        read_only: true,
        path: "/api/health",
        ..Default::default()
    };
    Guard::new(
        addr,
        extra,
        std::sync::Arc::from("fuzz-token-0123456789"),
        false,
        (8192, 65536),
    )
    .check(&head, &counters)
    .map_err(|r| (r.0.as_u16(), r.1))
}

/// Rules on every kind of app record: distributions with buckets, counters with labels,
/// gauges, filters on numbers and text, and the zero-config gauges.
const APP_RULES: &str = r#"
auto_gauges = true
[store]
max_series = 64
max_label_sets = 8
[[rule]]
name = "span_seconds"
kind = "distribution"
input = "span"
field = "duration"
labels = ["span", "error"]
buckets = [0.001, 0.1, 10.0]
[[rule]]
name = "span_n"
kind = "gauge"
input = "span"
field = "n"
scale = 0.001
unit = "ms"
[[rule]]
name = "events_total"
kind = "counter"
input = "event"
labels = ["level", "span", "message"]
filter = 'level != "debug"'
[[rule]]
name = "event_value"
kind = "distribution"
input = "event"
field = "v"
[[rule]]
name = "metric_value"
kind = "gauge"
input = "metric"
field = "value"
labels = ["name", "kind"]
filter = 'value >= 0'
[[rule]]
name = "metric_sum_total"
kind = "counter"
input = "metric"
field = "value"
"#;

/// The rules of `APP_RULES` and an empty store with its (small) limits.
fn app_rules() -> (Rules, Store) {
    static CFG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        Config::parse(Path::new("fuzz.toml"), APP_RULES).expect("the fuzz rules load")
    });
    let limits = cfg.store.limits();
    let rules = Rules::new(cfg, &limits).expect("the fuzz rules compile");
    (rules, Store::new(limits))
}

/// Applies a stream of app frames as the engine does (`apps::apply`, through the rules of
/// `APP_RULES` into a store with small limits, traced spans into a trace sample), twice a
/// few seconds apart, then publishes a snapshot and the sample and renders the Prometheus
/// exposition.
pub fn app_frames(frames: &[u8]) {
    use crate::engine::clock::Clock;
    let (mut rules, mut store) = app_rules();
    let mut rec = kpid_parsers::Record::new();
    let mut counts = apps::Counts::default();
    let batch = crate::sources::AppBatch {
        app: Arc::from("fuzz"),
        conn: 1,
        frames: frames.to_vec(),
    };
    let mut traces = crate::traces::Sampler::default();
    let now = 1.7e9;
    for t in [now, now + 2.5] {
        let clock = Clock { now: t, skew: 60.0 };
        apps::apply(
            &mut rules,
            &mut store,
            &mut rec,
            &batch,
            &mut counts,
            clock,
            &mut traces,
        );
    }
    let _ = traces.publish(now + 3.0);
    let snap = Publisher::default().publish(&mut store, now + 3.0, true);
    let mut out = String::new();
    prom::prometheus(&snap, &mut out);
}

/// An OTLP/HTTP body as the receiver and the engine take it. The first byte picks the
/// signal (traces, logs, metrics), the encoding (protobuf, JSON) and gzip; the rest is the
/// body. A body that decodes is checked (`check::invalid` never finds more items than there
/// are; protobuf re-encodes and decodes to the same request, a trace export decodes in place
/// exactly as `prost` decodes it, and the memory bound reads every body that decodes), then
/// applied twice through `APP_RULES` into a small store, published and rendered. Returns
/// whether it decoded.
pub fn otlp(data: &[u8]) -> bool {
    use crate::sources::otlp::{self, check, Encoding, Request, Signal};
    use prost::Message;
    let Some((&sel, body)) = data.split_first() else {
        return false;
    };
    let signal = [Signal::Traces, Signal::Logs, Signal::Metrics][(sel & 3) as usize % 3];
    let encoding = if sel & 4 == 0 {
        Encoding::Protobuf
    } else {
        Encoding::Json
    };
    let inflated;
    let body = if sel & 8 != 0 {
        match otlp::gunzip(body, 1 << 20) {
            Ok(b) => {
                assert!(b.len() <= 1 << 20, "inflated past the cap");
                inflated = b;
                &inflated[..]
            }
            Err(_) => return false,
        }
    } else {
        body
    };
    let Ok(request) = otlp::decode(signal, encoding, body.to_vec()) else {
        if let (Signal::Traces, Encoding::Protobuf) = (signal, encoding) {
            let prost = otlp::proto::ExportTraceServiceRequest::decode(body);
            assert!(prost.is_err(), "prost decodes what kpid refuses");
        }
        return false;
    };
    assert_eq!(request.signal(), signal);
    let (items, invalid, why) = check::invalid(&request);
    assert!(invalid <= items && (invalid == 0) == why.is_empty());
    if encoding == Encoding::Protobuf {
        // The memory bound walks every body that decodes.
        otlp::size::protobuf(signal, body).expect("a body that decodes is estimated");
        let again = |b: Vec<u8>| {
            otlp::decode(signal, encoding, b)
                .expect("a decoded request re-encodes to one that decodes")
        };
        match &request {
            Request::Traces(t) => {
                // The in-place decoder reads what prost reads.
                let prost = otlp::proto::ExportTraceServiceRequest::decode(body)
                    .expect("prost decodes what kpid decodes");
                assert_eq!(t.to_message(), prost);
                let Request::Traces(a) = again(prost.encode_to_vec()) else {
                    unreachable!("traces decode as traces")
                };
                assert_eq!(a.to_message(), prost);
            }
            Request::Logs(l) => {
                assert_eq!(
                    format!("{:?}", again(l.encode_to_vec())),
                    format!("{request:?}")
                )
            }
            Request::Metrics(m) => {
                assert_eq!(
                    format!("{:?}", again(m.encode_to_vec())),
                    format!("{request:?}")
                )
            }
        }
    }
    let (mut rules, mut store) = app_rules();
    let mut rec = kpid_parsers::Record::new();
    let mut engine = crate::engine::otlp::Otlp::default();
    let stats = otlp::OtlpStats::shared();
    let now = 1.7e9;
    for t in [now, now + 2.5] {
        let batch = otlp::OtlpBatch::unbudgeted(request.clone(), stats.clone());
        let clock = crate::engine::clock::Clock {
            now: t,
            skew: 300.0,
        };
        engine.apply(&mut rules, &mut store, &mut rec, batch, clock);
    }
    engine.flush();
    if let Some(v) = engine.traces.publish(now + 3.0) {
        use crate::traces::{MAX_PENDING, MAX_PENDING_SPANS, MAX_SPANS};
        assert!(v.traces.iter().all(|k| k.trace.spans.len() <= MAX_SPANS));
        assert!(v.stats.pending_traces <= MAX_PENDING as u64);
        assert!(v.stats.pending_spans <= MAX_PENDING_SPANS as u64);
    }
    let snap = Publisher::default().publish(&mut store, now + 3.0, true);
    let mut out = String::new();
    prom::prometheus(&snap, &mut out);
    true
}

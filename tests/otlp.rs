//! The OTLP/HTTP receiver against the built binary: the real OpenTelemetry Python SDK and
//! its OTLP/HTTP exporter (PyPI) send spans, log records and metrics, checked value by value
//! on `/metrics`; OTLP/JSON and gzip bodies sent raw; `kpid run` hands its child the
//! endpoint. Hostile bodies are in `otlp_hostile.rs`.

mod common;
mod otlp_support;

use common::{promtool_check, Kpid};
use otlp_support::*;
use std::process::Command;

#[test]
fn python_sdk_spans_logs_and_metrics_are_exact() {
    let py = otel_python();
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let port = otlp_port(&k);
    let out = Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/otlp_support/send.py"
        ))
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "send.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Spans: 300 frames, each with an `infer` child, one in ten of those in error.
    expect_spans(&k, "pyotel", "frame", 300.0, 0.0, -1.0);
    expect_spans(&k, "pyotel", "infer", 300.0, 30.0, -1.0);
    // Log records: lines by level, numeric attributes as gauges (the last value).
    expect(&k, r#"log_lines_total{level="info",source="pyotel"}"#, 40.0);
    expect(&k, r#"log_lines_total{level="warn",source="pyotel"}"#, 5.0);
    expect(&k, r#"log_lines_total{level="error",source="pyotel"}"#, 1.0);
    expect(&k, r#"queue_depth{source="pyotel"}"#, 4.0);
    // Metrics: cumulative sums exported twice become increments (100 × 2 + 10 × 1).
    expect(&k, r#"requests_total{app="pyotel",route="/a"}"#, 210.0);
    expect(&k, r#"requests_total{app="pyotel",route="/b"}"#, 5.0);
    expect(&k, r#"inflight{app="pyotel"}"#, 7.0);
    expect(&k, r#"temperature{app="pyotel"}"#, 61.5);
    // A histogram in ms: 101 observations (the second export adds one), each bucket's
    // count at its middle clamped to min and max: 51 × 3 ms + 50 × 30 ms.
    expect(
        &k,
        r#"latency_seconds_count{app="pyotel",route="/a"}"#,
        101.0,
    );
    expect(&k, r#"latency_seconds_sum{app="pyotel",route="/a"}"#, 1.653);
    let h = k.json("/api/health");
    let o = &h["otlp"];
    assert_eq!(o["spans"], 600, "{o}");
    assert_eq!(o["log_records"], 46, "{o}");
    assert_eq!(o["rejected_total"], 0, "{o}");
    assert!(o["requests"].as_u64().unwrap() >= 4, "{o}");
    let (_, metrics) = k.get("/metrics");
    assert!(
        metrics.contains(r#"kpid_otlp_items_total{signal="traces"} 600"#),
        "{metrics}"
    );
    assert!(
        sample(&k, r#"code_line_number{source="pyotel"}"#).is_none(),
        "the SDK's code.* attributes are no KPIs"
    );
    promtool_check(&k.get("/metrics").1);
}

#[test]
fn json_and_gzip_bodies_and_partial_success() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let port = otlp_port(&k);
    // OTLP/JSON: hex ids, int64 as strings; the second span ends before it starts.
    let traces = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js"}}]},
      "scopeSpans":[{"scope":{"name":"web"},"spans":[
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"GET /","kind":2,
         "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712660250000000","status":{"code":2}},
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"GET /","kind":2,
         "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712650000000000"}]}]}]}"#;
    let (status, answer) = post(
        port,
        "/v1/traces",
        "Content-Type: application/json\r\n",
        traces.as_bytes(),
    );
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(r#""rejectedSpans":"1""#), "{answer}");
    expect_spans(&k, "js", "GET /", 1.0, 1.0, 0.25);

    // gzip, JSON: a delta counter twice, a gauge, a delta exponential histogram.
    let metrics = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"js"}}]},
      "scopeMetrics":[{"metrics":[
        {"name":"jobs","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[{"asInt":"4","attributes":[{"key":"ok","value":{"boolValue":true}}]}]}},
        {"name":"queue.depth","gauge":{"dataPoints":[{"asDouble":12.5}]}},
        {"name":"size","unit":"By","exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[
          {"count":"3","scale":0,"zeroCount":"1","positive":{"offset":3,"bucketCounts":["2"]}}]}}]}]}]}"#;
    for _ in 0..2 {
        let (status, answer) = post(
            port,
            "/v1/metrics",
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
            &gzip(metrics.as_bytes()),
        );
        assert_eq!(status, 200, "{answer}");
        assert!(answer.ends_with("{}"), "{answer}");
    }
    expect(&k, r#"jobs_total{app="js",ok="true"}"#, 8.0);
    expect(&k, r#"queue_depth{app="js"}"#, 12.5);
    // Bucket 3 at scale 0 is (8, 16]: observed at 8·√2, twice per export; zero once.
    expect(&k, r#"size_bytes_count{app="js"}"#, 6.0);
    expect(&k, r#"size_bytes_sum{app="js"}"#, 4.0 * 8.0 * 2f64.sqrt());

    // gzip, protobuf.
    let body = gzip(&trace_request("pb", "step", 50, 5));
    let (status, answer) = post(
        port,
        "/v1/traces",
        "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\n",
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    expect_spans(&k, "pb", "step", 50.0, 10.0, 0.1);
    let o = &k.json("/api/health")["otlp"];
    assert_eq!(o["spans"], 51, "{o}");
    assert_eq!(o["rejected_items"], 1, "the span left out is counted: {o}");
    assert_eq!(o["data_points"], 6, "{o}");
    promtool_check(&k.get("/metrics").1);
}

#[test]
fn kpid_run_hands_its_child_the_otlp_endpoint_unless_set() {
    let dir = tempfile::tempdir().unwrap();
    let run = |preset: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kpid"));
        c.args(["run", "--port", "0", "--no-state", "--socket", "k.sock"])
            .args(["--otlp", "127.0.0.1:0", "--"])
            .args([
                "sh",
                "-c",
                "echo \"E=$OTEL_EXPORTER_OTLP_ENDPOINT P=$OTEL_EXPORTER_OTLP_PROTOCOL\"",
            ])
            .current_dir(dir.path())
            .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        if let Some(p) = preset {
            c.env("OTEL_EXPORTER_OTLP_ENDPOINT", p);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.starts_with("E="))
            .unwrap()
            .to_owned()
    };
    let line = run(None);
    let endpoint = line
        .strip_prefix("E=http://127.0.0.1:")
        .unwrap_or_else(|| panic!("{line}"));
    let (port, proto) = endpoint.split_once(' ').unwrap();
    assert_ne!(port.parse::<u16>().unwrap(), 0, "{line}");
    assert_eq!(proto, "P=http/protobuf");
    assert_eq!(
        run(Some("http://collector:4318")),
        "E=http://collector:4318 P="
    );
}

/// OTLP spans and log records take their own time (a span its end), as an app's spans over
/// the socket do: an export that arrives two minutes late lands two minutes back.
#[test]
fn spans_and_log_records_land_at_their_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--state-dir", "state", "--no-socket"]);
    let port = otlp_port(&k);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let end = now - 119;
    let ns = |t: u64| format!("\"{}\"", t * 1_000_000_000);
    let traces = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"late"}}}}]}},
      "scopeSpans":[{{"spans":[{{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"op",
      "startTimeUnixNano":{},"endTimeUnixNano":{}}}]}}]}}]}}"#,
        ns(end - 1),
        ns(end)
    );
    let logs = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"late"}}}}]}},
      "scopeLogs":[{{"logRecords":[{{"timeUnixNano":{},"severityNumber":17,"body":{{"stringValue":"boom"}}}}]}}]}}]}}"#,
        ns(end - 30)
    );
    for (path, body) in [("/v1/traces", traces), ("/v1/logs", logs)] {
        let (status, answer) = post(
            port,
            path,
            "Content-Type: application/json\r\n",
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let times = |kpi: &str| -> Option<Vec<i64>> {
        let h = k.json(&format!("/api/metrics/history?kpi={kpi}&from={}", end - 90));
        let t: Vec<i64> = h["series"].as_array()?.first()?["t"]
            .as_array()?
            .iter()
            .filter_map(|t| t.as_i64())
            .collect();
        (!t.is_empty()).then_some(t)
    };
    let spans = common::wait_for(10, "the span's point", || times("span_total"));
    assert_eq!(spans, vec![end as i64], "at the span's end");
    let lines = common::wait_for(10, "the log record's point", || times("log_lines_total"));
    assert_eq!(lines, vec![end as i64 - 30], "at the record's time");
}

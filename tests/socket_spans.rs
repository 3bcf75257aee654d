//! Spans, events and metrics from apps through a real socket become exact KPIs.

mod socket_support;

use kpid_wire as wire;
use socket_support::*;
use std::time::Duration;

#[test]
fn exact_span_counts_errors_events_and_field_convention() {
    let (_dir, d, layer, guard) = connected_app("cam");
    with_layer(layer, || {
        for i in 0..1000u64 {
            let frame = tracing::info_span!("frame", n = i).entered();
            {
                let _s = tracing::info_span!("infer", model = "yolo").entered();
                if i % 10 == 0 {
                    tracing::error!(frame = i, "inference failed");
                }
            }
            let post = tracing::info_span!("post", error = tracing::field::Empty).entered();
            if i % 100 == 0 {
                post.record("error", true);
            }
            drop(post);
            tracing::info!(
                counter.frames = 1u64,
                gauge.queue_depth = (i % 7) as f64,
                histogram.batch = 4,
                "done"
            );
            drop(frame);
        }
        tracing::warn!(monotonic_counter.retries = 3, "retry");
    });
    assert!(guard.flush(Duration::from_secs(10)));
    expect_total(&d, r#"span_total{app="cam",span="frame"}"#, 1000.0, 20);
    expect_total(&d, r#"span_total{app="cam",span="infer"}"#, 1000.0, 5);
    expect_total(
        &d,
        r#"span_duration_seconds{app="cam",span="infer"}"#,
        1000.0,
        5,
    );
    expect_total(&d, r#"span_errors_total{app="cam",span="infer"}"#, 100.0, 5);
    expect_total(&d, r#"span_errors_total{app="cam",span="post"}"#, 10.0, 5);
    expect_total(&d, r#"span_errors_total{app="cam",span="frame"}"#, 0.0, 5);
    expect_total(&d, r#"events_total{app="cam",level="error"}"#, 100.0, 5);
    expect_total(&d, r#"events_total{app="cam",level="info"}"#, 1000.0, 5);
    expect_total(&d, r#"events_total{app="cam",level="warn"}"#, 1.0, 5);
    expect_total(&d, r#"frames_total{app="cam"}"#, 1000.0, 5);
    expect_total(&d, r#"retries_total{app="cam"}"#, 3.0, 5);
    expect_total(&d, r#"batch{app="cam"}"#, 1000.0, 5);
    let g = d.latest(r#"queue_depth{app="cam"}"#).expect("gauge");
    assert_eq!(g["kind"], "gauge");
    assert_eq!(g["value"].as_f64(), Some((999 % 7) as f64));
    let k = d
        .latest(r#"span_duration_seconds{app="cam",span="frame"}"#)
        .unwrap();
    assert_eq!(
        (k["kind"].as_str(), k["unit"].as_str()),
        (Some("distribution"), Some("s"))
    );
    let sum = k["sum"].as_f64().unwrap();
    assert!(sum > 0.0 && sum < 60.0, "durations in seconds: {k}");
    assert!(
        k["p99"].as_f64().unwrap() >= k["p50"].as_f64().unwrap(),
        "{k}"
    );
    let h = d.socket_health();
    assert_eq!(h["rejected_total"], 0, "{h}");
    assert_eq!(h["app_dropped"], 0, "{h}");
    assert_eq!(h["spans"], 3000, "{h}");
    assert_eq!(h["apps"][0]["app"], "cam", "{h}");
    assert_eq!(guard.stats().dropped, [0; 5]);
}

#[test]
fn explicit_metric_samples_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let mut raw = Raw::hello(&path, "api");
    let mut b = Vec::new();
    for i in 0..10 {
        wire::encode_metric(
            &mut b,
            wire::MetricKind::Counter,
            "requests_total",
            &[("route", "/a"), ("app", "spoof")],
            2.0,
        );
        wire::encode_metric(&mut b, wire::MetricKind::Gauge, "inflight", &[], i as f64);
        wire::encode_metric(
            &mut b,
            wire::MetricKind::Histogram,
            "latency seconds",
            &[("route", "/a")],
            0.01 * i as f64,
        );
    }
    raw.send(&b).unwrap();
    expect_total(&d, r#"requests_total{app="api",route="/a"}"#, 20.0, 10);
    expect_total(&d, r#"latency_seconds{app="api",route="/a"}"#, 10.0, 5);
    let last = d
        .latest(r#"inflight{app="api"}"#)
        .and_then(|k| k["value"].as_f64());
    assert_eq!(last, Some(9.0));
    assert_eq!(d.socket_health()["metrics"], 30);
}

#[test]
fn fifty_concurrent_apps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let apps: Vec<_> = (0..50)
        .map(|a| {
            let path = path.clone();
            std::thread::spawn(move || {
                let (layer, guard) = app_layer(&path, &format!("app{a:02}"));
                settled(&guard);
                with_layer(layer, || {
                    for i in 0..2000u64 {
                        let _s = tracing::info_span!("step", i).entered();
                    }
                });
                assert!(guard.flush(Duration::from_secs(20)));
                guard.stats()
            })
        })
        .collect();
    for a in apps {
        let st = a.join().unwrap();
        assert_eq!(st.dropped, [0; 5], "{st:?}");
        assert_eq!(st.sent, 2000);
    }
    wait_until(20, "100 000 spans applied", || {
        d.socket_health()["spans"] == 100_000
    });
    let latest = d.kpid.json("/api/metrics/latest");
    for a in 0..50 {
        let id = format!(r#"span_total{{app="app{a:02}",span="step"}}"#);
        let k = latest["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id.as_str());
        assert_eq!(k.and_then(|k| k["total"].as_f64()), Some(2000.0), "{id}");
    }
    let h = d.socket_health();
    assert_eq!(h["spans"], 100_000, "{h}");
    assert_eq!(h["connections"], 50, "{h}");
}

#[test]
fn demo_pipeline_reports_every_stage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t = {
        let (path, stop) = (path.clone(), stop.clone());
        std::thread::spawn(move || kpid::demo::spans::run(path, stop))
    };
    for stage in ["frame", "capture", "preprocess", "infer", "postprocess"] {
        let id = format!(r#"span_total{{app="demo-pipeline",span="{stage}"}}"#);
        wait_until(20, &id, || d.total(&id).unwrap_or(0.0) >= 5.0);
    }
    wait_until(10, "detections per frame", || {
        d.total(r#"detections{app="demo-pipeline"}"#).unwrap_or(0.0) >= 5.0
    });
    // The demo's frames are traced: the sample holds some with their stages.
    let list = wait_for(20, "a sampled demo trace", || {
        let v = d.kpid.json("/api/traces");
        (!v["traces"].as_array()?.is_empty()).then_some(v)
    });
    let id = list["traces"][0]["trace_id"].as_str().unwrap();
    let w = d.kpid.json(&format!("/api/traces/{id}"));
    let names: Vec<_> = w["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["frame", "capture", "preprocess", "infer", "postprocess"],
        "{w}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    t.join().unwrap();
    let k = d
        .latest(r#"span_duration_seconds{app="demo-pipeline",span="infer"}"#)
        .unwrap();
    let p50 = k["p50"].as_f64().unwrap();
    assert!(p50 > 0.005 && p50 < 0.1, "infer p50 {p50} s: {k}");
}

/// Protocol version 2: the layer's spans carry ids, so the daemon assembles the app's
/// traces and keeps the slowest and the failed with their waterfalls (`/api/traces`).
#[test]
fn layer_spans_become_trace_waterfalls() {
    let (_dir, d, layer, guard) = connected_app("cam");
    with_layer(layer, || {
        for i in 0..20u64 {
            let _frame = tracing::info_span!("frame", n = i).entered();
            {
                let _s = tracing::info_span!("infer", model = "yolo").entered();
                {
                    let _k = tracing::info_span!("kernel").entered();
                    let ms = if i == 7 { 40 } else { 1 };
                    std::thread::sleep(Duration::from_millis(ms));
                }
                if i % 5 == 0 {
                    tracing::error!("inference failed");
                }
            }
            drop(tracing::info_span!("post").entered());
        }
    });
    assert!(guard.flush(Duration::from_secs(10)));
    let list = wait_for(20, "the slowest and the failed traces", || {
        let v = d.kpid.json("/api/traces");
        let n = v["traces"].as_array()?.len();
        // Five slowest, plus the failed ones (frames 0, 5, 10, 15) not among them.
        let st = &d.kpid.json("/api/health")["traces"];
        let seen = st["sampled"].as_u64()? + st["not_sampled"].as_u64()?;
        (n >= 5 && seen == 20).then_some(v)
    });
    let traces = list["traces"].as_array().unwrap();
    let failed = traces.iter().filter(|t| t["error"] == true).count();
    assert_eq!(failed, 4, "{list}");
    let slowest = traces
        .iter()
        .max_by(|a, b| {
            a["duration"]
                .as_f64()
                .partial_cmp(&b["duration"].as_f64())
                .unwrap()
        })
        .unwrap();
    assert_eq!(
        (&slowest["app"], &slowest["root"]),
        (&"cam".into(), &"frame".into())
    );
    assert!(slowest["duration"].as_f64().unwrap() >= 0.040, "{slowest}");
    let id = slowest["trace_id"].as_str().unwrap();
    let w = d.kpid.json(&format!("/api/traces/{id}"));
    let spans = w["spans"].as_array().unwrap();
    let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["frame", "infer", "kernel", "post"], "{w}");
    let id_of = |n: usize| spans[n]["id"].clone();
    assert_eq!(spans[0]["parent"], serde_json::Value::Null);
    assert_eq!(spans[1]["parent"], id_of(0), "infer inside frame: {w}");
    assert_eq!(spans[2]["parent"], id_of(1), "kernel inside infer: {w}");
    assert_eq!(spans[3]["parent"], id_of(0), "post inside frame: {w}");
    assert_eq!(spans[0]["attributes"]["n"], "7", "{w}");
    assert_eq!(spans[1]["attributes"]["model"], "yolo", "{w}");
    assert!(spans[2]["duration"].as_f64().unwrap() >= 0.040, "{w}");
    // Span KPIs are counted as before.
    expect_total(&d, r#"span_total{app="cam",span="kernel"}"#, 20.0, 5);
}

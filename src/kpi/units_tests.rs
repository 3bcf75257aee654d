use super::*;

fn f(key: &str) -> (String, &'static str, f64) {
    let u = for_field(key);
    (u.name, u.unit, u.scale)
}

fn n(s: &str) -> String {
    s.to_owned()
}

#[test]
fn abbreviated_units_become_base_units() {
    assert_eq!(f("latency_ms"), (n("latency_seconds"), "s", 1e-3));
    assert_eq!(f("e2e_msec"), (n("e2e_seconds"), "s", 1e-3));
    assert_eq!(f("wait_us"), (n("wait_seconds"), "s", 1e-6));
    assert_eq!(f("parse_ns"), (n("parse_seconds"), "s", 1e-9));
    assert_eq!(f("uptime_s"), (n("uptime_seconds"), "s", 1.0));
    assert_eq!(f("uptime_secs"), (n("uptime_seconds"), "s", 1.0));
    assert_eq!(f("gpu_mem_mb"), (n("gpu_mem_bytes"), "bytes", 1e6));
    assert_eq!(f("rss_kb"), (n("rss_bytes"), "bytes", 1e3));
    assert_eq!(f("heap_gib"), (n("heap_bytes"), "bytes", 1_073_741_824.0));
    assert_eq!(f("latency_ms_p99"), (n("latency_p99_seconds"), "s", 1e-3));
    assert_eq!(f("gpuMemMB"), (n("gpu_mem_bytes"), "bytes", 1e6));
    assert_eq!(f("latencyMs"), (n("latency_seconds"), "s", 1e-3));
}

/// Issue 8.6: a dashboard showed "14.7 min" for 880 tokens/s.
#[test]
fn tokens_per_s_is_a_rate_not_seconds() {
    assert_eq!(f("tokens_per_s"), (n("tokens_per_second"), "/s", 1.0));
    assert_eq!(f("req_per_sec"), (n("req_per_second"), "/s", 1.0));
    assert_eq!(f("req_per_second"), (n("req_per_second"), "/s", 1.0));
    assert_eq!(f("jobs_per_min"), (n("jobs_per_second"), "/s", 1.0 / 60.0));
    assert_eq!(f("rows_ps"), (n("rows_per_second"), "/s", 1.0));
    assert_eq!(f("api_rps"), (n("api_requests_per_second"), "/s", 1.0));
    assert_eq!(f("qps"), (n("queries_per_second"), "/s", 1.0));
    assert_eq!(f("fps"), (n("frames_per_second"), "frames/s", 1.0));
    assert_eq!(f("fps_in"), (n("frames_in_per_second"), "frames/s", 1.0));
    assert_eq!(f("kb_per_s"), (n("bytes_per_second"), "bytes/s", 1e3));
}

#[test]
fn percents_temperatures_and_plain_names() {
    assert_eq!(f("cpu_pct"), (n("cpu_percent"), "%", 1.0));
    assert_eq!(f("gpu_util"), (n("gpu_util_percent"), "%", 1.0));
    assert_eq!(
        f("mem_utilization"),
        (n("mem_utilization_percent"), "%", 1.0)
    );
    assert_eq!(f("disk%"), (n("disk_percent"), "%", 1.0));
    assert_eq!(f("temp_c"), (n("temp_celsius"), "°C", 1.0));
    assert_eq!(f("gpu_temp_celsius"), (n("gpu_temp_celsius"), "°C", 1.0));
    let t = for_field("temp_f");
    assert_eq!(t.name, "temp_celsius");
    assert!((t.apply(212.0) - 100.0).abs() < 1e-9);
    assert_eq!(f("queue_len"), (n("queue_len"), "", 1.0));
    assert_eq!(f("stage_ms.infer"), (n("stage_infer_seconds"), "s", 1e-3));
    assert_eq!(f("distance_kilometers"), (n("distance_meters"), "m", 1e3));
}

#[test]
fn counters_end_in_total_and_nothing_else_does() {
    let c = |s: &str| for_kpi(s, Kind::Counter).name;
    let g = |s: &str| for_kpi(s, Kind::Gauge).name;
    let d = |s: &str| for_kpi(s, Kind::Distribution).name;
    assert_eq!(c("requests"), "requests_total");
    assert_eq!(c("requests_total"), "requests_total");
    assert_eq!(c("sent_kb_total"), "sent_bytes_total");
    assert_eq!(for_kpi("sent_kb_total", Kind::Counter).scale, 1e3);
    assert_eq!(g("bytes_total"), "bytes_total_value");
    assert_eq!(g("retry_count"), "retry_count_value");
    assert_eq!(d("batch_sum"), "batch_sum_value");
    assert_eq!(g("mem_gauge"), "mem");
    assert_eq!(g("5xx"), "_5xx");
    assert_eq!(g("ms"), "seconds");
}

#[test]
fn rules_may_name_the_unit_apart() {
    let r = for_rule("latency", Kind::Distribution, "ms");
    assert_eq!(
        (r.name.as_str(), r.unit, r.scale),
        ("latency_seconds", "s", 1e-3)
    );
    let r = for_rule("frames_total", Kind::Counter, "frames");
    assert_eq!((r.name.as_str(), r.unit), ("frames_total", ""));
    let r = for_rule("e2e_latency_seconds", Kind::Distribution, "s");
    assert_eq!((r.name.as_str(), r.scale), ("e2e_latency_seconds", 1.0));
    let r = for_rule("gpu", Kind::Gauge, "%");
    assert_eq!((r.name.as_str(), r.unit), ("gpu_percent", "%"));
}

#[test]
fn durations_end_in_seconds_unscaled() {
    let d = for_duration_field("took");
    assert_eq!(
        (d.name.as_str(), d.unit, d.scale),
        ("took_seconds", "s", 1.0)
    );
    let d = for_duration_field("took_ms");
    assert_eq!(
        (d.name.as_str(), d.unit, d.scale),
        ("took_seconds", "s", 1.0)
    );
}

#[test]
fn mapping_is_idempotent() {
    for key in [
        "latency_ms",
        "gpu_mem_mb",
        "tokens_per_s",
        "fps_in",
        "gpu_util",
        "temp_c",
        "kb_per_s",
        "retry_count",
        "bytes_total",
        "latency_ms_count",
        "queue_len",
        "api_rps",
    ] {
        let once = for_field(key);
        let twice = for_field(&once.name);
        assert_eq!(twice.name, once.name, "{key}");
        assert_eq!(twice.scale, 1.0, "{key}");
    }
    let once = for_kpi("sent_kb", Kind::Counter);
    assert_eq!(for_kpi(&once.name, Kind::Counter).name, once.name);
}

#[test]
fn a_ratio_names_its_own_unit() {
    for name in [
        "gpu_utilization_ratio",
        "host_cpu_utilization_ratio",
        "cache_hit_ratio",
    ] {
        let f = for_kpi(name, Kind::Gauge);
        assert_eq!(f.name, name);
        assert_eq!(f.scale, 1.0, "{name}");
    }
}

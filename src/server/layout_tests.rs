use super::*;
use crate::server::dashboard::PanelConfig;

fn desc(name: &str, kind: Kind, unit: &str, help: &str) -> Desc {
    Desc {
        id: name.to_owned(),
        name: name.to_owned(),
        labels: Vec::new(),
        kind,
        unit: unit.to_owned(),
        help: help.to_owned(),
        buckets: None,
    }
}

/// The demo's catalogue, as `kpid demo` publishes it.
fn demo() -> Vec<Desc> {
    use Kind::*;
    vec![
        desc(
            "frames_in_per_second",
            Gauge,
            "frames/s",
            "field `fps_in` of parsed lines (gauge: number)",
        ),
        desc(
            "frames_out_per_second",
            Gauge,
            "frames/s",
            "field `fps_out` of parsed lines",
        ),
        desc(
            "frames_total",
            Counter,
            "frames",
            "frames out of the pipeline",
        ),
        desc(
            "e2e_latency_seconds",
            Distribution,
            "s",
            "end-to-end latency of each frame, capture to output",
        ),
        desc(
            "infer_latency_seconds",
            Distribution,
            "s",
            "inference time of each frame",
        ),
        desc("errors_total", Counter, "", "errors by pipeline stage"),
        desc(
            "dropped_frames_total",
            Counter,
            "frames",
            "frames dropped by a full queue, by queue",
        ),
        desc(
            "queue_depth",
            Gauge,
            "",
            "from event fields (tracing metrics convention)",
        ),
        desc(
            "gpu_util_percent",
            Gauge,
            "%",
            "field `gpu_util` of parsed lines",
        ),
        desc(
            "log_lines_total",
            Counter,
            "lines",
            "log lines read, by source and level",
        ),
        desc("span_total", Counter, "", "spans closed"),
        desc("host_cpu_cores", Gauge, "", "logical cpus"),
        desc("host_load1", Gauge, "", "runnable tasks, 1 min average"),
    ]
}

#[test]
fn the_default_layout_reads_as_a_pipeline() {
    let kpis = demo();
    let l = Layout::build(kpis.iter(), &DashboardConfig::default());
    let g = |n: &str| l.get(n).unwrap().group.as_str();
    assert_eq!(g("frames_in_per_second"), "throughput");
    assert_eq!(g("frames_total"), "throughput");
    assert_eq!(g("e2e_latency_seconds"), "latency");
    assert_eq!(g("queue_depth"), "queues");
    assert_eq!(g("errors_total"), "errors");
    assert_eq!(g("dropped_frames_total"), "errors");
    assert_eq!(g("gpu_util_percent"), "resources");
    assert_eq!(g("span_total"), "spans");
    // The spans table's columns come from here, not from names known to the page.
    assert_eq!(l.get("span_total").unwrap().span, Some("calls"));
    assert_eq!(l.get("frames_total").unwrap().span, None);
    assert_eq!(g("host_load1"), "system");
    assert_eq!(g("log_lines_total"), "kpid");
    assert!(l.get("log_lines_total").unwrap().collapsed);
    let h = |n: &str| l.get(n).unwrap().headline;
    assert_eq!(h("frames_in_per_second"), Some(0));
    assert_eq!(h("frames_out_per_second"), Some(1));
    assert_eq!(h("e2e_latency_seconds"), Some(2));
    assert_eq!(h("errors_total"), Some(3));
    assert_eq!(h("infer_latency_seconds"), None);
    // Titles: the help's first clause, or the name without its unit.
    assert_eq!(
        l.get("e2e_latency_seconds").unwrap().title,
        "End-to-end latency of each frame"
    );
    assert_eq!(l.get("frames_in_per_second").unwrap().title, "Frames in");
    assert_eq!(l.get("queue_depth").unwrap().title, "Queue depth");
    assert_eq!(l.get("gpu_util_percent").unwrap().title, "GPU util");
    assert_eq!(l.get("host_cpu_cores").unwrap().chart, ChartKind::None);
    assert_eq!(l.get("host_load1").unwrap().chart, ChartKind::Line);
    // Ranks follow the sections' order.
    let r = |n: &str| l.get(n).unwrap().group_order;
    assert!(
        r("frames_total") < r("e2e_latency_seconds")
            && r("e2e_latency_seconds") < r("errors_total")
    );
}

#[test]
fn a_new_kpi_moves_no_other_one() {
    let mut kpis = demo();
    let before = Layout::build(kpis.iter(), &DashboardConfig::default());
    kpis.insert(
        0,
        desc(
            "decode_latency_seconds",
            Kind::Distribution,
            "s",
            "decode time",
        ),
    );
    kpis.push(desc("cache_hits_total", Kind::Counter, "", ""));
    let after = Layout::build(kpis.iter(), &DashboardConfig::default());
    for d in demo() {
        assert_eq!(before.get(&d.name), after.get(&d.name), "{}", d.name);
    }
}

#[test]
fn config_panels_take_their_kpis_in_the_files_order() {
    let kpis = demo();
    let panel = |title: &str, kpis: &[&str], section: Option<&str>| PanelConfig {
        title: title.into(),
        kpis: kpis.iter().map(|s| s.to_string()).collect(),
        chart: ChartKind::Area,
        order: None,
        stacked: true,
        thresholds: vec![0.03],
        section: section.map(str::to_owned),
        help: None,
    };
    let cfg = DashboardConfig {
        headline: Some(vec!["frames_total".into(), "gpu_util_percent".into()]),
        panels: vec![
            panel("Frames", &["frames_*"], None),
            panel(
                "Latency",
                &["e2e_latency_seconds", "infer_latency_seconds"],
                Some("Speed"),
            ),
            panel("Again", &["frames_total"], None),
        ],
    };
    let l = Layout::build(kpis.iter(), &cfg);
    let p = l.get("frames_in_per_second").unwrap();
    assert_eq!(
        (p.panel.as_str(), p.group.as_str(), p.group_order, p.order),
        ("panel:Frames", "panel:Panels", 0, 0)
    );
    assert!(p.stacked && p.chart == ChartKind::Area && p.thresholds == [0.03]);
    // The first panel that selects a KPI has it.
    assert_eq!(l.get("frames_total").unwrap().panel, "panel:Frames");
    let q = l.get("infer_latency_seconds").unwrap();
    assert_eq!(
        (
            q.panel.as_str(),
            q.group_title.as_str(),
            q.group_order,
            q.order
        ),
        ("panel:Latency", "Speed", 1, 1)
    );
    // The rest keep the default layout; the headline is the config's.
    assert_eq!(l.get("errors_total").unwrap().group, "errors");
    assert_eq!(l.get("errors_total").unwrap().headline, None);
    assert_eq!(l.get("gpu_util_percent").unwrap().headline, Some(1));
    assert_eq!(l.get("frames_total").unwrap().headline, Some(0));
}

/// The errors tile shows a counter of errors (a rate) before a ratio of them: a ratio's
/// series (one per label set) do not add up to anything.
#[test]
fn the_errors_headline_prefers_a_counter_to_a_ratio() {
    let kpis = [
        desc("error_rate", Kind::Gauge, "", "errors over requests"),
        desc("requests_total", Kind::Counter, "", "requests"),
        desc("errors_total", Kind::Counter, "", "errors"),
    ];
    let l = Layout::build(kpis.iter(), &DashboardConfig::default());
    assert_eq!(l.get("error_rate").unwrap().group, "errors");
    assert_eq!(l.get("errors_total").unwrap().headline, Some(1));
    assert_eq!(l.get("error_rate").unwrap().headline, None);
}

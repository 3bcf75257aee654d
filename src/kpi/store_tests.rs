use super::*;
use crate::kpi::series::BucketData;

fn spec<'a>(name: &'a str, labels: &'a [(&'a str, &'a str)], kind: Kind) -> SeriesSpec<'a> {
    SeriesSpec {
        name,
        labels,
        kind,
        unit: "",
        help: "",
        buckets: None,
    }
}

#[test]
fn ids_sort_labels_and_escape() {
    let mut s = Store::new(Limits::default());
    let r = s
        .resolve(&spec("x", &[("b", "2"), ("a", "q\"1")], Kind::Gauge))
        .unwrap();
    let r2 = s
        .resolve(&spec("x", &[("a", "q\"1"), ("b", "2")], Kind::Gauge))
        .unwrap();
    assert_eq!(r, r2);
    assert_eq!(s.iter().next().unwrap().0.id, "x{a=\"q\\\"1\",b=\"2\"}");
}

#[test]
fn label_sets_fold_into_other_past_the_cap() {
    let limits = Limits {
        max_label_sets: 3,
        ..Limits::default()
    };
    let mut s = Store::new(limits);
    let values: Vec<String> = (0..10).map(|i| i.to_string()).collect();
    for v in &values {
        let r = s
            .resolve(&spec("hits_total", &[("user", v)], Kind::Counter))
            .unwrap();
        s.apply(r, Obs::Add(1.0), 100.0);
    }
    assert_eq!(s.len(), 4, "3 real label sets plus `other`");
    let (_, other) = s.get("hits_total{user=\"other\"}").unwrap();
    assert_eq!(
        other.total, 7.0,
        "nothing is lost: folded samples count into other"
    );
    assert_eq!(s.drops().label_sets_folded, 7);
}

#[test]
fn kind_conflicts_and_series_cap_are_counted() {
    let limits = Limits {
        max_series: 1,
        ..Limits::default()
    };
    let mut s = Store::new(limits);
    let r = s.resolve(&spec("a", &[], Kind::Gauge)).unwrap();
    assert!(s
        .resolve(&spec("a", &[("x", "1")], Kind::Counter))
        .is_none());
    assert!(s.resolve(&spec("b", &[], Kind::Gauge)).is_none());
    s.apply(r, Obs::Add(1.0), 1.0);
    let d = s.drops();
    assert_eq!((d.kind_conflicts, d.series_refused), (2, 1));
}

#[test]
fn refused_names_leave_nothing_behind() {
    // Regression: a unique name per line grew the name table by ~219 bytes each, never
    // freed, after the series cap had been reached.
    let limits = Limits {
        max_series: 10,
        ..Limits::default()
    };
    let mut s = Store::new(limits);
    for i in 0..10_000 {
        let name = format!("k{i}");
        if let Some(r) = s.resolve(&spec(&name, &[], Kind::Gauge)) {
            s.apply(r, Obs::Set(1.0), 1.0);
        }
    }
    assert_eq!(s.len(), 10);
    assert_eq!(s.names.len(), 10);
    assert_eq!(s.drops().series_refused, 9_990);
}

#[test]
fn counters_refuse_negative_and_non_finite_values() {
    let mut s = Store::new(Limits::default());
    let c = s.resolve(&spec("c_total", &[], Kind::Counter)).unwrap();
    let g = s.resolve(&spec("g", &[], Kind::Gauge)).unwrap();
    for v in [-1.0, f64::NAN, f64::INFINITY, 2.0] {
        s.apply(c, Obs::Add(v), 1.0);
    }
    s.apply(g, Obs::Set(f64::NEG_INFINITY), 1.0);
    assert_eq!(s.get("c_total").unwrap().1.total, 2.0);
    assert_eq!(s.drops().invalid_values, 4);
}

#[test]
fn deltas_ship_each_observation_once() {
    let mut s = Store::new(Limits::default());
    let c = s.resolve(&spec("c_total", &[], Kind::Counter)).unwrap();
    s.apply(c, Obs::Add(1.0), 10.2);
    s.ship_to_history();
    let g = s.resolve(&spec("g", &[], Kind::Gauge)).unwrap();
    s.apply(c, Obs::Add(2.0), 10.5);
    s.apply(g, Obs::Set(5.0), 10.6);
    s.apply(g, Obs::Set(3.0), 11.1);
    let (mut descs, mut out) = (Vec::new(), Vec::new());
    s.take_deltas(&mut descs, &mut out);
    assert_eq!(descs.len(), 2, "every series is described once");
    let got: Vec<_> = out.iter().map(|d| (d.series, d.t)).collect();
    assert_eq!(got, vec![(0, 10), (1, 10), (1, 11)]);
    assert!(matches!(out[0].data, BucketData::Counter(v) if v == 2.0));
    s.apply(c, Obs::Add(4.0), 10.9);
    let (mut d2, mut o2) = (Vec::new(), Vec::new());
    s.take_deltas(&mut d2, &mut o2);
    assert!(d2.is_empty());
    assert_eq!(o2.len(), 1);
    let mut merged = out[0].data.clone();
    merged.merge(&o2[0].data);
    assert!(matches!(merged, BucketData::Counter(v) if v == 6.0));
}

#[test]
fn window_is_bounded() {
    let limits = Limits {
        window_buckets: 10,
        ..Limits::default()
    };
    let mut s = Store::new(limits);
    let r = s.resolve(&spec("lat", &[], Kind::Distribution)).unwrap();
    for t in 0..1000 {
        s.apply(r, Obs::Observe(t as f64), 1000.0 + t as f64);
    }
    let (_, series) = s.get("lat").unwrap();
    assert_eq!(series.buckets.len(), 10);
    assert_eq!(series.total, 1000.0);
    let snap = crate::kpi::Publisher::default().publish(&mut s, 2000.0, true);
    let pts = &snap.get("lat").unwrap().points;
    assert!(
        pts.iter().count() <= 10 + 64,
        "points trimmed to the window, by chunks"
    );
    assert_eq!(pts.iter().last().map(|p| p.t()), Some(1999));
}

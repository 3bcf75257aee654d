//! Event time in the store: late observations within the lateness update their own bucket
//! and its chart point, older ones reach history only, an old replay keeps its own times.

use super::series::BucketData;
use super::*;

const T0: f64 = 1_795_428_000.0; // 2026-11-23T10:00:00Z

fn store(shipping: bool) -> Store {
    let mut s = Store::new(Limits::default());
    if shipping {
        s.ship_to_history();
    }
    s
}

fn series(s: &mut Store, name: &str, kind: Kind) -> SeriesRef {
    s.resolve(&SeriesSpec {
        name,
        labels: &[],
        kind,
        unit: "",
        help: "",
        buckets: None,
    })
    .unwrap()
}

fn points(s: &mut Store, id: &str, now: f64) -> Vec<Point> {
    let snap = Publisher::default().publish(s, now, true);
    snap.get(id).unwrap().points.iter().copied().collect()
}

fn value(p: &[Point], t: f64) -> Option<f64> {
    p.iter().find_map(|p| match p {
        Point::Value { t: pt, value } if *pt == t as i64 => Some(*value),
        _ => None,
    })
}

#[test]
fn a_late_line_within_the_lateness_updates_its_bucket_and_point() {
    let mut s = store(false);
    let c = series(&mut s, "c_total", Kind::Counter);
    for i in 0..20 {
        s.apply(c, Obs::Add(1.0), T0 + f64::from(i));
    }
    let before = points(&mut s, "c_total", T0 + 20.5);
    assert_eq!(value(&before, T0 + 5.0), Some(1.0));
    // Late into a raw bucket that had data, into a gap, past the raw buckets, and into the
    // newest bucket once it was logged.
    s.apply(c, Obs::Add(2.0), T0 + 5.2);
    s.apply(c, Obs::Add(1.0), T0 - 30.0);
    s.apply(c, Obs::Add(4.0), T0 + 19.9);
    let r = series(&mut s, "r_total", Kind::Counter);
    for i in 0..200 {
        s.apply(r, Obs::Add(1.0), T0 + f64::from(i));
    }
    s.apply(r, Obs::Add(3.0), T0 + 100.0);
    s.apply(r, Obs::Add(3.0), T0 - 50.5);
    let after = points(&mut s, "c_total", T0 + 21.5);
    assert_eq!(
        value(&after, T0 + 5.0),
        Some(3.0),
        "re-logged from its raw bucket"
    );
    assert_eq!(
        value(&after, T0 - 30.0),
        Some(1.0),
        "a bucket made in its place"
    );
    assert_eq!(
        value(&after, T0 + 19.0),
        Some(5.0),
        "the newest, logged, then late"
    );
    let ts: Vec<i64> = after.iter().map(Point::t).collect();
    assert!(
        ts.windows(2).all(|w| w[0] < w[1]),
        "points stay in order: {ts:?}"
    );
    assert_eq!(s.get("c_total").unwrap().1.total, 27.0);
    let rp = points(&mut s, "r_total", T0 + 200.5);
    assert_eq!(
        value(&rp, T0 + 100.0),
        Some(4.0),
        "corrected past the raw buckets"
    );
    assert_eq!(
        value(&rp, T0 - 51.0),
        Some(3.0),
        "made past the raw buckets"
    );
    assert_eq!(s.event_stats().late_observations, 0);
}

#[test]
fn older_than_the_lateness_goes_to_history_only() {
    let mut s = store(true);
    let c = series(&mut s, "c_total", Kind::Counter);
    let g = series(&mut s, "g", Kind::Gauge);
    s.apply(c, Obs::Add(1.0), T0 + 1000.0);
    s.apply(g, Obs::Set(7.0), T0 + 1000.0);
    s.apply(c, Obs::Add(5.0), T0 + 1000.0 - 301.0);
    s.apply(g, Obs::Set(1.0), T0 + 1000.0 - 299.0);
    assert_eq!(s.event_stats().late_observations, 1);
    let (_, cs) = s.get("c_total").unwrap();
    assert_eq!(cs.total, 6.0, "the running total counts it");
    assert_eq!(cs.buckets.len(), 1, "the live window does not");
    let (_, gs) = s.get("g").unwrap();
    assert_eq!(gs.last, 7.0, "a late gauge value is not the latest");
    let pts = points(&mut s, "c_total", T0 + 1001.5);
    assert_eq!(pts.len(), 1);
    let (mut descs, mut out) = (Vec::new(), Vec::new());
    s.take_deltas(&mut descs, &mut out);
    let got: Vec<(u32, i64)> = out.iter().map(|d| (d.series, d.t)).collect();
    let t = T0 as i64 + 1000;
    assert_eq!(got, vec![(0, t - 301), (0, t), (1, t - 299), (1, t)]);
    assert!(matches!(out[0].data, BucketData::Counter(v) if v == 5.0));
}

#[test]
fn an_old_replay_keeps_its_times_and_the_window_follows_its_newest() {
    let mut s = store(true);
    let c = series(&mut s, "c_total", Kind::Counter);
    let d = series(&mut s, "lat", Kind::Distribution);
    for i in 0..7200 {
        let t = T0 + f64::from(i);
        s.apply(c, Obs::Add(1.0), t);
        s.apply(d, Obs::Observe(0.5), t);
        if s.flush_due() {
            let (mut descs, mut out) = (Vec::new(), Vec::new());
            s.take_deltas(&mut descs, &mut out);
            assert!(out.len() >= super::ship::FLUSH_AT);
        }
    }
    assert_eq!(s.drops().history_unshipped, 0, "shipped before the cap");
    let now = T0 + 7.0 * 86400.0;
    let pts = points(&mut s, "c_total", now);
    let (first, last) = (pts[0].t(), pts[pts.len() - 1].t());
    assert_eq!(last, T0 as i64 + 7199, "the newest event time, not now");
    assert!(
        first >= T0 as i64 + 7199 - 3600 - 64,
        "one window behind: {first}"
    );
    let snap = Publisher::default().publish(&mut s, now, true);
    let l = &snap.get("c_total").unwrap().latest;
    assert_eq!(
        (l.rate, l.total),
        (Some(0.0), Some(7200.0)),
        "nothing happens now"
    );
    assert_eq!(l.t, T0 + 7199.0);
    let dl = &snap.get("lat").unwrap().latest;
    assert_eq!((dl.count, dl.p50), (Some(7200.0), None));
}

#[test]
fn window_figures_count_late_lines_within_the_window() {
    let mut s = store(false);
    let c = series(&mut s, "c_total", Kind::Counter);
    let d = series(&mut s, "lat", Kind::Distribution);
    let now = T0 + 100.0;
    for i in 0..10 {
        s.apply(c, Obs::Add(1.0), now - 9.5 + f64::from(i));
    }
    // Late by 8 s, and from before the rate window: the rate counts the first only. The
    // window is the buckets from now - 9 s (9 of the 10 in order here), over 9 s.
    s.apply(c, Obs::Add(10.0), now - 8.0);
    s.apply(c, Obs::Add(100.0), now - 50.0);
    s.apply(d, Obs::Observe(1.0), now - 1.0);
    s.apply(d, Obs::Observe(9.0), now - 40.0);
    let snap = Publisher::default().publish(&mut s, now, true);
    let l = &snap.get("c_total").unwrap().latest;
    assert!((l.rate.unwrap() - (9.0 + 10.0) / 9.0).abs() < 1e-9, "{l:?}");
    let dl = &snap.get("lat").unwrap().latest;
    assert_eq!(
        (dl.min, dl.max),
        (Some(1.0), Some(9.0)),
        "both within the minute"
    );
}

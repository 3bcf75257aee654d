use super::*;

fn s(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn an_exposition_round_trips_through_protobuf_and_snappy() {
    let text = concat!(
        "# HELP log_lines_total lines\n# TYPE log_lines_total counter\n",
        "log_lines_total{source=\"app\",level=\"warn\"} 42\n",
        "latency_seconds{quantile=\"0.99\",path=\"a\\\"b\\\\c\\nd\"} 0.25\n",
        "empty_label{gpu=\"0\",UUID=\"\"} NaN\n",
        "up 1\n",
        "neg -Inf\n",
        "up 2\n",
    );
    let external = s(&[("instance", "host-1"), ("job", "kpid")]);
    let batches = encode(text, 1_764_500_000_123, &external, 100);
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].samples, 5);
    let got = decode(&batches[0].body);
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[0].0,
        s(&[
            ("__name__", "log_lines_total"),
            ("instance", "host-1"),
            ("job", "kpid"),
            ("level", "warn"),
            ("source", "app"),
        ])
    );
    assert_eq!(got[0].1, vec![(42.0, 1_764_500_000_123)]);
    assert_eq!(
        got[1].0,
        s(&[
            ("__name__", "latency_seconds"),
            ("instance", "host-1"),
            ("job", "kpid"),
            ("path", "a\"b\\c\nd"),
            ("quantile", "0.99"),
        ])
    );
    assert_eq!(got[1].1[0].0, 0.25);
    // Empty label values are left out, as a scrape would; NaN stays NaN.
    assert_eq!(
        got[2].0,
        s(&[
            ("__name__", "empty_label"),
            ("gpu", "0"),
            ("instance", "host-1"),
            ("job", "kpid"),
        ])
    );
    assert!(got[2].1[0].0.is_nan());
    assert_eq!(got[4].1[0].0, f64::NEG_INFINITY);
    // `up` came twice: the first is kept, as a scrape would.
    assert_eq!(got[3].0[0], ("__name__".into(), "up".into()));
    assert_eq!(got[3].1[0].0, 1.0);
}

#[test]
fn a_series_label_wins_over_an_external_one_and_batches_are_capped() {
    let mut text = String::new();
    for i in 0..25 {
        text.push_str(&format!("g{{job=\"mine\",i=\"{i}\"}} {i}\n"));
    }
    let batches = encode(&text, -5, &s(&[("job", "kpid")]), 10);
    assert_eq!(
        batches.iter().map(|b| b.samples).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    let all: Vec<_> = batches.iter().flat_map(|b| decode(&b.body)).collect();
    assert_eq!(all.len(), 25);
    for (i, (labels, samples)) in all.iter().enumerate() {
        assert_eq!(labels[2], ("job".into(), "mine".into()));
        assert_eq!(samples, &vec![(i as f64, -5)]);
    }
}

#[test]
fn varints_match_their_length() {
    for v in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
        let mut out = Vec::new();
        varint(&mut out, v);
        assert_eq!(out.len(), varint_len(v), "{v}");
    }
}

use super::*;

fn batch(text: &str, levels: &[u8]) -> (Vec<u8>, Vec<LineMeta>) {
    let mut metas = Vec::new();
    let mut off = 0u32;
    for (i, l) in text.split('\n').filter(|l| !l.is_empty()).enumerate() {
        metas.push(LineMeta {
            off,
            len: l.len() as u32,
            level: levels.get(i).copied().unwrap_or(0),
            ts: f64::NAN,
        });
        off += l.len() as u32 + 1;
    }
    (text.as_bytes().to_vec(), metas)
}

fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
}

fn texts(r: &query::LogsReply<'_>) -> Vec<String> {
    r.lines.iter().map(|l| l.text.clone()).collect()
}

#[test]
fn keeps_the_last_lines_of_each_source_and_counts_the_rest() {
    let mut ring = LogRing::new(LogsConfig {
        lines_per_source: 5,
        ..LogsConfig::default()
    });
    let a: Arc<str> = "a".into();
    let b: Arc<str> = "b".into();
    for i in 0..4 {
        let (d, m) = batch(&format!("a{i}.0\na{i}.1\na{i}.2\n"), &[]);
        ring.push(&a, 10.0 + i as f64, d, m);
    }
    let (d, m) = batch("b0\n", &[]);
    ring.push(&b, 20.0, d, m);
    let snap = ring.publish().expect("changed");
    assert!(ring.publish().is_none(), "nothing new, nothing published");
    let sa = &snap.sources[0];
    assert_eq!((sa.kept, sa.total, sa.evicted), (5, 12, 7));
    let r = LogQuery::parse(&params(&[("source", "a")]))
        .unwrap()
        .run(&snap);
    assert_eq!(texts(&r), ["a2.1", "a2.2", "a3.0", "a3.1", "a3.2"]);
    let all = LogQuery::parse(&[]).unwrap().run(&snap);
    assert_eq!(all.lines.len(), 6);
    assert_eq!(
        all.lines.last().unwrap().text,
        "b0",
        "newest last, across sources"
    );
}

#[test]
fn the_byte_cap_drops_whole_old_batches() {
    let mut ring = LogRing::new(LogsConfig {
        bytes_per_source: 100,
        ..LogsConfig::default()
    });
    let a: Arc<str> = "a".into();
    for i in 0..10 {
        let (d, m) = batch(&format!("{:039}\n", i), &[]);
        ring.push(&a, 1.0, d, m);
    }
    let snap = ring.publish().unwrap();
    assert_eq!(
        snap.sources[0].kept, 2,
        "two 40-byte batches fit in 100 bytes"
    );
    assert_eq!(snap.sources[0].evicted, 8);
}

#[test]
fn filters_by_level_regex_and_time_and_pages_back() {
    let mut ring = LogRing::new(LogsConfig::default());
    let a: Arc<str> = "app".into();
    let (d, m) = batch(
        "start ok\nGPU error: out of memory\nslow frame 88 ms\nerror again\n",
        &[3, 5, 4, 5],
    );
    ring.push(&a, 100.0, d, m);
    let (d, m) = batch("later\n", &[3]);
    ring.push(&a, 200.0, d, m);
    let snap = ring.publish().unwrap();
    let q = |p: &[(&str, &str)]| LogQuery::parse(&params(p)).unwrap().run(&snap);
    assert_eq!(
        texts(&q(&[("level", "error")])),
        ["GPU error: out of memory", "error again"]
    );
    assert_eq!(
        texts(&q(&[("level", "warn,error"), ("limit", "1")])),
        ["error again"]
    );
    assert!(q(&[("level", "warn,error"), ("limit", "1")]).more);
    let r = q(&[("q", "(?i)gpu|frame \\d+")]);
    assert_eq!(r.lines.len(), 2);
    assert_eq!(r.lines[0].hl, vec![[0, 3]]);
    assert_eq!(texts(&q(&[("from", "150")])), ["later"]);
    assert_eq!(texts(&q(&[("to", "1970-01-01T00:02:00Z")])).len(), 4);
    let first = q(&[("limit", "2")]);
    let older = q(&[("limit", "2"), ("before", &first.lines[0].seq.to_string())]);
    assert_eq!(
        texts(&older),
        ["GPU error: out of memory", "slow frame 88 ms"]
    );
    let follow = q(&[("after", &older.lines[1].seq.to_string())]);
    assert_eq!(texts(&follow), ["error again", "later"]);
}

#[test]
fn bad_parameters_say_what_is_wrong() {
    let e = |p: &[(&str, &str)]| LogQuery::parse(&params(p)).unwrap_err().to_string();
    assert!(e(&[("level", "loud")]).starts_with("level: \"loud\""));
    assert!(e(&[("q", "(")]).starts_with("q: "));
    assert!(e(&[("from", "yesterday")]).contains("not a time"));
    assert!(e(&[("colour", "red")]).contains("unknown parameter"));
    let long = "a".repeat(2000);
    assert!(e(&[("q", &long)]).contains("longer than"));
}

#[test]
fn invalid_utf8_and_long_lines_are_shown_safely() {
    let mut ring = LogRing::new(LogsConfig::default());
    let a: Arc<str> = "a".into();
    let mut data = b"bad \xff byte\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 20_000));
    data.push(b'\n');
    let metas = vec![
        LineMeta {
            off: 0,
            len: 10,
            level: 0,
            ts: f64::NAN,
        },
        LineMeta {
            off: 11,
            len: 20_000,
            level: 0,
            ts: 5.0,
        },
    ];
    ring.push(&a, 1.0, data, metas);
    let snap = ring.publish().unwrap();
    let r = LogQuery::parse(&[]).unwrap().run(&snap);
    assert_eq!(r.lines[0].text, "bad \u{fffd} byte");
    assert!(r.lines[1].truncated && r.lines[1].text.len() == query::MAX_TEXT);
    assert_eq!(r.lines[1].t, 5.0, "the line's own time");
}

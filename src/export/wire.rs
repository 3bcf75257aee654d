//! Remote-write 1.0 on the wire: the Prometheus text exposition kpid renders for `/metrics`
//! turned into `WriteRequest` protobuf messages (prometheus/prompb `remote.proto`,
//! `types.proto`), compressed with snappy's block format.
//!
//! The schema is four messages, encoded by hand:
//! `WriteRequest { repeated TimeSeries timeseries = 1; }`,
//! `TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }`,
//! `Label { string name = 1; string value = 2; }`,
//! `Sample { double value = 1; int64 timestamp = 2; }` (milliseconds).

use std::hash::BuildHasher;

/// One request body: snappy-compressed `WriteRequest`, and how many samples it holds.
#[derive(Debug, Clone)]
pub(super) struct Batch {
    pub body: bytes::Bytes,
    pub samples: usize,
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(out: &mut Vec<u8>, field: u8, b: &[u8]) {
    out.push(field << 3 | 2);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends one `TimeSeries` (field 1 of `WriteRequest`) with one sample; `labels` sorted by
/// name, `__name__` among them.
fn series(out: &mut Vec<u8>, labels: &[(&str, &str)], value: f64, ts_ms: i64) {
    let label_len = |k: &str, v: &str| {
        2 + varint_len(k.len() as u64) + k.len() + varint_len(v.len() as u64) + v.len()
    };
    let sample_len = 1 + 8 + 1 + varint_len(ts_ms as u64);
    let len: usize = labels
        .iter()
        .map(|(k, v)| {
            let l = label_len(k, v);
            1 + varint_len(l as u64) + l
        })
        .sum::<usize>()
        + 1
        + varint_len(sample_len as u64)
        + sample_len;
    out.push(1 << 3 | 2);
    varint(out, len as u64);
    for (k, v) in labels {
        out.push(1 << 3 | 2);
        varint(out, label_len(k, v) as u64);
        bytes_field(out, 1, k.as_bytes());
        bytes_field(out, 2, v.as_bytes());
    }
    out.push(2 << 3 | 2);
    varint(out, sample_len as u64);
    out.push(1 << 3 | 1);
    out.extend_from_slice(&value.to_le_bytes());
    out.push(2 << 3);
    varint(out, ts_ms as u64);
}

/// Turns an exposition into request bodies of at most `max_samples` samples each, every
/// sample stamped `ts_ms`, `external` labels (sorted) added where a series lacks them.
/// Series keep the exposition's order; a repeated series and labels with empty values are left
/// out, as a scrape would.
pub(super) fn encode(
    exposition: &str,
    ts_ms: i64,
    external: &[(String, String)],
    max_samples: usize,
) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut n = 0;
    let mut unescaped: Vec<String> = Vec::new();
    let mut enc = snap::raw::Encoder::new();
    let mut flush = |buf: &mut Vec<u8>, n: &mut usize| {
        if *n > 0 {
            let body = enc.compress_vec(buf).expect("snappy compresses any input");
            batches.push(Batch {
                body: body.into(),
                samples: *n,
            });
        }
        buf.clear();
        *n = 0;
    };
    // A series twice in one request with two values makes Prometheus refuse the whole
    // request: the first one is kept, as a scrape would.
    let mut seen = rustc_hash::FxHashSet::default();
    for line in exposition.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key = line.rsplit_once(' ').map_or(line, |(k, _)| k);
        if !seen.insert(rustc_hash::FxBuildHasher.hash_one(key)) {
            continue;
        }
        unescaped.clear();
        let Some((name, raw, value)) = split_line(line, &mut unescaped) else {
            continue;
        };
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(raw.len() + 1 + external.len());
        labels.push(("__name__", name));
        let mut it = unescaped.iter();
        for (k, v) in raw {
            let v = match v {
                Some(v) => v,
                None => it.next().map_or("", |s| s.as_str()),
            };
            if !v.is_empty() {
                labels.push((k, v));
            }
        }
        for (k, v) in external {
            if !labels.iter().any(|(n, _)| n == k) {
                labels.push((k, v));
            }
        }
        labels.sort_unstable_by(|a, b| a.0.cmp(b.0));
        series(&mut buf, &labels, value, ts_ms);
        n += 1;
        if n >= max_samples {
            flush(&mut buf, &mut n);
        }
    }
    flush(&mut buf, &mut n);
    batches
}

type Labels<'a> = Vec<(&'a str, Option<&'a str>)>;

/// `name{k="v",...} value`: the name, the labels (a value is `None` when it had escapes: its
/// unescaped text is pushed on `unescaped`, in order) and the value.
fn split_line<'a>(
    line: &'a str,
    unescaped: &mut Vec<String>,
) -> Option<(&'a str, Labels<'a>, f64)> {
    let end = line.find(['{', ' '])?;
    let name = &line[..end];
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            rest = rest.strip_prefix(',').unwrap_or(rest);
            let eq = rest.find("=\"")?;
            let key = &rest[..eq];
            let body = &rest[eq + 2..];
            let quote = body.find('"')?;
            if !body[..quote].contains('\\') {
                labels.push((key, Some(&body[..quote])));
                rest = &body[quote + 1..];
                continue;
            }
            let mut s = String::new();
            let mut chars = body.char_indices();
            let mut after = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => s.push('\n'),
                        c => s.push(c),
                    },
                    '"' => {
                        after = Some(i + 1);
                        break;
                    }
                    c => s.push(c),
                }
            }
            unescaped.push(s);
            labels.push((key, None));
            rest = &body[after?..];
        }
    }
    let v = rest.trim().split(' ').next()?;
    let value = match v {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some((name, labels, value))
}

/// A decoded series, for tests: labels in order, and its samples (value, timestamp ms).
#[cfg(test)]
pub(super) type Decoded = (Vec<(String, String)>, Vec<(f64, i64)>);

/// Decodes a request body back (snappy, then protobuf), for tests.
#[cfg(test)]
pub(super) fn decode(body: &[u8]) -> Vec<Decoded> {
    fn read_varint(b: &[u8], i: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let x = b[*i];
            *i += 1;
            v |= ((x & 0x7f) as u64) << shift;
            if x < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    /// (field, wire type, payload bytes or the varint/fixed64 as 8 bytes).
    fn fields(b: &[u8]) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let tag = read_varint(b, &mut i);
            match tag & 7 {
                0 => out.push((tag >> 3, read_varint(b, &mut i).to_le_bytes().to_vec())),
                1 => {
                    out.push((tag >> 3, b[i..i + 8].to_vec()));
                    i += 8;
                }
                2 => {
                    let n = read_varint(b, &mut i) as usize;
                    out.push((tag >> 3, b[i..i + n].to_vec()));
                    i += n;
                }
                w => panic!("unexpected wire type {w}"),
            }
        }
        out
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
    let le = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap());
    fields(&raw)
        .into_iter()
        .map(|(f, ts)| {
            assert_eq!(f, 1, "WriteRequest holds timeseries only");
            let mut labels = Vec::new();
            let mut samples = Vec::new();
            for (f, m) in fields(&ts) {
                let inner = fields(&m);
                match f {
                    1 => labels.push((text(&inner[0].1), text(&inner[1].1))),
                    2 => samples.push((f64::from_bits(le(&inner[0].1)), le(&inner[1].1) as i64)),
                    f => panic!("unexpected TimeSeries field {f}"),
                }
            }
            (labels, samples)
        })
        .collect()
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;

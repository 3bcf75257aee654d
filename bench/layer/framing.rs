//! Framing choice for docs/protocol.md: one span close (name, target, parent, start,
//! duration, level, error, 2 fields) encoded and decoded as length-prefixed binary
//! (`kpid-wire`) and as one line of newline-delimited JSON (`serde_json`, borrowed strings).
//! Run: `cargo bench -p kpid-wire --bench framing`.

use kpid_wire as wire;
use serde::{Deserialize, Serialize};
use std::hint::black_box;
use std::time::Instant;

#[derive(Serialize, Deserialize)]
struct JsonSpan<'a> {
    t: &'a str,
    name: &'a str,
    target: &'a str,
    parent: &'a str,
    start_unix_ns: u64,
    duration_ns: u64,
    level: u8,
    error: bool,
    #[serde(borrow)]
    fields: JsonFields<'a>,
}

#[derive(Serialize, Deserialize)]
struct JsonFields<'a> {
    frame: u64,
    model: &'a str,
}

const N: u64 = 2_000_000;

fn time(label: &str, bytes: usize, f: impl FnMut(u64)) -> f64 {
    let mut f = f;
    for i in 0..N / 10 {
        f(i);
    }
    let t = Instant::now();
    for i in 0..N {
        f(i);
    }
    let ns = t.elapsed().as_nanos() as f64 / N as f64;
    println!("{label:<22} {ns:>7.1} ns/span  {bytes:>4} B/span");
    ns
}

fn main() {
    let mut scratch = Vec::new();
    let mut buf = Vec::with_capacity(256);
    let span = |i: u64, scratch: &mut Vec<u8>, buf: &mut Vec<u8>| {
        let fields = wire::Fields::encode(
            scratch,
            &[
                ("frame", wire::Value::U64(i)),
                ("model", wire::Value::Str("yolov8n")),
            ],
        );
        wire::encode_span(
            buf,
            &wire::SpanClose {
                name: "infer",
                target: "pipeline::stages",
                parent: "frame",
                start_unix_ns: 1_732_400_000_123_456_789 + i,
                duration_ns: 12_345_678,
                level: wire::Level::Info,
                error: false,
                fields,
            },
        );
    };
    span(0, &mut scratch, &mut buf);
    let bin_len = buf.len();
    let js = |i: u64| JsonSpan {
        t: "span",
        name: "infer",
        target: "pipeline::stages",
        parent: "frame",
        start_unix_ns: 1_732_400_000_123_456_789 + i,
        duration_ns: 12_345_678,
        level: 2,
        error: false,
        fields: JsonFields {
            frame: i,
            model: "yolov8n",
        },
    };
    let mut line = serde_json::to_vec(&js(0)).unwrap();
    line.push(b'\n');
    let json_len = line.len();

    let be = time("binary encode", bin_len, |i| {
        buf.clear();
        span(i, &mut scratch, &mut buf);
        black_box(&buf);
    });
    let frame = buf.clone();
    let bd = time("binary decode", bin_len, |_| {
        let (_, body, _) = wire::split_frame(black_box(&frame), wire::MAX_FRAME_LEN)
            .unwrap()
            .unwrap();
        let s = wire::decode_span(body).unwrap();
        black_box((s.duration_ns, s.fields.count()));
    });
    let mut out = Vec::with_capacity(256);
    let je = time("json encode", json_len, |i| {
        out.clear();
        serde_json::to_writer(&mut out, &js(i)).unwrap();
        out.push(b'\n');
        black_box(&out);
    });
    let jd = time("json decode", json_len, |_| {
        let l = black_box(&line);
        let end = memchr_nl(l);
        let s: JsonSpan = serde_json::from_slice(&l[..end]).unwrap();
        black_box((s.duration_ns, s.fields.frame));
    });
    println!(
        "json / binary: encode {:.1}x, decode {:.1}x, size {:.1}x",
        je / be,
        jd / bd,
        json_len as f64 / bin_len as f64
    );
}

fn memchr_nl(b: &[u8]) -> usize {
    b.iter().position(|&c| c == b'\n').unwrap_or(b.len())
}

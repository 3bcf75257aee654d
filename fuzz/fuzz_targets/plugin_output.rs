//! The plugin output boundary: what a plugin (in-process, or through its worker's reply) may
//! hand the daemon. `bounds::locate` on any (pointer, length) never accepts a range that
//! reaches outside the line into the batch around it, never accepts more than the limit
//! outside the line, and maps a range inside the line to the right bytes; the worker reply
//! decoder (`worker::proto::decode`) never panics and only borrows bytes of the line.
#![no_main]

use kpid::plugin_host::bounds::{locate, Span};
use kpid::plugin_host::worker::decode::decode;
use kpid_parsers::{Record, Value};
use libfuzzer_sys::fuzz_target;
use std::borrow::Cow;

fn word(d: &[u8], i: usize) -> usize {
    let mut b = [0u8; 8];
    for (j, x) in b.iter_mut().enumerate() {
        *x = d.get(i * 8 + j).copied().unwrap_or(0);
    }
    // Small addresses, so that ranges meet the line and the batch often.
    (u64::from_le_bytes(b) % 4096) as usize
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 48 {
        return;
    }
    // A batch at [base, base+batch), the line inside it; a read-only segment somewhere.
    let base = 1 + word(data, 0);
    let batch = 1 + word(data, 1) % 512;
    let line_at = base + word(data, 2) % batch;
    let line_len = word(data, 3) % (base + batch - line_at + 1);
    let line = line_at..line_at + line_len;
    let around = base..base + batch;
    let ro = {
        let s = word(data, 4);
        s..s + word(data, 5) % 256
    };
    let (addr, len, max) = (
        word(data, 4) ^ word(data, 1),
        word(data, 2) % 8192,
        1 + word(data, 5),
    );
    let addr = if data[47] & 1 == 1 {
        usize::MAX - addr
    } else {
        addr
    };
    match locate(
        addr,
        len,
        line.clone(),
        around.clone(),
        std::slice::from_ref(&ro),
        max,
    ) {
        Ok(Span::Line(r)) => {
            assert!(
                r.end <= line.len() && r.len() == len,
                "{r:?} of a {}-byte line",
                line.len()
            );
        }
        Ok(Span::ReadOnly | Span::Copy) => {
            let end = addr + len;
            assert!(
                len <= max,
                "{len} bytes accepted outside the line, limit {max}"
            );
            assert!(
                end <= around.start || addr >= around.end,
                "a range in the batch was accepted"
            );
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with('a') || msg.starts_with("more"), "{msg}");
        }
    }
    // The rest: a worker reply entry for a line of the fuzzer's own bytes.
    let (line_bytes, entry) = data[48..].split_at(data[48..].len() / 3);
    let mut rec = Record::default();
    let mut key = |_: usize, b: &[u8]| Cow::Owned(b.to_vec());
    // Key ids the worker defined earlier (sent once as bytes, then as numbers).
    let ids: [Cow<'static, [u8]>; 3] = [
        Cow::Borrowed(b"status"),
        Cow::Borrowed(b"path"),
        Cow::Borrowed(b"request_time"),
    ];
    if let Ok(Ok(())) = decode(entry, line_bytes, &mut rec, &ids, &mut key) {
        for f in &rec.fields {
            // A key sent as an id is the worker's earlier definition (here: `ids`), not the line.
            let defined = ids.iter().any(|i| i.as_ptr() == f.key.as_ptr());
            if let (Cow::Borrowed(k), false) = (&f.key, defined) {
                let (p, n) = (k.as_ptr() as usize, k.len());
                let (s, e) = (
                    line_bytes.as_ptr() as usize,
                    line_bytes.as_ptr() as usize + line_bytes.len(),
                );
                assert!(
                    n == 0 || (p >= s && p + n <= e),
                    "a borrowed key outside the line"
                );
            }
            if let Value::Str(Cow::Borrowed(v)) = &f.value {
                let (p, n) = (v.as_ptr() as usize, v.len());
                let (s, e) = (
                    line_bytes.as_ptr() as usize,
                    line_bytes.as_ptr() as usize + line_bytes.len(),
                );
                assert!(
                    n == 0 || (p >= s && p + n <= e),
                    "a borrowed value outside the line"
                );
            }
        }
    }
});

//! History chunks as read back from disk (a damaged file, a truncated page): decoding any
//! bytes never panics nor allocates past the chunk's own size, and what decodes re-encodes
//! (in whichever value encoding the encoder picks) and decodes to the same points, bit for bit.
#![no_main]

use kpid::history::codec::{decode, encode, Agg};
use libfuzzer_sys::fuzz_target;

fn same(a: &Agg, b: &Agg) -> bool {
    let s = |x: f64, y: f64| x.to_bits() == y.to_bits();
    match (a, b) {
        (Agg::Counter(x), Agg::Counter(y)) => s(*x, *y),
        (Agg::Gauge(x), Agg::Gauge(y)) => {
            s(x.last, y.last) && s(x.min, y.min) && s(x.max, y.max) && s(x.sum, y.sum) && x.count == y.count
        }
        (Agg::Dist(x), Agg::Dist(y)) => {
            x.count == y.count && s(x.sum, y.sum) && s(x.min, y.min) && s(x.max, y.max)
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&res, chunk)) = data.split_first() else {
        return;
    };
    let res = [1, 60, 3600][res as usize % 3];
    let mut pts = Vec::new();
    let Ok(kind) = decode(chunk, res, &mut pts) else {
        return;
    };
    assert!(pts.len() <= chunk.len() * 8, "{} points from {} bytes", pts.len(), chunk.len());
    // Times must be increasing for a chunk the writer made; a damaged one may not be, and
    // is still re-encodable when they are.
    if pts.windows(2).any(|w| w[0].0 >= w[1].0) || pts.iter().any(|p| p.1.kind() != kind) {
        return;
    }
    let mut again = Vec::new();
    encode(kind, res, &pts, &mut again);
    let mut back = Vec::new();
    assert_eq!(decode(&again, res, &mut back).expect("a re-encoded chunk decodes"), kind);
    assert_eq!(back.len(), pts.len());
    for (a, b) in pts.iter().zip(&back) {
        assert_eq!(a.0, b.0);
        assert!(same(&a.1, &b.1), "{:?} != {:?}", a.1, b.1);
    }
});

//! Round trips of the chunk codec over many random series, with NaN, infinities, -0.0,
//! irregular times, and every truncation of a chunk refused without a panic.

use super::*;

use crate::history::bench::Rng;

fn odd_value(r: &mut Rng) -> f64 {
    match r.below(12) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => -0.0,
        4 => f64::from_bits(r.next_u64()),
        5 => (r.below(100) as f64) * 0.1,
        6 => f64::MIN_POSITIVE,
        _ => (r.unit() - 0.5) * 1e6,
    }
}

fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

fn equal(a: &Agg, b: &Agg) -> bool {
    match (a, b) {
        (Agg::Counter(x), Agg::Counter(y)) => same_bits(*x, *y),
        (Agg::Gauge(x), Agg::Gauge(y)) => {
            same_bits(x.last, y.last)
                && same_bits(x.min, y.min)
                && same_bits(x.max, y.max)
                && same_bits(x.sum, y.sum)
                && x.count == y.count
        }
        (Agg::Dist(x), Agg::Dist(y)) => {
            x.count == y.count
                && same_bits(x.sum, y.sum)
                && same_bits(x.min, y.min)
                && same_bits(x.max, y.max)
                && x.sketch == y.sketch
        }
        _ => false,
    }
}

fn random_series(r: &mut Rng, kind: Kind, n: usize) -> Vec<(i64, Agg)> {
    let mut t = (r.next_u64() as i64) >> 20;
    let mut walk = 100.0;
    (0..n)
        .map(|_| {
            t += match r.below(10) {
                0 => r.below(1 << 40) as i64,
                1 => 2 + r.below(5000) as i64,
                _ => 1,
            };
            walk += (r.below(5) as f64) - 2.0;
            let v = if r.below(8) == 0 { odd_value(r) } else { walk };
            let a = match kind {
                Kind::Counter => Agg::Counter(v),
                Kind::Gauge if r.below(3) == 0 => Agg::Gauge(GaugeAgg {
                    last: v,
                    min: odd_value(r),
                    max: v + 1.0,
                    sum: v * 3.0,
                    count: 1 + r.below(100_000),
                }),
                Kind::Gauge => Agg::Gauge(GaugeAgg {
                    last: v,
                    min: v,
                    max: v,
                    sum: v,
                    count: 1,
                }),
                Kind::Distribution => {
                    let mut d = DistBucket::default();
                    for _ in 0..r.below(20) {
                        d.observe(odd_value(r));
                    }
                    Agg::Dist(Box::new(d))
                }
            };
            (t, a)
        })
        .collect()
}

/// Asserts that `buf` decodes to `pts` of `kind`, bit for bit.
fn assert_decodes_to(buf: &[u8], kind: Kind, pts: &[(i64, Agg)]) {
    let mut back = Vec::new();
    assert_eq!(decode(buf, 1, &mut back).unwrap(), kind);
    assert_eq!(back.len(), pts.len());
    for ((t, a), (u, b)) in pts.iter().zip(&back) {
        assert_eq!(t, u);
        assert!(equal(a, b), "{a:?} != {b:?}");
    }
}

#[test]
fn random_series_round_trip_bit_exact() {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..300 {
        let kind = [Kind::Counter, Kind::Gauge, Kind::Distribution][i % 3];
        let n = 1 + r.below(if i % 50 == 0 { 3000 } else { 200 }) as usize;
        let pts = random_series(&mut r, kind, n);
        let mut buf = Vec::new();
        encode(kind, 1, &pts, &mut buf);
        assert_decodes_to(&buf, kind, &pts);
    }
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let mut r = Rng(7);
    for kind in [Kind::Counter, Kind::Gauge, Kind::Distribution] {
        let pts = random_series(&mut r, kind, 40);
        let mut buf = Vec::new();
        encode(kind, 60, &pts, &mut buf);
        // Every cut of a small chunk; about 600 spread over a large one (a sketch of extreme
        // values is kilobytes, and each decode reads up to the cut: every cut would be
        // quadratic).
        let stride = (buf.len() / 512).max(1);
        let cuts = (0..buf.len())
            .step_by(stride)
            .chain(buf.len().saturating_sub(64)..buf.len());
        for cut in cuts {
            let mut out = Vec::new();
            // A cut inside the last byte's padding may still decode; it must never panic or
            // invent points.
            if decode(&buf[..cut], 60, &mut out).is_ok() {
                assert!(out.len() <= pts.len());
            }
        }
        for _ in 0..200 {
            let mut junk = buf.clone();
            let i = r.below(junk.len() as u64) as usize;
            junk[i] ^= 1 << r.below(8);
            let _ = decode(&junk, 60, &mut Vec::new());
        }
    }
}

#[test]
fn a_typical_second_costs_about_a_byte() {
    // A counter ticking 95..105 a second and a gauge walking by small steps, an hour each.
    let mut r = Rng(3);
    let (mut c, mut g) = (Vec::new(), Vec::new());
    let mut level = 40.0;
    for t in 0..3600 {
        c.push((t, Agg::Counter(95.0 + r.below(11) as f64)));
        level = (level + r.below(3) as f64 - 1.0f64).max(0.0);
        g.push((
            t,
            Agg::from_bucket(&BucketData::Gauge {
                last: level,
                min: level,
                max: level,
            }),
        ));
    }
    for (kind, pts) in [(Kind::Counter, c), (Kind::Gauge, g)] {
        let mut buf = Vec::new();
        encode(kind, 1, &pts, &mut buf);
        let per = buf.len() as f64 / pts.len() as f64;
        assert!(per <= 2.0, "{kind:?}: {per:.2} bytes per point");
    }
}

fn gauge(v: f64) -> Agg {
    Agg::from_bucket(&BucketData::Gauge {
        last: v,
        min: v,
        max: v,
    })
}

fn round_trip(kind: Kind, pts: &[(i64, Agg)]) -> Vec<u8> {
    let mut buf = Vec::new();
    encode(kind, 1, pts, &mut buf);
    let mut back = Vec::new();
    decode(&buf, 1, &mut back).unwrap();
    assert_eq!(back.len(), pts.len());
    for ((t, a), (u, b)) in pts.iter().zip(&back) {
        assert_eq!(t, u);
        assert!(equal(a, b), "{a:?} != {b:?}");
    }
    buf
}

#[test]
fn decimal_values_are_kept_exactly_in_fewer_bytes() {
    let mut r = Rng(21);
    let (mut int, mut tenth, mut micro, mut big) = (0.0f64, 50.0f64, 0.0f64, 9.0e15f64);
    let mut series: [Vec<(i64, Agg)>; 4] = Default::default();
    for t in 0..3600 {
        int = (int + r.below(5) as f64 - 2.0).max(0.0);
        tenth = ((tenth * 10.0 + r.below(7) as f64 - 3.0).round() / 10.0).clamp(-50.0, 100.0);
        micro += 0.000_001 * (r.below(2000) as f64 - 1000.0);
        micro = (micro * 1e6).round() / 1e6;
        big += r.below(1000) as f64;
        for (s, v) in series.iter_mut().zip([int, tenth, micro, big]) {
            s.push((t, gauge(v)));
        }
    }
    let sizes: Vec<f64> = series
        .iter()
        .map(|s| round_trip(Kind::Gauge, s).len() as f64 / s.len() as f64)
        .collect();
    assert!(sizes[0] <= 1.0, "integer gauge: {:.2} B/point", sizes[0]);
    assert!(
        sizes[1] <= 1.2,
        "one-decimal gauge: {:.2} B/point",
        sizes[1]
    );
    // Whatever the encoding picked, never more than XOR alone.
    for (s, per) in series.iter().zip(&sizes) {
        let mut xor = Vec::new();
        encode_with(Kind::Gauge, 1, s, XOR, &mut xor);
        assert!(*per <= xor.len() as f64 / s.len() as f64);
    }
    // One value with more digits, -0.0, NaN: the chunk stays exact (XOR).
    for odd in [0.123_456_789, -0.0, f64::NAN, 1e300] {
        let mut s = series[0][..100].to_vec();
        s[50].1 = gauge(odd);
        round_trip(Kind::Gauge, &s);
        let c: Vec<(i64, Agg)> = (0..100)
            .map(|t| (t, Agg::Counter(if t == 7 { odd } else { t as f64 })))
            .collect();
        round_trip(Kind::Counter, &c);
    }
}

#[test]
fn format_1_chunks_are_still_read() {
    let pts: Vec<(i64, Agg)> = (0..50).map(|t| (t, gauge(t as f64 * 1.5))).collect();
    let mut v2 = Vec::new();
    encode_with(Kind::Gauge, 1, &pts, XOR, &mut v2);
    // Format 1: the same without the encoding byte after the first time.
    let mut at = 1;
    get_varint(&v2, &mut at).unwrap();
    get_varint(&v2, &mut at).unwrap();
    let mut v1 = v2.clone();
    v1.remove(at);
    v1[0] = 1 << 2 | v1[0] & 3;
    let mut back = Vec::new();
    assert_eq!(decode(&v1, 1, &mut back).unwrap(), Kind::Gauge);
    assert!(pts
        .iter()
        .zip(&back)
        .all(|(a, b)| a.0 == b.0 && equal(&a.1, &b.1)));
}

#[test]
fn xor_only_chunks_round_trip_and_whole_bytes_write_as_bit_groups() {
    let mut r = Rng(0x5eed);
    for i in 0..60 {
        let kind = [Kind::Counter, Kind::Gauge, Kind::Distribution][i % 3];
        let n = 1 + r.below(100) as usize;
        let pts = random_series(&mut r, kind, n);
        let mut buf = Vec::new();
        encode_xor(kind, 1, &pts, &mut buf);
        assert_decodes_to(&buf, kind, &pts);
    }
    for lead in 0..8 {
        let bytes: Vec<u8> = (0..40).map(|_| r.below(256) as u8).collect();
        let (mut a, mut b) = (BitWriter::default(), BitWriter::default());
        a.bits(0b101_0110, lead);
        b.bits(0b101_0110, lead);
        for x in &bytes {
            a.bits(*x as u64, 8);
        }
        b.bytes8(&bytes);
        b.bits(0b11, 2);
        a.bits(0b11, 2);
        assert_eq!(a.bytes, b.bytes, "{lead} bits before");
    }
}

/// The bit writer as it first was (one group of bits per byte touched), for comparison.
fn bits_reference(bytes: &mut Vec<u8>, used: &mut u8, v: u64, n: u32) {
    let mut n = n;
    while n > 0 {
        if *used == 0 {
            bytes.push(0);
        }
        let free = 8 - *used as u32;
        let take = free.min(n);
        let chunk = ((v >> (n - take)) & ((1u64 << take) - 1)) as u8;
        *bytes.last_mut().unwrap() |= chunk << (free - take);
        *used = ((*used as u32 + take) % 8) as u8;
        n -= take;
    }
}

#[test]
fn bit_writer_writes_what_it_always_wrote() {
    let mut r = Rng(0xb175);
    let (mut w, mut bytes, mut used) = (BitWriter::default(), Vec::new(), 0u8);
    for _ in 0..20_000 {
        let n = r.below(65) as u32;
        let v = r.next_u64();
        w.bits(v, n);
        bits_reference(&mut bytes, &mut used, v, n);
        if r.below(7) == 0 {
            let b = r.below(2) == 0;
            w.bit(b);
            bits_reference(&mut bytes, &mut used, b as u64, 1);
        }
    }
    assert_eq!(w.bytes, bytes);
}

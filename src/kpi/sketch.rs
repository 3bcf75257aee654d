//! A mergeable quantile sketch with a fixed relative error (logarithmic buckets, as in
//! DDSketch): a value `x > 0` lands in bucket `ceil(log_γ x)` with `γ = (1+α)/(1-α)`, and any
//! quantile is answered within a relative error `α` of a true sample value.

/// Relative accuracy of every [`Sketch`]: quantiles are within 0.8 % of a true value (the
/// foundation issue asks for at most 1 %).
pub const RELATIVE_ACCURACY: f64 = 0.008;

/// Most buckets one sketch keeps; past it the lowest buckets are merged (only the smallest
/// values lose accuracy, which p50/p95/p99 of latencies never read).
const MAX_BINS: usize = 2048;

/// Values at or below this magnitude count as zero.
const MIN_VALUE: f64 = 1e-12;

fn gamma_ln() -> f64 {
    let g = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);
    g.ln()
}

/// Dense run of bucket counts starting at `offset`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Bins {
    offset: i32,
    counts: Vec<u32>,
}

impl Bins {
    fn add(&mut self, idx: i32, n: u32) {
        if self.counts.is_empty() {
            self.offset = idx;
            self.counts.push(n);
            return;
        }
        if idx < self.offset {
            let grow = (self.offset - idx) as usize;
            if self.counts.len() + grow > MAX_BINS {
                // Collapse: the new value joins the lowest bucket kept.
                self.counts[0] += n;
                return;
            }
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.offset = idx;
        }
        let pos = (idx - self.offset) as usize;
        if pos >= self.counts.len() {
            if pos + 1 > MAX_BINS {
                // Keep the highest values exact: drop resolution at the bottom instead.
                // The new value may lie past every bucket kept: then they all merge into one.
                let shift = pos + 1 - MAX_BINS;
                let merged = shift.min(self.counts.len() - 1);
                let low = self.counts[..=merged]
                    .iter()
                    .fold(0u32, |a, &c| a.saturating_add(c));
                self.counts.drain(..merged);
                self.counts[0] = low;
                self.offset += shift as i32;
                return self.add(idx, n);
            }
            self.counts.resize(pos + 1, 0);
        }
        self.counts[pos] += n;
    }

    fn merge(&mut self, other: &Bins) {
        for (i, &c) in other.counts.iter().enumerate() {
            if c > 0 {
                self.add(other.offset + i as i32, c);
            }
        }
    }
}

/// A quantile sketch over `f64` observations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sketch {
    pos: Bins,
    neg: Bins,
    zeros: u64,
    count: u64,
}

impl Sketch {
    /// An empty sketch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of observations.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Adds one observation (NaN is ignored, infinities count as the largest finite value).
    pub fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        let x = x.clamp(-f64::MAX, f64::MAX);
        self.count += 1;
        if x.abs() <= MIN_VALUE {
            self.zeros += 1;
        } else if x > 0.0 {
            self.pos.add(index(x), 1);
        } else {
            self.neg.add(index(-x), 1);
        }
    }

    /// Adds every observation of `other`.
    pub fn merge(&mut self, other: &Sketch) {
        self.pos.merge(&other.pos);
        self.neg.merge(&other.neg);
        self.zeros += other.zeros;
        self.count += other.count;
    }

    /// The `q`-quantile (0 ≤ q ≤ 1), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).floor() as u64;
        let mut seen = 0u64;
        // Negative values, most negative first (highest index of `neg` first).
        for (i, &c) in self.neg.counts.iter().enumerate().rev() {
            seen += c as u64;
            if seen > rank {
                return Some(-value(self.neg.offset + i as i32));
            }
        }
        seen += self.zeros;
        if seen > rank {
            return Some(0.0);
        }
        for (i, &c) in self.pos.counts.iter().enumerate() {
            seen += c as u64;
            if seen > rank {
                return Some(value(self.pos.offset + i as i32));
            }
        }
        Some(value(self.pos.offset + self.pos.counts.len() as i32 - 1))
    }

    /// Appends a compact encoding (varints) to `out`, for history.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.count);
        put_varint(out, self.zeros);
        for b in [&self.pos, &self.neg] {
            put_varint(out, zigzag(b.offset as i64));
            put_varint(out, b.counts.len() as u64);
            for &c in &b.counts {
                put_varint(out, c as u64);
            }
        }
    }

    /// Reads what [`Sketch::encode`] wrote at the start of `buf`; returns the sketch and the
    /// bytes read, or `None` when the bytes are not a sketch.
    pub fn decode(buf: &[u8]) -> Option<(Sketch, usize)> {
        let mut at = 0;
        let count = get_varint(buf, &mut at)?;
        let zeros = get_varint(buf, &mut at)?;
        let mut bins = [Bins::default(), Bins::default()];
        let mut seen = zeros;
        for b in &mut bins {
            let off = unzigzag(get_varint(buf, &mut at)?);
            b.offset = i32::try_from(off).ok()?;
            let n = usize::try_from(get_varint(buf, &mut at)?).ok()?;
            if n > MAX_BINS {
                return None;
            }
            b.counts.reserve(n);
            for _ in 0..n {
                let c = u32::try_from(get_varint(buf, &mut at)?).ok()?;
                seen = seen.checked_add(c as u64)?;
                b.counts.push(c);
            }
            b.offset.checked_add(n as i32)?;
        }
        let [pos, neg] = bins;
        (seen == count).then_some((
            Sketch {
                pos,
                neg,
                zeros,
                count,
            },
            at,
        ))
    }

    /// Heap bytes held (for memory accounting).
    pub fn heap_bytes(&self) -> usize {
        (self.pos.counts.capacity() + self.neg.counts.capacity()) * 4
    }
}

/// Appends `v` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a LEB128 varint at `*at`, advancing it.
pub fn get_varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= ((b & 0x7f) as u64).checked_shl(shift)?;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Signed to unsigned, small magnitudes small.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn index(x: f64) -> i32 {
    (x.ln() / gamma_ln()).ceil() as i32
}

fn value(idx: i32) -> f64 {
    // Midpoint (in relative terms) of bucket (γ^(i-1), γ^i].
    let g = gamma_ln().exp();
    2.0 * (idx as f64 * gamma_ln()).exp() / (g + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (fuzz/corpus/app_frames/crash-sketch-*): a value more than
    /// `MAX_BINS` buckets above every bucket kept panicked in `drain` (the shift ran past the
    /// run), and an infinite one overflowed the bucket index.
    #[test]
    fn fuzz_values_far_above_the_kept_buckets_merge_them_instead_of_panicking() {
        for (low, high) in [
            (1e-11, 1e300),
            (1.0, f64::INFINITY),
            (-1e-11, -f64::INFINITY),
        ] {
            let mut s = Sketch::new();
            s.add(low);
            s.add(low * 2.0);
            s.add(high);
            assert_eq!(s.count(), 3);
            // The extreme quantile is the high value (for ±f64::MAX its bucket's midpoint
            // overflows to an infinity of the same sign).
            let got = s.quantile(if high > 0.0 { 1.0 } else { 0.0 }).unwrap();
            let want = high.clamp(-f64::MAX, f64::MAX);
            assert_eq!(got.signum(), want.signum());
            assert!(
                got.abs() >= want.abs() * (1.0 - 2.0 * RELATIVE_ACCURACY),
                "{got} {want}"
            );
            let bins = if high > 0.0 { &s.pos } else { &s.neg };
            assert!(bins.counts.len() <= MAX_BINS);
            assert_eq!(bins.counts.iter().map(|&c| c as u64).sum::<u64>(), 3);
        }
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        sorted[(q * (sorted.len() - 1) as f64).floor() as usize]
    }

    #[test]
    fn quantiles_within_relative_error() {
        // A skewed latency-like distribution over six decades, deterministic.
        let mut xs: Vec<f64> = (1..=100_000u64)
            .map(|i| {
                let u = ((i * 2_654_435_761) % 1_000_003) as f64 / 1_000_003.0;
                1e-5 * (1.0 + 1e6 * u.powi(4))
            })
            .collect();
        let mut s = Sketch::new();
        for &x in &xs {
            s.add(x);
        }
        xs.sort_by(f64::total_cmp);
        for q in [0.0, 0.01, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            let got = s.quantile(q).unwrap();
            let want = exact(&xs, q);
            let err = (got - want).abs() / want;
            assert!(err <= 0.01, "q={q}: got {got}, want {want}, err {err}");
        }
    }

    #[test]
    fn merge_equals_single_sketch() {
        let mut a = Sketch::new();
        let mut b = Sketch::new();
        let mut all = Sketch::new();
        for i in 0..10_000 {
            let x = (i % 977) as f64 * 0.37 - 20.0;
            if i % 3 == 0 {
                a.add(x)
            } else {
                b.add(x)
            }
            all.add(x);
        }
        a.merge(&b);
        for q in [0.1, 0.5, 0.99] {
            assert_eq!(a.quantile(q), all.quantile(q));
        }
        assert_eq!(a.count(), 10_000);
    }

    #[test]
    fn handles_zero_negative_and_empty() {
        let mut s = Sketch::new();
        assert_eq!(s.quantile(0.5), None);
        for x in [-5.0, 0.0, 0.0, 5.0, f64::NAN] {
            s.add(x);
        }
        assert_eq!(s.count(), 4);
        assert!((s.quantile(0.0).unwrap() + 5.0).abs() / 5.0 <= 0.01);
        assert_eq!(s.quantile(0.5), Some(0.0));
        assert!((s.quantile(1.0).unwrap() - 5.0).abs() / 5.0 <= 0.01);
    }

    #[test]
    fn bins_stay_bounded() {
        let mut s = Sketch::new();
        let mut x = 1e-300;
        while x < 1e300 {
            s.add(x);
            x *= 1.01;
        }
        assert!(s.pos.counts.len() <= MAX_BINS);
        // The top of the range stays accurate.
        let top = s.quantile(1.0).unwrap();
        assert!((top - x / 1.01).abs() / top <= 0.01);
    }

    #[test]
    fn encoding_round_trips_and_refuses_garbage() {
        let mut s = Sketch::new();
        for i in 0..1000 {
            s.add((i as f64 - 300.0) * 0.37);
        }
        let mut buf = vec![];
        s.encode(&mut buf);
        let (d, n) = Sketch::decode(&buf).unwrap();
        assert_eq!((d, n), (s, buf.len()));
        assert!(Sketch::decode(&buf[..buf.len() - 1]).is_none());
        assert!(Sketch::decode(&[0xff; 12]).is_none());
        let mut empty = vec![];
        Sketch::new().encode(&mut empty);
        assert_eq!(Sketch::decode(&empty).unwrap().0, Sketch::new());
    }
}

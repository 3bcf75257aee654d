//! What history keeps per point ([`Agg`]) and how a run of points becomes one compressed
//! chunk ([`encode`], [`decode`]): Gorilla delta-of-delta timestamps and XOR floats in one bit
//! stream. A gauge point whose min, max and mean equal its last value (one set per bucket, the
//! usual case at 1 s) costs one flag bit beyond its value; a counter is its bucket sum; a
//! distribution is count, sum, min, max and its serialized sketch. When every counter sum or
//! gauge value of a chunk is a decimal with few digits (queue depths, percentages with one
//! decimal), the chunk is also written with those values as scaled integers in small deltas
//! (`bits::DecEnc`), and the shorter of the two is kept: lossless either way.

use super::bits::{BitReader, BitWriter, DecEnc, TimeEnc, XorEnc};
use crate::kpi::sketch::{get_varint, put_varint, unzigzag, zigzag, Sketch};
use crate::kpi::{BucketData, DistBucket, Kind};

/// Most points one chunk may claim (a damaged length is refused, not allocated).
const MAX_POINTS: u64 = 1 << 22;
/// Format 2: a byte after the first time says how the main values are written (`XOR`, or
/// the number of decimal digits of [`DecEnc`]). Format 1 (XOR only, no such byte) is read too.
const VERSION: u8 = 2;
const XOR: u8 = 0xff;

/// One gauge point: the last value, extremes, and sum and count of the per-bucket values (for
/// the mean over coarse points).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaugeAgg {
    /// Last value.
    pub last: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sum of the finest buckets' last values.
    pub sum: f64,
    /// How many finest buckets.
    pub count: u64,
}

/// One point of one series in one tier.
#[derive(Debug, Clone)]
pub enum Agg {
    /// Sum of increments.
    Counter(f64),
    /// Gauge figures.
    Gauge(GaugeAgg),
    /// Observations.
    Dist(Box<DistBucket>),
}

/// Why a chunk could not be read.
#[derive(Debug, thiserror::Error)]
#[error("history chunk: {0}")]
pub struct CodecError(pub(crate) &'static str);

impl Agg {
    /// A delta as shipped by the store.
    pub fn from_bucket(d: &BucketData) -> Agg {
        match d {
            BucketData::Counter(v) => Agg::Counter(*v),
            BucketData::Gauge { last, min, max } => Agg::Gauge(GaugeAgg {
                last: *last,
                min: *min,
                max: *max,
                sum: *last,
                count: 1,
            }),
            BucketData::Dist(d) => Agg::Dist(d.clone()),
        }
    }

    /// A delta as shipped by the store, taken (a distribution's observations are moved,
    /// not copied).
    pub fn from_owned(d: BucketData) -> Agg {
        match d {
            BucketData::Dist(d) => Agg::Dist(d),
            other => Agg::from_bucket(&other),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Agg::Counter(_) => Kind::Counter,
            Agg::Gauge(_) => Kind::Gauge,
            Agg::Dist(_) => Kind::Distribution,
        }
    }

    /// Merges a later delta of the same finest bucket: the bucket's last value wins.
    pub fn merge_same(&mut self, later: &Agg) {
        self.roll(later);
        if let Agg::Gauge(g) = self {
            g.sum = g.last;
            g.count = 1;
        }
    }

    /// Folds a later point into a coarser one: counters add, gauges keep the extremes, the
    /// later last value and add sum and count, distributions merge.
    pub fn roll(&mut self, later: &Agg) {
        match (self, later) {
            (Agg::Counter(a), Agg::Counter(b)) => *a += b,
            (Agg::Gauge(a), Agg::Gauge(b)) => {
                if !b.last.is_nan() {
                    a.last = b.last;
                }
                a.min = a.min.min(b.min);
                a.max = a.max.max(b.max);
                a.sum += b.sum;
                a.count += b.count;
            }
            (Agg::Dist(a), Agg::Dist(b)) => a.merge(b),
            _ => {}
        }
    }
}

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::Counter => 0,
        Kind::Gauge => 1,
        Kind::Distribution => 2,
    }
}

/// The kind a chunk holds, from its first byte.
pub fn chunk_kind(buf: &[u8]) -> Option<Kind> {
    match buf.first()? {
        b if !matches!(b >> 2, 1 | VERSION) => None,
        b => [Kind::Counter, Kind::Gauge, Kind::Distribution]
            .get((b & 3) as usize)
            .copied(),
    }
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits()
}

/// The value a point's main stream holds (a counter's sum, a gauge's last value).
fn main_value(a: &Agg) -> f64 {
    match a {
        Agg::Counter(v) => *v,
        Agg::Gauge(g) => g.last,
        Agg::Dist(d) => d.sum,
    }
}

/// The main values' stream: XOR floats, or scaled decimals.
enum Main {
    Xor(XorEnc),
    Dec(DecEnc),
}

impl Main {
    fn new(scale: u8) -> Main {
        match scale {
            XOR => Main::Xor(XorEnc::default()),
            k => Main::Dec(DecEnc::new(k)),
        }
    }

    fn put(&mut self, w: &mut BitWriter, v: f64) {
        match self {
            Main::Xor(x) => x.put(w, v),
            Main::Dec(d) => d.put(w, v),
        }
    }

    fn get(&mut self, r: &mut BitReader) -> Option<f64> {
        match self {
            Main::Xor(x) => x.get(r),
            Main::Dec(d) => d.get(r),
        }
    }
}

/// Encodes points of one kind, sorted by time, bucket width `res` seconds, into `out`.
pub fn encode(kind: Kind, res: i64, pts: &[(i64, Agg)], out: &mut Vec<u8>) {
    let start = out.len();
    encode_with(kind, res, pts, XOR, out);
    if kind == Kind::Distribution || pts.is_empty() {
        return;
    }
    if let Some(k) = DecEnc::scale_for(pts.iter().map(|p| main_value(&p.1))) {
        let mut dec = Vec::with_capacity(out.len() - start);
        encode_with(kind, res, pts, k, &mut dec);
        if dec.len() < out.len() - start {
            out.truncate(start);
            out.extend_from_slice(&dec);
        }
    }
}

/// Encodes points as [`encode`] does, its values as XOR floats only (no second, decimal
/// attempt): for the short-lived `head` rows, which [`decode`] reads the same way.
pub fn encode_xor(kind: Kind, res: i64, pts: &[(i64, Agg)], out: &mut Vec<u8>) {
    encode_with(kind, res, pts, XOR, out);
}

fn encode_with(kind: Kind, res: i64, pts: &[(i64, Agg)], scale: u8, out: &mut Vec<u8>) {
    out.push(VERSION << 2 | kind_code(kind));
    put_varint(out, pts.len() as u64);
    let Some((t0, _)) = pts.first() else {
        return;
    };
    put_varint(out, zigzag(*t0));
    out.push(scale);
    let mut main = Main::new(scale);
    let mut w = BitWriter::default();
    let mut time = TimeEnc::start(*t0, res);
    let mut x = [
        XorEnc::default(),
        XorEnc::default(),
        XorEnc::default(),
        XorEnc::default(),
    ];
    let mut sk = Vec::new();
    for (i, (t, a)) in pts.iter().enumerate() {
        if i > 0 {
            time.put(&mut w, *t);
        }
        match a {
            Agg::Counter(v) => main.put(&mut w, *v),
            Agg::Gauge(g) => {
                main.put(&mut w, g.last);
                let simple = g.count == 1
                    && same(g.min, g.last)
                    && same(g.max, g.last)
                    && same(g.sum, g.last);
                w.bit(simple);
                if !simple {
                    x[1].put(&mut w, g.min);
                    x[2].put(&mut w, g.max);
                    x[3].put(&mut w, g.sum);
                    w.count(g.count);
                }
            }
            Agg::Dist(d) => {
                w.count(d.count);
                x[0].put(&mut w, d.sum);
                x[1].put(&mut w, d.min);
                x[2].put(&mut w, d.max);
                sk.clear();
                d.sketch.encode(&mut sk);
                w.count(sk.len() as u64);
                w.bytes8(&sk);
            }
        }
    }
    out.extend_from_slice(&w.bytes);
}

/// Decodes a chunk, appending its points to `out`; returns its kind.
pub fn decode(buf: &[u8], res: i64, out: &mut Vec<(i64, Agg)>) -> Result<Kind, CodecError> {
    let kind = chunk_kind(buf).ok_or(CodecError("unknown format"))?;
    let mut at = 1;
    let n = get_varint(buf, &mut at).ok_or(CodecError("truncated length"))?;
    if n > MAX_POINTS {
        return Err(CodecError("too many points"));
    }
    if n == 0 {
        return Ok(kind);
    }
    let t0 = unzigzag(get_varint(buf, &mut at).ok_or(CodecError("truncated time"))?);
    let scale = if buf[0] >> 2 == 1 {
        XOR
    } else {
        let k = *buf.get(at).ok_or(CodecError("truncated header"))?;
        at += 1;
        if k != XOR && k > 6 {
            return Err(CodecError("unknown value encoding"));
        }
        k
    };
    let mut main = Main::new(scale);
    let mut r = BitReader::new(&buf[at..]);
    let mut time = TimeEnc::start(t0, res);
    let mut x = [
        XorEnc::default(),
        XorEnc::default(),
        XorEnc::default(),
        XorEnc::default(),
    ];
    let mut sk = Vec::new();
    for i in 0..n {
        let t = if i == 0 {
            t0
        } else {
            time.get(&mut r).ok_or(CodecError("truncated times"))?
        };
        let a = match kind {
            Kind::Counter => Agg::Counter(main.get(&mut r).ok_or(CodecError("truncated points"))?),
            Kind::Gauge => {
                let last = main.get(&mut r).ok_or(CodecError("truncated gauge"))?;
                if r.bit().ok_or(CodecError("truncated gauge"))? {
                    Agg::Gauge(GaugeAgg {
                        last,
                        min: last,
                        max: last,
                        sum: last,
                        count: 1,
                    })
                } else {
                    let bad = || CodecError("truncated gauge");
                    let min = x[1].get(&mut r).ok_or_else(bad)?;
                    let max = x[2].get(&mut r).ok_or_else(bad)?;
                    let sum = x[3].get(&mut r).ok_or_else(bad)?;
                    let count = r.count().ok_or(CodecError("truncated gauge"))?;
                    Agg::Gauge(GaugeAgg {
                        last,
                        min,
                        max,
                        sum,
                        count,
                    })
                }
            }
            Kind::Distribution => {
                let bad = || CodecError("truncated distribution");
                let count = r.count().ok_or_else(bad)?;
                let sum = x[0].get(&mut r).ok_or_else(bad)?;
                let min = x[1].get(&mut r).ok_or_else(bad)?;
                let max = x[2].get(&mut r).ok_or_else(bad)?;
                let len = r.count().ok_or_else(bad)?;
                if len > 1 << 16 {
                    return Err(bad());
                }
                sk.clear();
                for _ in 0..len {
                    sk.push(r.bits(8).ok_or_else(bad)? as u8);
                }
                let (sketch, used) = Sketch::decode(&sk).ok_or(CodecError("bad sketch"))?;
                if used != sk.len() {
                    return Err(CodecError("bad sketch"));
                }
                Agg::Dist(Box::new(DistBucket {
                    count,
                    sum,
                    min,
                    max,
                    sketch,
                }))
            }
        };
        out.push((t, a));
    }
    Ok(kind)
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;

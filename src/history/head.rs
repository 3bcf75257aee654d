//! The `head` rows: each flush's points, grouped by series ([`Points`]), as one blob of
//! (series id, length, chunk) entries, XOR floats only. They live until the next fold moves
//! the points into chunks, and are read back only after a restart.

use super::codec::{self, Agg};
use super::{Buffer, HistoryError};
use crate::kpi::sketch::{get_varint, put_varint};
use crate::kpi::Delta;
use std::collections::HashMap;

/// Appends one series' points (sorted) to a head blob: XOR floats only, as the rows live
/// until the next fold (a few minutes) and are read back only after a restart.
pub(crate) fn encode_head(
    id: i64,
    res: i64,
    pts: &[(i64, Agg)],
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
) {
    scratch.clear();
    codec::encode_xor(pts[0].1.kind(), res, pts, scratch);
    put_varint(out, id as u64);
    put_varint(out, scratch.len() as u64);
    out.extend_from_slice(scratch);
}

/// Points of one series in one flush from which they go straight into chunks (when none of
/// the series waits in memory): a minute at 1 s.
pub(crate) const DIRECT_POINTS: usize = 60;

/// One flush's points, grouped by series (runs, in series id order), each run sorted by time
/// with one point per bucket.
#[derive(Debug, Default)]
pub(crate) struct Points {
    pub(crate) flat: Vec<(i64, Agg)>,
    /// (series id, number of points) of each run of `flat`.
    pub(crate) runs: Vec<(i64, usize)>,
    /// Per run: written straight into chunks rather than a head row.
    pub(crate) direct: Vec<bool>,
    /// Chunks those made.
    pub(crate) chunks: u64,
}

impl Points {
    /// Takes the deltas of the shipments of one batch, in order: a later delta of the same
    /// series and bucket merges into the earlier one. Deltas of series not described yet are
    /// skipped.
    pub(crate) fn gather(&mut self, deltas: Vec<Vec<Delta>>, ids: &HashMap<u32, i64>) {
        let n: usize = deltas.iter().map(Vec::len).sum();
        let mut keyed: Vec<(i64, i64, Agg)> = Vec::with_capacity(n);
        let mut sorted = true;
        let mut last: Option<(u32, i64)> = None;
        for d in deltas.into_iter().flatten() {
            let id = match last {
                Some((s, id)) if s == d.series => id,
                _ => match ids.get(&d.series) {
                    Some(&id) => {
                        last = Some((d.series, id));
                        id
                    }
                    None => continue,
                },
            };
            if let Some(p) = keyed.last() {
                sorted &= (p.0, p.1) < (id, d.t);
            }
            keyed.push((id, d.t, Agg::from_owned(d.data)));
        }
        if !sorted {
            // Stable: deltas of one series and bucket stay in shipping order.
            keyed.sort_by_key(|p| (p.0, p.1));
        }
        self.flat.reserve(keyed.len());
        for (id, t, a) in keyed {
            match (self.runs.last_mut(), self.flat.last_mut()) {
                (Some((rid, _)), Some((lt, la))) if *rid == id && *lt == t => la.merge_same(&a),
                (Some((rid, len)), _) if *rid == id => {
                    *len += 1;
                    self.flat.push((t, a));
                }
                _ => {
                    self.runs.push((id, 1));
                    self.flat.push((t, a));
                }
            }
        }
    }
}

pub(crate) fn decode_head(b: &[u8], res: i64, buf: &mut Buffer) -> Result<(), HistoryError> {
    let mut at = 0;
    let mut pts = Vec::new();
    let bad = || codec::CodecError("truncated head");
    while at < b.len() {
        let id = get_varint(b, &mut at).ok_or_else(bad)? as i64;
        let len = get_varint(b, &mut at).ok_or_else(bad)? as usize;
        let chunk = b.get(at..at.saturating_add(len)).ok_or_else(bad)?;
        at += len;
        pts.clear();
        codec::decode(chunk, res, &mut pts)?;
        for (t, a) in pts.drain(..) {
            buf.add(id, t, a);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kpi::BucketData;

    fn d(series: u32, t: i64, v: f64) -> Delta {
        Delta {
            series,
            t,
            data: BucketData::Counter(v),
        }
    }

    fn gauge(series: u32, t: i64, v: f64) -> Delta {
        Delta {
            series,
            t,
            data: BucketData::Gauge {
                last: v,
                min: v,
                max: v,
            },
        }
    }

    #[test]
    fn a_batch_is_grouped_by_series_in_time_order_one_point_per_bucket() {
        let ids: HashMap<u32, i64> = [(0, 7), (1, 3), (2, 5)].into_iter().collect();
        let first = vec![
            d(0, 10, 1.0),
            d(0, 11, 2.0),
            gauge(1, 10, 4.0),
            d(9, 10, 1.0),
        ];
        // A later shipment of the same batch: a bucket shipped again, an older bucket, and
        // a gauge's bucket whose later last value wins.
        let second = vec![gauge(1, 10, 6.0), d(0, 11, 5.0), d(0, 9, 8.0), d(2, 1, 1.0)];
        let mut p = Points::default();
        p.gather(vec![first, second], &ids);
        assert_eq!(p.runs, [(3, 1), (5, 1), (7, 3)]);
        let got: Vec<(i64, f64)> = p
            .flat
            .iter()
            .map(|(t, a)| match a {
                Agg::Counter(v) => (*t, *v),
                Agg::Gauge(g) => (*t, g.last + g.min * 100.0 + g.max * 10_000.0),
                Agg::Dist(_) => unreachable!(),
            })
            .collect();
        assert_eq!(
            got,
            [
                (10, 6.0 + 400.0 + 60_000.0),
                (1, 1.0),
                (9, 8.0),
                (10, 1.0),
                (11, 7.0)
            ]
        );
        let mut blob = Vec::new();
        let mut at = 0;
        for &(id, len) in &p.runs {
            encode_head(id, 1, &p.flat[at..at + len], &mut blob, &mut Vec::new());
            at += len;
        }
        let mut buf = Buffer::default();
        decode_head(&blob, 1, &mut buf).unwrap();
        assert_eq!(buf.points, 5);
        assert_eq!(
            buf.series[&7].iter().map(|p| p.0).collect::<Vec<_>>(),
            [9, 10, 11]
        );
    }
}

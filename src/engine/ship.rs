//! What the engine hands the history writer: a [`Shipment`] per flush, the store's deltas
//! together with the file offsets and counter totals that include exactly them, so the
//! writer commits both at once and a restart resumes from what history holds.

use crate::kpi::{Delta, Desc};
use crate::sources::tail::FileCheckpoint;
use crate::state::CounterTotal;
use std::sync::Arc;
use tokio::sync::mpsc;

/// One flush of the engine for history.
#[derive(Debug, Default)]
pub struct Shipment {
    /// Bucket width, seconds.
    pub bucket_s: i64,
    /// When it was made, Unix seconds.
    pub at: f64,
    /// Series created since the last shipment, with their numbers (`Delta::series`).
    pub descs: Vec<(u32, Arc<Desc>)>,
    /// What every series gained since the last shipment, per bucket.
    pub deltas: Vec<Delta>,
    /// Offsets of every followed file up to the last line these deltas include.
    pub files: Vec<FileCheckpoint>,
    /// Every counter's total including exactly those lines.
    pub counters: Vec<CounterTotal>,
}

/// Where shipments go: a bounded channel to the history writer. When it is full the engine
/// keeps the deltas in the store and ships them with the next flush (bounded per series by
/// `kpi::ship::MAX_UNSHIPPED`, the excess counted), and it does not block.
pub type ShipSender = mpsc::Sender<Shipment>;

/// Most lines applied between two looks at the store's backlog for history: a series gains
/// at most one bucket per line, so with a shipment whenever one holds
/// `kpi::FLUSH_AT` buckets, none reaches
/// `kpi::MAX_UNSHIPPED` however old and sparse the lines
/// replayed (a 1 MiB batch of a log with a line a second spans days of buckets).
pub const LINES_PER_STEP: usize = crate::kpi::MAX_UNSHIPPED - crate::kpi::FLUSH_AT;

/// Splits a batch of more than `max` lines into batches of at most `max`, in order, each
/// with the offset after its own lines (only the last acknowledges the batch's end).
pub fn split(mut batch: crate::sources::Batch, max: usize) -> Vec<crate::sources::Batch> {
    let max = max.max(1);
    if memchr::memchr_iter(b'\n', &batch.data).nth(max).is_none() {
        return vec![batch];
    }
    let mut out = Vec::new();
    let data = std::mem::take(&mut batch.data);
    let total = data.len() as u64;
    let mut start = 0;
    while start < data.len() {
        let end = memchr::memchr_iter(b'\n', &data[start..])
            .nth(max - 1)
            .map_or(data.len(), |i| start + i + 1);
        out.push(crate::sources::Batch {
            data: data[start..end].to_vec(),
            end_offset: batch.end_offset - (total - end as u64),
            source: batch.source.clone(),
            path: batch.path.clone(),
            ..batch
        });
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::Batch;

    fn batch(data: &[u8], end: u64) -> Batch {
        Batch {
            file: 3,
            source: "s".into(),
            identity: crate::sources::FileIdentity {
                dev: 1,
                ino: 2,
                fingerprint: 0,
                fp_len: 0,
            },
            path: Arc::new("x.log".into()),
            data: data.to_vec(),
            end_offset: end,
            checkpoint: true,
        }
    }

    #[test]
    fn split_keeps_every_byte_in_order_with_each_parts_offset() {
        let b = batch(b"a\nbb\nccc\ndddd\ne\n", 100);
        let parts = split(b, 2);
        let texts: Vec<&[u8]> = parts.iter().map(|p| &p.data[..]).collect();
        assert_eq!(texts, [&b"a\nbb\n"[..], b"ccc\ndddd\n", b"e\n"]);
        let ends: Vec<u64> = parts.iter().map(|p| p.end_offset).collect();
        assert_eq!(ends, [89, 98, 100]);
        assert!(parts.iter().all(|p| p.file == 3 && p.checkpoint));
        // At or under the limit: the batch as it was.
        assert_eq!(split(batch(b"a\nb\n", 4), 2).len(), 1);
        assert_eq!(split(batch(b"a\nb\nc\n", 6), 2).len(), 2);
    }
}

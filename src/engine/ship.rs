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
/// `kpi::MAX_UNSHIPPED`, the excess counted), and it does not block.
pub type ShipSender = mpsc::Sender<Shipment>;

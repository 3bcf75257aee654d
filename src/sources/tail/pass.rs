//! What a pass over the followed files works with: the settings, the sink that sends batches
//! to the engine (waiting while its channel is full), the shared context, and [`emit`], which
//! sends a file's lines and counts them in its health entry.

use super::lines::Lines;
use super::open_file::OpenFile;
use super::registry::Registry;
use super::watch::Signal;
use crate::sources::{Batch, Input, SourcesHealth};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// The settings a pass needs.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub max_line: usize,
    pub partial_flush: Duration,
    pub rotate_wait: Duration,
    pub from_start: bool,
    pub exit_at_eof: bool,
}

/// The tailer was asked to stop, or the receiver is gone.
#[derive(Debug)]
pub(crate) struct Stopped;

/// Sends batches, waiting while the channel is full, until stopped.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(super) tx: mpsc::Sender<Input>,
    pub(super) rt: tokio::runtime::Runtime,
    pub(super) stop: Arc<Notify>,
}

impl Sink {
    pub fn send(&self, batch: Batch) -> Result<(), Stopped> {
        let batch = match self.tx.try_send(Input::Lines(batch)) {
            Ok(()) => return Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(Stopped),
            Err(mpsc::error::TrySendError::Full(b)) => b,
        };
        self.rt.block_on(async {
            tokio::select! {
                biased;
                _ = self.stop.notified() => Err(Stopped),
                r = self.tx.send(batch) => r.map_err(|_| Stopped),
            }
        })
    }
}

/// What a follower's pass works with.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub settings: &'a Settings,
    pub sink: &'a Sink,
    pub health: &'a SourcesHealth,
    pub reg: &'a mut Registry,
    pub signal: &'a Signal,
    pub now: Instant,
}

/// Sends `lines` read from `file` and counts them in the health table.
pub(crate) fn emit(
    ctx: &mut Ctx,
    health: usize,
    source: &Arc<str>,
    file: Option<&OpenFile>,
    lines: Lines,
    current: bool,
) -> Result<(), Stopped> {
    let Some(file) = file else { return Ok(()) };
    let (n, bytes) = (lines.lines, lines.data.len() as u64);
    ctx.reg.track(file);
    if !lines.data.is_empty() {
        ctx.sink.send(Batch {
            file: health,
            source: source.clone(),
            identity: file.id,
            path: file.path.clone(),
            data: lines.data,
            end_offset: lines.end_offset,
            checkpoint: true,
        })?;
    }
    if n > 0 || lines.long > 0 || lines.invalid_utf8 > 0 || current {
        let mut table = ctx.health.files.lock();
        let h = &mut table[health];
        h.lines += n;
        h.bytes += bytes;
        h.discarded_long_lines += lines.long;
        h.invalid_utf8_lines += lines.invalid_utf8;
        if current {
            h.offset = file.asm.pos;
        }
    }
    Ok(())
}

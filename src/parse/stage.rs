//! The parse stage: a thread that takes [`Batch`]es from the tailer, parses each line with its
//! source's parser, applies the rules to the store under one lock per batch, records the
//! offsets it applied, and checkpoints offsets with counter totals.

use super::rules::Rules;
use crate::kpi::{self, SharedStore};
use crate::sources::tail::FileCheckpoint;
use crate::sources::{Batch, SourcesHealth};
use crate::state::{counter_totals, Checkpoint, StateDir};
use kpid_parsers::{Parser, Record};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};

/// Everything the stage needs.
pub struct StageConfig {
    /// Parser of each source, by source name.
    pub parsers: HashMap<Arc<str>, Box<dyn Parser>>,
    /// Compiled rules.
    pub rules: Rules,
    /// Where checkpoints go (none: no persistence).
    pub state: Option<StateDir>,
    /// How often to checkpoint.
    pub checkpoint_interval: Duration,
    /// Checkpointed offsets the tailer resumed from (kept until superseded).
    pub resumed: Vec<FileCheckpoint>,
}

impl std::fmt::Debug for StageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StageConfig")
            .field("sources", &self.parsers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Splits a batch into lines without their terminator (`\n`, and a `\r` before it); a
/// trailing fragment without `\n` is a line too.
pub fn lines(data: &[u8]) -> Lines<'_> {
    Lines { data, pos: 0 }
}

/// Iterator of [`lines`].
#[derive(Debug)]
pub struct Lines<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.data.get(self.pos..).filter(|r| !r.is_empty())?;
        let (line, advance) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], i + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// Starts the stage on its own thread; it ends (after a final checkpoint) when the channel
/// closes.
pub fn spawn(
    mut cfg: StageConfig,
    mut rx: mpsc::Receiver<Batch>,
    store: SharedStore,
    health: Arc<SourcesHealth>,
    changed: Arc<Notify>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("kpid-parse".into())
        .spawn(move || {
            let mut rec: Record<'static> = Record::new();
            let mut committed: HashMap<(u64, u64), (FileCheckpoint, Instant)> = cfg
                .resumed
                .drain(..)
                .map(|c| ((c.identity.dev, c.identity.ino), (c, Instant::now())))
                .collect();
            let mut last_cp = Instant::now();
            let mut dirty = false;
            let mut fallback: Option<Box<dyn Parser>> = None;
            // With a runtime around, wake up at least every checkpoint interval so that a quiet
            // source still gets its last offsets written.
            let rt = tokio::runtime::Handle::try_current().ok();
            let interval = cfg.checkpoint_interval;
            loop {
                let next = match &rt {
                    Some(h) => match h
                        .block_on(async { tokio::time::timeout(interval, rx.recv()).await })
                    {
                        Ok(b) => b,
                        Err(_) => {
                            if dirty {
                                checkpoint(&cfg.state, &store, &mut committed);
                                last_cp = Instant::now();
                                dirty = false;
                            }
                            continue;
                        }
                    },
                    None => rx.blocking_recv(),
                };
                let Some(batch) = next else { break };
                let now = kpi::now();
                let mut errors = 0u64;
                {
                    let mut st = store.lock();
                    let parser = match cfg.parsers.get_mut(&batch.source) {
                        Some(p) => p,
                        None => fallback.get_or_insert_with(|| {
                            kpid_parsers::builtin("auto", &Default::default())
                                .expect("auto parser exists")
                        }),
                    };
                    for line in lines(&batch.data) {
                        let mut r = rec.recycle();
                        if parser.parse(line, &mut r).is_err() {
                            cfg.rules.parse_error(&mut st, &batch.source, now);
                            errors += 1;
                        } else {
                            cfg.rules.apply(&mut st, &batch.source, &r, now);
                        }
                        rec = r.recycle();
                    }
                }
                if errors > 0 {
                    if let Some(h) = health.files.lock().get_mut(batch.file) {
                        h.parse_errors += errors;
                    }
                }
                // A file seen for the first time is checkpointed at once: a restart must know
                // where reading it began, even if it comes before the next tick.
                let first_sight = committed
                    .insert(
                        (batch.identity.dev, batch.identity.ino),
                        (FileCheckpoint::after(&batch), Instant::now()),
                    )
                    .is_none();
                dirty = true;
                changed.notify_one();
                if first_sight || last_cp.elapsed() >= cfg.checkpoint_interval {
                    checkpoint(&cfg.state, &store, &mut committed);
                    last_cp = Instant::now();
                    dirty = false;
                }
            }
            if dirty {
                checkpoint(&cfg.state, &store, &mut committed);
            }
        })
}

/// Most file entries kept in a checkpoint (the least recently read go first).
const MAX_FILES: usize = 256;

fn checkpoint(
    state: &Option<StateDir>,
    store: &SharedStore,
    committed: &mut HashMap<(u64, u64), (FileCheckpoint, Instant)>,
) {
    let Some(state) = state else { return };
    if committed.len() > MAX_FILES {
        let mut by_age: Vec<_> = committed.iter().map(|(k, (_, t))| (*t, *k)).collect();
        by_age.sort();
        for (_, k) in by_age.iter().take(committed.len() - MAX_FILES) {
            committed.remove(k);
        }
    }
    let counters = counter_totals(&store.lock());
    let cp = Checkpoint {
        version: 1,
        files: committed.values().map(|(c, _)| c.clone()).collect(),
        counters,
    };
    if let Err(e) = state.save(&cp) {
        tracing::warn!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn splits_lines_and_strips_crlf() {
        let v: Vec<&[u8]> = lines(b"a\r\nb\n\nc\n").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"", b"c"]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x\ny").collect::<Vec<_>>(), vec![&b"x"[..], b"y"]);
    }
}

//! The parse stage: a thread that takes [`Batch`]es from the tailer, parses each line with its
//! source's parser, applies the rules to the store under one lock per batch, records the
//! offsets it applied, and acknowledges them, with the counter totals that include exactly
//! those lines, to the tailer's [`Checkpoints`] (every checkpoint interval while lines arrive,
//! on the next tick when the source goes quiet, and at the end).

use super::rules::Rules;
use crate::kpi::{self, SharedStore};
use crate::sources::tail::{Checkpoints, FileCheckpoint};
use crate::sources::{Batch, SourcesHealth};
use crate::state::counter_totals;
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
    /// The tailer's checkpoints, told what was applied.
    pub checkpoints: Arc<Checkpoints>,
    /// How often to acknowledge what was applied.
    pub checkpoint_interval: Duration,
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

/// Starts the stage on its own thread; it ends (after a final acknowledgement) when the
/// channel closes.
pub fn spawn(
    mut cfg: StageConfig,
    mut rx: mpsc::Receiver<Batch>,
    store: SharedStore,
    health: Arc<SourcesHealth>,
    changed: Arc<Notify>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    // The thread has no runtime of its own: a small one makes the timed receive possible, so
    // that the last offsets of a quiet source are acknowledged on the next tick.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    std::thread::Builder::new()
        .name("kpid-parse".into())
        .spawn(move || {
            let mut rec: Record<'static> = Record::new();
            let mut applied: HashMap<(u64, u64), (FileCheckpoint, Instant)> = HashMap::new();
            let mut last_ack = Instant::now();
            let mut dirty = false;
            let mut fallback: Option<Box<dyn Parser>> = None;
            let interval = cfg.checkpoint_interval.max(Duration::from_millis(10));
            loop {
                let wait = interval.saturating_sub(last_ack.elapsed());
                let recv = async { tokio::time::timeout(wait, rx.recv()).await };
                let batch = match rt.block_on(recv) {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(_) => {
                        if dirty {
                            ack(&cfg.checkpoints, &store, &mut applied);
                            dirty = false;
                        }
                        last_ack = Instant::now();
                        continue;
                    }
                };
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
                applied.insert(
                    (batch.identity.dev, batch.identity.ino),
                    (FileCheckpoint::after(&batch), Instant::now()),
                );
                dirty = true;
                changed.notify_one();
                if last_ack.elapsed() >= interval {
                    ack(&cfg.checkpoints, &store, &mut applied);
                    last_ack = Instant::now();
                    dirty = false;
                }
            }
            if dirty {
                ack(&cfg.checkpoints, &store, &mut applied);
            }
        })
}

/// Most file entries acknowledged (the least recently read go first).
const MAX_FILES: usize = 4096;

/// Tells the checkpoints every offset applied, with the counter totals that include them.
fn ack(
    checkpoints: &Checkpoints,
    store: &SharedStore,
    applied: &mut HashMap<(u64, u64), (FileCheckpoint, Instant)>,
) {
    if applied.len() > MAX_FILES {
        let mut by_age: Vec<_> = applied.iter().map(|(k, (_, t))| (*t, *k)).collect();
        by_age.sort();
        for (_, k) in by_age.iter().take(applied.len() - MAX_FILES) {
            applied.remove(k);
        }
    }
    let counters = counter_totals(&store.lock());
    let files: Vec<FileCheckpoint> = applied.values().map(|(c, _)| c.clone()).collect();
    checkpoints.applied(&files, counters);
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

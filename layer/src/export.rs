//! The exporter thread: connects (with capped backoff), handshakes, and writes batches of
//! queued frames, with the drop counts since the previous batch in front. It is a plain std
//! thread, so the layer works with or without an async runtime in the app.

use crate::queue::{Pending, Shared, ABSENT, CLOSED, CONNECTED};
use kpid_wire as wire;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// First delay between connection attempts; doubles up to the configured cap.
pub(crate) const MIN_BACKOFF: Duration = Duration::from_millis(20);
/// Socket write/read timeout: a daemon that stops reading costs a batch, never the app.
const IO_TIMEOUT: Duration = Duration::from_secs(1);

/// What the exporter needs.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) clock: crate::clock::Clock,
    pub(crate) socket: PathBuf,
    pub(crate) app: String,
    pub(crate) host: String,
    pub(crate) interval: Duration,
    pub(crate) max_backoff: Duration,
}

/// Starts the exporter thread.
pub(crate) fn spawn(shared: Arc<Shared>, cfg: Config) -> io::Result<()> {
    std::thread::Builder::new()
        .name("kpid-layer".into())
        .spawn(move || Exporter::new(shared, cfg).run())
        .map(drop)
}

/// Why a connection attempt failed.
enum ConnectError {
    Io,
    Refused(u16, String),
}

struct Exporter {
    shared: Arc<Shared>,
    cfg: Config,
    conn: Option<UnixStream>,
    backoff: Duration,
    next_try: Instant,
    last_refusal: Option<String>,
    scratch: Vec<u8>,
}

impl Exporter {
    fn new(shared: Arc<Shared>, cfg: Config) -> Self {
        Exporter {
            shared,
            cfg,
            conn: None,
            backoff: MIN_BACKOFF,
            next_try: Instant::now(),
            last_refusal: None,
            scratch: Vec::with_capacity(256),
        }
    }

    /// Moves to `state` unless the layer was closed.
    fn set_state(&self, state: u8) {
        let old = self
            .shared
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s != CLOSED).then_some(state)
            });
        // A sole layer answers `always` while records are accepted and `sometimes` while
        // the daemon is absent (see `KpidLayer::register_callsite`): ask again on a change.
        if let Ok(old) = old {
            if (old <= CONNECTED) != (state <= CONNECTED)
                && self.shared.gated.load(Ordering::Relaxed)
            {
                // With a single dispatcher in the process, tracing asks only the current
                // thread's default: make it the layer's own for the rebuild.
                let d = crate::queue::lock(&self.shared.dispatch)
                    .as_ref()
                    .and_then(|w| w.upgrade());
                match d {
                    Some(d) => tracing::dispatcher::with_default(
                        &d,
                        tracing::callsite::rebuild_interest_cache,
                    ),
                    None => tracing::callsite::rebuild_interest_cache(),
                }
            }
        }
    }

    fn run(mut self) {
        let mut out = Pending {
            buf: Vec::with_capacity(self.shared.limits.batch_bytes * 2),
            ..Default::default()
        };
        let mut flushed_gen = 0;
        loop {
            let closing = self.shared.state.load(Ordering::Acquire) == CLOSED;
            if self.conn.is_none() && !closing && Instant::now() >= self.next_try {
                self.try_connect();
            }
            let wait = match self.conn {
                Some(_) => self.cfg.interval,
                None => self
                    .cfg
                    .interval
                    .min(self.next_try.saturating_duration_since(Instant::now())),
            };
            self.cfg.clock.refine();
            let gen = self
                .shared
                .take(&mut out, wait.max(Duration::from_millis(1)), flushed_gen);
            self.send(&out);
            out.buf.clear();
            out.records = 0;
            out.levels = [0; 5];
            if gen > flushed_gen {
                flushed_gen = gen;
                self.shared.flushed(gen);
            }
            if closing {
                return;
            }
        }
    }

    fn try_connect(&mut self) {
        match self.connect() {
            Ok(s) => {
                self.conn = Some(s);
                self.backoff = MIN_BACKOFF;
                self.last_refusal = None;
                self.shared.connects.fetch_add(1, Ordering::Relaxed);
                self.set_state(CONNECTED);
            }
            Err(e) => {
                self.set_state(ABSENT);
                if let ConnectError::Refused(code, msg) = e {
                    // A refusal will not fix itself quickly: say it once, retry slowly.
                    self.backoff = self.cfg.max_backoff;
                    if self.last_refusal.as_deref() != Some(msg.as_str()) {
                        tracing::warn!(target: "kpid_layer", code, "kpid refused this app: {msg}");
                        self.last_refusal = Some(msg);
                    }
                }
                self.next_try = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(self.cfg.max_backoff);
            }
        }
    }

    /// Connects, offering protocol version 2 (traced spans) first and version 1 to a daemon
    /// that refuses it as too new.
    fn connect(&mut self) -> Result<UnixStream, ConnectError> {
        match self.handshake(wire::VERSION) {
            Err(ConnectError::Refused(wire::code::VERSION_MISMATCH, _)) => {
                self.handshake(wire::MIN_VERSION)
            }
            r => r,
        }
    }

    fn handshake(&mut self, version: u16) -> Result<UnixStream, ConnectError> {
        let mut s = UnixStream::connect(&self.cfg.socket).map_err(|_| ConnectError::Io)?;
        let io = |r: io::Result<()>| r.map_err(|_| ConnectError::Io);
        io(s.set_write_timeout(Some(IO_TIMEOUT)))?;
        io(s.set_read_timeout(Some(IO_TIMEOUT)))?;
        self.scratch.clear();
        let hello = wire::Hello {
            version,
            app: &self.cfg.app,
            pid: std::process::id(),
            host: &self.cfg.host,
        };
        wire::encode_hello(&mut self.scratch, &hello);
        // A refusing daemon may close before reading the hello: read its reply regardless.
        let wrote = s.write_all(&self.scratch);
        let mut head = [0u8; wire::HEADER_LEN];
        if s.read_exact(&mut head).is_err() {
            return Err(ConnectError::Io);
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if !(1..=64 * 1024).contains(&len) {
            return Err(ConnectError::Io);
        }
        let mut body = vec![0u8; len - 1];
        io(s.read_exact(&mut body))?;
        match wire::FrameType::from_u8(head[4]) {
            Some(wire::FrameType::Welcome) if wrote.is_ok() => {
                // The daemon answers with the version both speak.
                let (agreed, _) = wire::decode_welcome(&body).map_err(|_| ConnectError::Io)?;
                self.shared.traced.store(agreed >= 2, Ordering::Relaxed);
                Ok(s)
            }
            Some(wire::FrameType::Error) => {
                let (code, msg) = wire::decode_error(&body).unwrap_or((0, "unreadable error"));
                Err(ConnectError::Refused(code, msg.to_owned()))
            }
            _ => Err(ConnectError::Io),
        }
    }

    /// Writes the drop report and the batch; when that is impossible, counts the batch as
    /// dropped and keeps the report for later.
    fn send(&mut self, out: &Pending) {
        let drops = self.shared.take_unreported();
        let any_drops = drops.iter().any(|&n| n > 0);
        if out.records == 0 && !any_drops {
            return;
        }
        let Some(conn) = self.conn.as_mut() else {
            self.shared.restore_unreported(&drops);
            for (level, &n) in out.levels.iter().enumerate() {
                if n > 0 {
                    self.shared.drop_records(level, n);
                }
            }
            return;
        };
        self.scratch.clear();
        if any_drops {
            wire::encode_drops(&mut self.scratch, &drops);
        }
        let r1 = conn.write_all(&self.scratch);
        let r2 = r1.as_ref().map_or(Ok(()), |_| conn.write_all(&out.buf));
        match (r1, r2) {
            (Ok(()), Ok(())) => {
                self.shared
                    .sent_records
                    .fetch_add(out.records as u64, Ordering::Relaxed);
            }
            (first, _) => {
                if first.is_err() {
                    self.shared.restore_unreported(&drops);
                }
                self.conn = None;
                self.set_state(ABSENT);
                self.next_try = Instant::now() + MIN_BACKOFF;
                for (level, &n) in out.levels.iter().enumerate() {
                    if n > 0 {
                        self.shared.drop_records(level, n);
                    }
                }
            }
        }
    }
}

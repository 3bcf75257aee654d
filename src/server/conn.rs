//! One HTTP connection's stream, with what the limits need: its place among the open
//! connections ([`Slot`], given back when the last owner drops it, WebSocket included), an
//! idle timer (no byte read or written for the idle timeout: the stream fails, the
//! connection closes), and whether a request had started, to answer a header timeout with
//! 408 rather than a quiet close.

use super::counters::HttpCounters;
use super::listen::Limits;
use parking_lot::Mutex;
use rustc_hash::FxHashMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Open connections, in total and per address.
#[derive(Debug)]
pub(super) struct Tracker {
    limits: Limits,
    open: AtomicUsize,
    peers: Mutex<FxHashMap<IpAddr, usize>>,
    counters: Arc<HttpCounters>,
}

/// A place among the open connections.
#[derive(Debug)]
pub(super) struct Slot {
    tracker: Arc<Tracker>,
    peer: IpAddr,
}

impl Tracker {
    pub(super) fn new(limits: Limits, counters: Arc<HttpCounters>) -> Arc<Tracker> {
        Arc::new(Tracker {
            limits,
            open: AtomicUsize::new(0),
            peers: Mutex::default(),
            counters,
        })
    }

    pub(super) fn open(&self) -> usize {
        self.open.load(Relaxed)
    }

    /// A slot for a connection from `peer`, or why not.
    pub(super) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, &'static str> {
        if self.open.load(Relaxed) >= self.limits.max_connections {
            HttpCounters::bump(&self.counters.busy);
            return Err("too many connections ([server] max_connections)");
        }
        {
            let mut peers = self.peers.lock();
            let n = peers.entry(peer).or_insert(0);
            if *n >= self.limits.per_peer {
                HttpCounters::bump(&self.counters.peer_busy);
                return Err(
                    "too many connections from this address ([server] max_connections_per_peer)",
                );
            }
            *n += 1;
        }
        self.open.fetch_add(1, Relaxed);
        self.counters.open.fetch_add(1, Relaxed);
        Ok(Slot {
            tracker: self.clone(),
            peer,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let t = &self.tracker;
        t.open.fetch_sub(1, Relaxed);
        t.counters.open.fetch_sub(1, Relaxed);
        let mut peers = t.peers.lock();
        if let Some(n) = peers.get_mut(&self.peer) {
            *n -= 1;
            if *n == 0 {
                peers.remove(&self.peer);
            }
        }
    }
}

/// What the connection's task keeps after hyper is done with the stream.
#[derive(Debug)]
pub(super) struct Shared {
    stream: Mutex<Option<TcpStream>>,
    /// Bytes came in since the last response began.
    started: AtomicBool,
    idle: AtomicBool,
    counters: Arc<HttpCounters>,
    _slot: Slot,
}

impl Shared {
    /// After hyper's error: a header timeout is answered 408 if a request had started,
    /// else the idle connection is closed quietly; both counted. Other errors (a client
    /// gone, a head too large, already answered by hyper) are counted, never logged.
    pub(super) async fn after_error(&self, e: &hyper::Error) {
        let c = &self.counters;
        if self.idle.load(Relaxed) {
            return; // counted where it happened
        }
        if e.is_timeout() {
            HttpCounters::bump(&c.header_timeout);
            if self.started.load(Relaxed) {
                let stream = self.stream.lock().take();
                if let Some(mut s) = stream {
                    let _ = tokio::time::timeout(Duration::from_millis(500), s.write_all(
                        b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                    ))
                    .await;
                }
            }
        } else if e.is_parse() || e.is_parse_too_large() {
            HttpCounters::bump(&c.bad_head);
        }
        tracing::debug!("http connection: {e}");
    }
}

/// The stream hyper (and then a WebSocket) reads and writes.
pub(super) struct Conn {
    shared: Arc<Shared>,
    idle_for: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("idle_for", &self.idle_for)
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(super) fn new(stream: TcpStream, slot: Slot, idle_for: Duration) -> (Conn, Arc<Shared>) {
        let counters = slot.tracker.counters.clone();
        let shared = Arc::new(Shared {
            stream: Mutex::new(Some(stream)),
            started: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            counters,
            _slot: slot,
        });
        let now = Instant::now();
        let conn = Conn {
            shared: shared.clone(),
            idle_for,
            last: now,
            timer: Box::pin(tokio::time::sleep_until(now + idle_for)),
        };
        (conn, shared)
    }

    /// Pending I/O: fails once nothing moved for the idle timeout.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let due = self.last + self.idle_for;
            if Instant::now() >= due {
                self.shared.idle.store(true, Relaxed);
                HttpCounters::bump(&self.shared.counters.idle_timeout);
                return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "idle connection"));
            }
            self.timer.as_mut().reset(due);
        }
    }

    fn with<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let polled = {
            let mut guard = self.shared.stream.lock();
            match guard.as_mut() {
                Some(s) => op(Pin::new(s), cx),
                None => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
            }
        };
        match polled {
            Poll::Pending => self.poll_idle(cx).map(Err),
            ready => ready,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = self.with(cx, |s, cx| s.poll_read(cx, buf));
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.last = Instant::now();
            self.shared.started.store(true, Relaxed);
        }
        r
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = self.with(cx, |s, cx| s.poll_write(cx, buf));
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.last = Instant::now();
            self.shared.started.store(false, Relaxed);
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = self.with(cx, |s, cx| s.poll_write_vectored(cx, bufs));
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.last = Instant::now();
            self.shared.started.store(false, Relaxed);
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with(cx, |s, cx| s.poll_shutdown(cx))
    }
}

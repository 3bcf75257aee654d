//! The accept loop and its limits: a cap on open connections in total and per address
//! (503 beyond), a header timeout (408 when part of a request had come, a quiet close when
//! the connection was idle between requests), an idle timeout on every connection
//! (WebSockets included), a cap on the request head (431, from hyper), and an accept loop
//! that backs off when the process runs out of file descriptors instead of spinning or
//! logging each failure. Counted in [`HttpCounters`].

use super::conn::{Conn, Tracker};
use super::counters::HttpCounters;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Limits of the HTTP side (from `[server]`, clamped to the open-file limit).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most open connections.
    pub max_connections: usize,
    /// Most open connections from one address.
    pub per_peer: usize,
    /// Time to send a request head.
    pub header_timeout: Duration,
    /// Time a connection may do nothing.
    pub idle_timeout: Duration,
    /// Largest request head.
    pub max_header_bytes: usize,
}

/// Refusals answered at once, while others are still draining (beyond, just closed).
const MAX_REFUSING: usize = 64;
/// Longest backoff of the accept loop when it cannot accept.
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// How long shutdown waits for open requests.
const DRAIN: Duration = Duration::from_secs(2);

fn response(status: &str, msg: &str) -> Vec<u8> {
    let body = format!("{{\"error\":\"{msg}\"}}");
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\nretry-after: 1\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes a short refusal and closes, reading what the client sent meanwhile so that the
/// close does not reset the connection before the client reads the answer.
async fn refuse(mut s: TcpStream, bytes: Vec<u8>, refusing: Arc<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        s.write_all(&bytes).await?;
        s.shutdown().await?;
        let mut sink = [0u8; 2048];
        loop {
            s.readable().await?;
            match s.try_read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    drop(refusing);
}

/// Out of descriptors or memory: nothing to do but wait.
fn is_resource_error(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Serves connections from `listener` with `service` until `shutdown` resolves, then lets
/// open requests finish for a moment.
pub(crate) async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    counters: Arc<HttpCounters>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) where
    S: tower_service::Service<
            warp::http::Request<hyper::body::Incoming>,
            Response = warp::http::Response<B>,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tracker = Tracker::new(limits, counters.clone());
    let (stop_tx, stop_rx) = watch::channel(false);
    let refusing = Arc::new(());
    let mut backoff = Duration::ZERO;
    let mut last_warned: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::ZERO;
                a
            }
            Err(e) => {
                HttpCounters::bump(&counters.accept_errors);
                if is_resource_error(&e) {
                    backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_BACKOFF);
                    if last_warned.is_none_or(|t| t.elapsed() > Duration::from_secs(60)) {
                        last_warned = Some(Instant::now());
                        tracing::warn!("http: cannot accept connections: {e}; backing off (counted in /api/health http.accept_errors)");
                    }
                    tokio::time::sleep(backoff).await;
                }
                continue;
            }
        };
        HttpCounters::bump(&counters.accepted);
        let slot = match tracker.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(msg) => {
                if Arc::strong_count(&refusing) <= MAX_REFUSING {
                    let bytes = response("503 Service Unavailable", msg);
                    tokio::spawn(refuse(stream, bytes, refusing.clone()));
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let svc = hyper_util::service::TowerToHyperService::new(service.clone());
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let (conn, shared) = Conn::new(stream, slot, limits.idle_timeout);
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192));
            let served = builder
                .serve_connection(TokioIo::new(conn), svc)
                .with_upgrades();
            tokio::pin!(served);
            let result = tokio::select! {
                r = &mut served => r,
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    served.as_mut().graceful_shutdown();
                    served.await
                }
            };
            if let Err(e) = result {
                shared.after_error(&e).await;
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + DRAIN;
    while tracker.open() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Raises the soft open-file limit to the hard one and says how many descriptors the HTTP
/// side and the socket may take, keeping `reserve` for files, plugins and the rest.
pub fn fd_budget(reserve: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024u64.saturating_sub(reserve);
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max.min(1 << 20),
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = raised.rlim_cur;
        }
    }
    lim.rlim_cur.saturating_sub(reserve)
}

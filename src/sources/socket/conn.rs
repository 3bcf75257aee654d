//! One connection: peer check, handshake, then frames read in chunks and the whole frames of
//! each chunk forwarded to the engine (it decodes and applies them; a malformed record is
//! skipped and counted there). A client that breaks the framing (oversized length) or the
//! handshake gets an `Error` frame and is disconnected. Nothing a client does affects the
//! others; while the engine is busy, the connection waits (the app's queue absorbs it).

use super::{AppInfo, Ctx};
use crate::sources::{AppBatch, Input};
use kpid_wire::{self as wire, code, FrameType};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// Initial read buffer; grows up to the frame limit for large frames.
const READ_BUF: usize = 256 << 10;

/// Sends an `Error` frame (best effort) before the connection is dropped, then drains what
/// the peer still sends for a moment, so that a client writing its hello after the refusal
/// gets to read the reply instead of a broken pipe.
pub(crate) async fn refuse(stream: &mut UnixStream, code: u16, msg: &str) {
    use std::time::Duration;
    let mut b = Vec::with_capacity(msg.len() + 16);
    wire::encode_error(&mut b, code, msg);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&b)).await;
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        let mut left = 64usize << 10;
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

/// Reads until one whole frame is in `buf[..end]`; returns (type, body range, frame end).
async fn read_hello(
    stream: &mut UnixStream,
    buf: &mut [u8],
    end: &mut usize,
) -> Result<(u8, std::ops::Range<usize>, usize), String> {
    loop {
        match wire::split_frame(&buf[..*end], 64 << 10) {
            Ok(Some((t, body, used))) => {
                return Ok((t, wire::HEADER_LEN..wire::HEADER_LEN + body.len(), used))
            }
            Ok(None) => {}
            Err(e) => return Err(format!("not a kpid hello: {e}")),
        }
        match stream.read(&mut buf[*end..]).await {
            Ok(0) => return Err("closed before the hello".into()),
            Ok(n) => *end += n,
            Err(e) => return Err(format!("reading the hello: {e}")),
        }
    }
}

pub(crate) async fn serve(mut stream: UnixStream, ctx: Arc<Ctx>) {
    let stats = &ctx.stats;
    let peer_uid = stream.peer_cred().map(|c| c.uid()).ok();
    if peer_uid != Some(ctx.own_uid) {
        stats.rejected.peer_uid.fetch_add(1, Relaxed);
        let who = peer_uid.map_or("unknown".into(), |u| u.to_string());
        let msg = format!(
            "peer uid {who} is not allowed: this kpid accepts apps of uid {}",
            ctx.own_uid
        );
        refuse(&mut stream, code::PEER_UID, &msg).await;
        return;
    }
    let mut buf = vec![0u8; READ_BUF];
    let mut end = 0;
    let hello = tokio::time::timeout(
        ctx.cfg.handshake_timeout,
        read_hello(&mut stream, &mut buf, &mut end),
    )
    .await;
    let (t, body, mut start) = match hello {
        Ok(Ok(h)) => h,
        Ok(Err(msg)) => {
            stats.rejected.bad_handshake.fetch_add(1, Relaxed);
            refuse(&mut stream, code::BAD_HANDSHAKE, &msg).await;
            return;
        }
        Err(_) => {
            stats.rejected.bad_handshake.fetch_add(1, Relaxed);
            refuse(
                &mut stream,
                code::BAD_HANDSHAKE,
                "no hello within the handshake timeout",
            )
            .await;
            return;
        }
    };
    let hello = match FrameType::from_u8(t) {
        Some(FrameType::Hello) => wire::decode_hello(&buf[body]),
        _ => Err(wire::WireError::Invalid("first frame: expected a hello")),
    };
    let hello = match hello {
        Ok(h) if h.version == wire::VERSION => h,
        Ok(h) => {
            stats.rejected.version_mismatch.fetch_add(1, Relaxed);
            let msg = format!(
                "protocol version {} is not supported: this kpid ({}) speaks version {}",
                h.version,
                env!("CARGO_PKG_VERSION"),
                wire::VERSION
            );
            refuse(&mut stream, code::VERSION_MISMATCH, &msg).await;
            return;
        }
        Err(e) => {
            stats.rejected.bad_handshake.fetch_add(1, Relaxed);
            refuse(&mut stream, code::BAD_HANDSHAKE, &format!("bad hello: {e}")).await;
            return;
        }
    };
    let app = if hello.app.is_empty() {
        "unknown"
    } else {
        hello.app
    };
    let info = AppInfo {
        app: app.to_owned(),
        pid: hello.pid,
        host: hello.host.to_owned(),
        since: crate::kpi::now(),
    };
    let app: Arc<str> = Arc::from(app);
    let mut w = Vec::with_capacity(16);
    wire::encode_welcome(&mut w, wire::VERSION, ctx.cfg.max_frame_len as u32);
    if stream.write_all(&w).await.is_err() {
        return;
    }
    let id = stats.app_connected(info);
    stats.bytes.fetch_add(start as u64, Relaxed);
    loop {
        // Forward every complete frame in the buffer, in one batch.
        let mut bad_len = None;
        let first = start;
        loop {
            match wire::split_frame(&buf[start..end], ctx.cfg.max_frame_len) {
                Ok(Some((_, _, used))) => start += used,
                Ok(None) => break,
                Err(e) => {
                    bad_len = Some(e);
                    break;
                }
            }
        }
        if start > first {
            let batch = AppBatch {
                app: app.clone(),
                frames: buf[first..start].to_vec(),
            };
            if ctx.tx.send(Input::App(batch)).await.is_err() {
                break; // the engine stopped
            }
        }
        if let Some(e) = bad_len {
            stats.rejected.oversized.fetch_add(1, Relaxed);
            refuse(
                &mut stream,
                code::OVERSIZED,
                &format!("{e}; closing the connection"),
            )
            .await;
            break;
        }
        // Make room: move the partial frame to the front, grow for a large one.
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if end >= 4 {
            let need = 4 + u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            if need > buf.len() {
                buf.resize(need, 0);
            }
        }
        match stream.read(&mut buf[end..]).await {
            Ok(0) | Err(_) => {
                if end > 0 {
                    stats.rejected.truncated.fetch_add(1, Relaxed);
                }
                break;
            }
            Ok(n) => {
                end += n;
                stats.bytes.fetch_add(n as u64, Relaxed);
            }
        }
    }
    stats.app_disconnected(id);
}

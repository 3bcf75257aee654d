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

use super::budget::{Buf, BUSY_MAX};

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

/// Largest hello accepted.
const MAX_HELLO: usize = 64 << 10;

/// Reads until one whole frame is in the buffer; returns (type, body range, frame end).
async fn read_hello(
    stream: &mut UnixStream,
    buf: &mut Buf,
) -> Result<(u8, std::ops::Range<usize>, usize), String> {
    loop {
        match wire::split_frame(&buf.bytes, MAX_HELLO) {
            Ok(Some((t, body, used))) => {
                return Ok((t, wire::HEADER_LEN..wire::HEADER_LEN + body.len(), used))
            }
            Ok(None) => {}
            Err(e) => return Err(format!("not a kpid hello: {e}")),
        }
        if buf.bytes.len() == buf.capacity()
            && !buf.grow_to((2 * buf.capacity()).min(MAX_HELLO + wire::HEADER_LEN))
        {
            return Err("kpid's socket memory budget is spent; try again later".into());
        }
        match buf.read_from(stream).await {
            Ok(0) => return Err("closed before the hello".into()),
            Ok(_) => {}
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
    let Some(mut buf) = Buf::new(ctx.budget.clone()) else {
        stats.rejected.memory.fetch_add(1, Relaxed);
        refuse(
            &mut stream,
            code::BUSY,
            "kpid's socket memory budget is spent; try again later",
        )
        .await;
        return;
    };
    let hello =
        tokio::time::timeout(ctx.cfg.handshake_timeout, read_hello(&mut stream, &mut buf)).await;
    let (t, body, hello_len) = match hello {
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
        Some(FrameType::Hello) => wire::decode_hello(&buf.bytes[body]),
        _ => Err(wire::WireError::Invalid("first frame: expected a hello")),
    };
    let hello = match hello {
        Ok(h) if (wire::MIN_VERSION..=wire::VERSION).contains(&h.version) => h,
        Ok(h) => {
            stats.rejected.version_mismatch.fetch_add(1, Relaxed);
            let msg = format!(
                "protocol version {} is not supported: this kpid ({}) speaks versions {} to {}",
                h.version,
                env!("CARGO_PKG_VERSION"),
                wire::MIN_VERSION,
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
    // The version both ends speak: the sender's, when it is older than ours.
    let version = hello.version.min(wire::VERSION);
    wire::encode_welcome(&mut w, version, ctx.cfg.max_frame_len as u32);
    if stream.write_all(&w).await.is_err() {
        return;
    }
    let id = stats.app_connected(info);
    stats.bytes.fetch_add(hello_len as u64, Relaxed);
    buf.consume(hello_len);
    loop {
        // Forward every complete frame in the buffer, in one batch.
        let mut bad_len = None;
        let mut start = 0;
        loop {
            match wire::split_frame(&buf.bytes[start..], ctx.cfg.max_frame_len) {
                Ok(Some((_, _, used))) => start += used,
                Ok(None) => break,
                Err(e) => {
                    bad_len = Some(e);
                    break;
                }
            }
        }
        if start > 0 {
            // A slot first, then the copy: waiting connections hold no batch.
            let Ok(slot) = ctx.tx.reserve().await else {
                break; // the engine stopped
            };
            slot.send(Input::App(AppBatch {
                app: app.clone(),
                conn: id,
                frames: buf.bytes[..start].to_vec(),
            }));
            buf.consume(start);
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
        // Room for the partial frame (from the budget), or more room for a busy app.
        let held = buf.bytes.len();
        let need = if held >= 4 {
            4 + u32::from_le_bytes([buf.bytes[0], buf.bytes[1], buf.bytes[2], buf.bytes[3]])
                as usize
        } else {
            0
        };
        if need > buf.capacity() && !buf.grow_to(need) {
            stats.rejected.memory.fetch_add(1, Relaxed);
            let msg = format!("a frame of {need} bytes does not fit kpid's socket memory budget now; closing the connection");
            refuse(&mut stream, code::BUSY, &msg).await;
            break;
        }
        if held == 0 {
            buf.shrink();
        }
        // A partial frame must be completed in time; an idle app may wait forever.
        let read = if held > 0 {
            match tokio::time::timeout(ctx.cfg.frame_timeout, buf.read_from(&mut stream)).await {
                Ok(r) => r,
                Err(_) => {
                    stats.rejected.stalled.fetch_add(1, Relaxed);
                    let msg = format!(
                        "frame not completed within {:?}; closing the connection",
                        ctx.cfg.frame_timeout
                    );
                    refuse(&mut stream, code::STALLED, &msg).await;
                    break;
                }
            }
        } else {
            buf.read_from(&mut stream).await
        };
        match read {
            Ok(0) | Err(_) => {
                if !buf.bytes.is_empty() {
                    stats.rejected.truncated.fetch_add(1, Relaxed);
                }
                break;
            }
            Ok(n) => {
                stats.bytes.fetch_add(n as u64, Relaxed);
                // A read that filled the buffer: a busy app gets a larger one if there is room.
                if buf.bytes.len() == buf.capacity() && buf.capacity() < BUSY_MAX {
                    let _ = buf.grow_to(2 * buf.capacity());
                }
            }
        }
    }
    stats.app_disconnected(id);
}

//! One remote-write request: a POST over a fresh plain-HTTP/1.1 connection (hyper's client
//! connection over tokio TCP), with the protocol's headers and the configured ones.

use super::config::Target;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, StatusCode};
use std::time::Duration;

/// Most bytes of a refusal's body kept for the health's `last_error`.
const MAX_ERROR_BODY: usize = 512;

/// Why a request did not go through.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendError {
    /// Worth trying again: no connection, a timeout, a 5xx or a 429.
    #[error("{0}")]
    Retry(String),
    /// The receiver refused the batch (4xx): sending it again would be refused again.
    #[error("{0}")]
    Refused(String),
}

/// Posts `body` (a snappy-compressed `WriteRequest`) to `target` within `timeout`.
pub(super) async fn post(
    target: &Target,
    headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
    timeout: Duration,
) -> Result<(), SendError> {
    match tokio::time::timeout(timeout, attempt(target, headers, body)).await {
        Ok(r) => r,
        Err(_) => Err(SendError::Retry(format!(
            "remote write to {} timed out after {timeout:?}",
            target.shown
        ))),
    }
}

async fn attempt(
    target: &Target,
    headers: &[(HeaderName, HeaderValue)],
    body: Bytes,
) -> Result<(), SendError> {
    let retry = |what: &str, e: &dyn std::fmt::Display| {
        SendError::Retry(format!("remote write to {}: {what}: {e}", target.shown))
    };
    let tcp = tokio::net::TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| retry("cannot connect", &e))?;
    let _ = tcp.set_nodelay(true);
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| retry("handshake", &e))?;
    // The connection task ends when `sender` is dropped (the request answered or abandoned).
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut req = Request::post(target.path.as_str())
        .header(hyper::header::HOST, target.authority.as_str())
        .header(hyper::header::CONTENT_ENCODING, "snappy")
        .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
        .header(
            hyper::header::USER_AGENT,
            concat!("kpid/", env!("CARGO_PKG_VERSION")),
        )
        .header("X-Prometheus-Remote-Write-Version", "0.1.0");
    if let Some(b) = &target.basic {
        req = req.header(hyper::header::AUTHORIZATION, b.as_str());
    }
    let mut req = req
        .body(Full::new(body))
        .map_err(|e| retry("request", &e))?;
    for (k, v) in headers {
        req.headers_mut().insert(k.clone(), v.clone());
    }
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| retry("request failed", &e))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = match Limited::new(resp.into_body(), 64 << 10).collect().await {
        Ok(b) => {
            let b = b.to_bytes();
            let mut t: String = String::from_utf8_lossy(&b[..b.len().min(MAX_ERROR_BODY)])
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            t.truncate(t.trim_end().len());
            t
        }
        Err(_) => String::new(),
    };
    let msg = format!("remote write to {}: {status}: {text}", target.shown);
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Err(SendError::Retry(msg))
    } else {
        Err(SendError::Refused(msg))
    }
}

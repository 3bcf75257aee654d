//! One OTLP/HTTP request, as the specification answers it: 200 with an empty
//! `Export*ServiceResponse` (or its `partial_success` with the items left out), 400 for a
//! body that does not decode, 404, 405, 408 for a body that takes over 10 s to arrive, 413
//! for a body over the cap (sent or inflated) or one that would take more than the whole
//! memory budget once decoded, 415 for a content type or encoding not read,
//! 429 when the memory budget is spent and 503 when the engine had no room in time (both with
//! `Retry-After`). Errors carry a `google.rpc.Status` in the request's encoding. Every
//! refusal is counted in [`OtlpStats`].

use super::decode::{self, DecodeError, Encoding, Signal};
use super::proto::{ExportResponse, PartialSuccess};
use super::{OtlpBatch, OtlpConfig, OtlpStats};
use crate::server::{auth, Guard};
use crate::sources::socket::budget::{Budget, Charge};
use crate::sources::Input;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use warp::http::{header, Request, Response, StatusCode};

/// Longest a body may take to arrive once its head has (what it holds is charged meanwhile).
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// `google.rpc.Status`, the body of an error response.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

struct Inner {
    cfg: OtlpConfig,
    guard: Guard,
    tx: tokio::sync::mpsc::Sender<Input>,
    stats: Arc<OtlpStats>,
    budget: Arc<Budget>,
}

/// The receiver as a tower service, for the server's listener.
#[derive(Clone)]
pub(super) struct Service(Arc<Inner>);

impl Service {
    pub(super) fn new(
        cfg: OtlpConfig,
        addr: SocketAddr,
        tx: tokio::sync::mpsc::Sender<Input>,
        stats: Arc<OtlpStats>,
        budget: Arc<Budget>,
    ) -> Service {
        let guard = Guard::new(addr, &[], Arc::from(""), false, (8 << 10, u64::MAX));
        Service(Arc::new(Inner {
            cfg,
            guard,
            tx,
            stats,
            budget,
        }))
    }
}

type Reply = Response<Full<Bytes>>;

impl tower_service::Service<Request<Incoming>> for Service {
    type Response = Reply;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Reply, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            Ok(match handle(&inner, req).await {
                Ok(r) => r,
                Err(e) => e.reply(&inner.stats),
            })
        })
    }
}

/// A refusal: its status, the counter it goes to, its message, and the encoding to answer in.
struct Refusal {
    status: StatusCode,
    counter: fn(&OtlpStats) -> &AtomicU64,
    message: String,
    encoding: Option<Encoding>,
}

impl Refusal {
    fn new(status: StatusCode, counter: fn(&OtlpStats) -> &AtomicU64, message: String) -> Self {
        Refusal {
            status,
            counter,
            message,
            encoding: None,
        }
    }

    fn reply(self, stats: &OtlpStats) -> Reply {
        stats.refuse((self.counter)(stats), &self.message);
        let (ct, body) = match self.encoding {
            Some(Encoding::Protobuf) => {
                use prost::Message;
                let s = RpcStatus {
                    code: grpc_code(self.status),
                    message: self.message,
                };
                ("application/x-protobuf", s.encode_to_vec())
            }
            _ => (
                "application/json",
                serde_json::json!({"code": grpc_code(self.status), "message": self.message})
                    .to_string()
                    .into_bytes(),
            ),
        };
        let mut r = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, ct);
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            r = r.header(header::RETRY_AFTER, "1");
        }
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            r = r.header(header::ALLOW, "POST");
        }
        r.body(Full::new(Bytes::from(body)))
            .expect("a valid response")
    }
}

/// The gRPC code matching an HTTP status (what `google.rpc.Status.code` holds).
fn grpc_code(s: StatusCode) -> i32 {
    match s.as_u16() {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        403 | 421 => 7,       // PERMISSION_DENIED
        404 | 405 => 12,      // UNIMPLEMENTED
        429 => 8,             // RESOURCE_EXHAUSTED
        408 => 4,             // DEADLINE_EXCEEDED
        _ => 14,              // UNAVAILABLE
    }
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Checks the head: method, path, `Host`, `Origin`, token, content type and encoding.
fn check_head(inner: &Inner, req: &Request<Incoming>) -> Result<(Signal, Encoding, bool), Refusal> {
    use StatusCode as S;
    let Some(signal) = Signal::from_path(req.uri().path()) else {
        return Err(Refusal::new(
            S::NOT_FOUND,
            |s| &s.rejected.not_found,
            format!(
                "no otlp endpoint at `{}` (/v1/traces, /v1/logs, /v1/metrics)",
                req.uri().path()
            ),
        ));
    };
    if req.method() != warp::http::Method::POST {
        return Err(Refusal::new(
            S::METHOD_NOT_ALLOWED,
            |s| &s.rejected.method,
            format!("otlp takes POST, not {}", req.method()),
        ));
    }
    if let Some(h) = header_str(req, header::HOST).filter(|h| !inner.guard.host_ok(h)) {
        return Err(Refusal::new(
            S::MISDIRECTED_REQUEST,
            |s| &s.rejected.host,
            format!("host `{h}` is not served by this otlp receiver"),
        ));
    }
    if req.headers().contains_key(header::ORIGIN) {
        return Err(Refusal::new(
            S::FORBIDDEN,
            |s| &s.rejected.host,
            "otlp requests from web pages are not accepted".into(),
        ));
    }
    if let Some(token) = &inner.cfg.token {
        let presented = auth::presented(header_str(req, header::AUTHORIZATION), "");
        if !presented.is_some_and(|t| auth::same(t.as_bytes(), token.as_bytes())) {
            return Err(Refusal::new(
                S::UNAUTHORIZED,
                |s| &s.rejected.token,
                "this otlp receiver is bound beyond loopback: send kpid's token (Authorization: Bearer TOKEN, e.g. in OTEL_EXPORTER_OTLP_HEADERS)".into(),
            ));
        }
    }
    let ct = header_str(req, header::CONTENT_TYPE).unwrap_or("");
    let Some(encoding) = Encoding::from_content_type(ct) else {
        return Err(Refusal::new(
            S::UNSUPPORTED_MEDIA_TYPE,
            |s| &s.rejected.unsupported_media_type,
            format!("content type `{ct}` is not read (application/x-protobuf, application/json)"),
        ));
    };
    let gzip = match header_str(req, header::CONTENT_ENCODING).map(str::trim) {
        None | Some("") | Some("identity") => false,
        Some(e) if e.eq_ignore_ascii_case("gzip") => true,
        Some(e) => {
            let mut r = Refusal::new(
                S::UNSUPPORTED_MEDIA_TYPE,
                |s| &s.rejected.unsupported_media_type,
                format!("content encoding `{e}` is not read (gzip, identity)"),
            );
            r.encoding = Some(encoding);
            return Err(r);
        }
    };
    Ok((signal, encoding, gzip))
}

fn too_large(max: usize) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        |s| &s.rejected.too_large,
        format!("otlp body over the limit of {max} bytes ([otlp] max_body)"),
    )
}

/// A body that would take `need` bytes once decoded, more than the whole budget: it never
/// fits, so it is not worth a retry.
fn never_fits(need: usize, cap: usize) -> Refusal {
    Refusal::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        |s| &s.rejected.too_large,
        format!(
            "otlp body would take {need} bytes decoded, more than the memory budget of {cap} \
             ([otlp] memory_budget): send smaller batches"
        ),
    )
}

fn no_memory() -> Refusal {
    Refusal::new(
        StatusCode::TOO_MANY_REQUESTS,
        |s| &s.rejected.memory,
        "otlp memory budget spent by requests in flight: retry later ([otlp] memory_budget)".into(),
    )
}

/// Reads the body within `max` bytes, charging what it holds.
async fn read_body(
    mut body: Incoming,
    max: usize,
    hint: usize,
    charge: &mut Charge,
) -> Result<Vec<u8>, Refusal> {
    let mut buf = Vec::with_capacity(hint.min(max));
    if !charge.set(buf.capacity()) {
        return Err(no_memory());
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                |s| &s.rejected.truncated,
                format!("otlp body not received whole: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if buf.len() + data.len() > max {
            drain(body, max).await;
            return Err(too_large(max));
        }
        if buf.capacity() < buf.len() + data.len() {
            let want = (buf.len() + data.len()).max(buf.capacity() * 2).min(max);
            if !charge.set(want) {
                return Err(no_memory());
            }
            buf.reserve_exact(want - buf.len());
        }
        buf.extend_from_slice(&data);
    }
    Ok(buf)
}

/// Reads and drops up to `limit` more bytes of a refused body, for a moment, so that the
/// client is not reset before it reads the refusal.
async fn drain(mut body: Incoming, limit: usize) {
    let mut left = limit;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        while let Some(Ok(f)) = body.frame().await {
            let n = f.data_ref().map_or(0, |d| d.len());
            if n >= left {
                break;
            }
            left -= n;
        }
    })
    .await;
}

async fn handle(inner: &Inner, req: Request<Incoming>) -> Result<Reply, Refusal> {
    let stats = &inner.stats;
    stats.requests.fetch_add(1, Relaxed);
    let (signal, encoding, gzip) = check_head(inner, &req)?;
    let with_enc = |mut r: Refusal| {
        r.encoding = Some(encoding);
        r
    };
    let max = inner.cfg.max_body;
    let length = header_str(&req, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if length.is_some_and(|n| n > max as u64) {
        return Err(with_enc(too_large(max)));
    }
    let mut charge = Charge::new(inner.budget.clone());
    let hint = length.map_or(64 << 10, |n| n as usize);
    let read = read_body(req.into_body(), max, hint, &mut charge);
    let mut body = match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(b) => b.map_err(with_enc)?,
        Err(_) => {
            return Err(with_enc(Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                |s| &s.rejected.truncated,
                format!("otlp body not received within {BODY_TIMEOUT:?}"),
            )))
        }
    };
    stats.bytes.fetch_add(body.len() as u64, Relaxed);
    if gzip {
        if !charge.set(body.capacity() + max) {
            return Err(with_enc(no_memory()));
        }
        body = decode::gunzip(&body, max).map_err(|e| with_enc(decode_refusal(e)))?;
    }
    stats.bytes_inflated.fetch_add(body.len() as u64, Relaxed);
    // What decoding will hold beside the body, charged before it starts: a protobuf trace
    // export is decoded in place and its tables charged as they grow; the other messages
    // are bounded beforehand (`size`).
    let traces = (signal, encoding) == (Signal::Traces, Encoding::Protobuf);
    let decoded = match encoding {
        Encoding::Protobuf => {
            super::size::protobuf(signal, &body).map_err(|e| with_enc(decode_refusal(e.into())))?
        }
        Encoding::Json => super::size::json(&body),
    };
    let held = body.capacity();
    let cap = inner.budget.cap();
    let refuse = |need: usize| {
        with_enc(if need > cap {
            never_fits(need, cap)
        } else {
            no_memory()
        })
    };
    if !charge.set(held + decoded) {
        return Err(refuse(held + decoded));
    }
    let room = &mut |n: usize| !traces || charge.set(held + n);
    let request = decode::decode_within(signal, encoding, body, room).map_err(|e| match e {
        DecodeError::Budget(n) => refuse(held + n),
        e => with_enc(decode_refusal(e)),
    })?;
    // The body is gone unless a trace export kept it.
    charge.set(match &request {
        decode::Request::Traces(t) => t.heap_bytes(),
        _ => decoded,
    });
    let (items, invalid, why) = super::check::invalid(&request);
    let batch = OtlpBatch {
        request,
        stats: stats.clone(),
        _charge: charge,
    };
    if let Err(e) = inner
        .tx
        .send_timeout(Input::Otlp(batch), inner.cfg.engine_wait)
        .await
    {
        stats.rejected_items.fetch_add(items, Relaxed);
        let msg = match e {
            tokio::sync::mpsc::error::SendTimeoutError::Timeout(_) => {
                "kpid's engine is busy: retry later"
            }
            tokio::sync::mpsc::error::SendTimeoutError::Closed(_) => "kpid is stopping",
        };
        return Err(with_enc(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            |s| &s.rejected.busy,
            msg.into(),
        )));
    }
    if invalid > 0 {
        stats.rejected_items.fetch_add(invalid, Relaxed);
    }
    let partial = (invalid > 0).then(|| PartialSuccess {
        rejected: invalid as i64,
        error_message: why.to_owned(),
    });
    Ok(ok(encoding, signal, partial))
}

fn decode_refusal(e: DecodeError) -> Refusal {
    match e {
        DecodeError::TooLarge { limit } => too_large(limit),
        e => Refusal::new(
            StatusCode::BAD_REQUEST,
            |s| &s.rejected.malformed,
            e.to_string(),
        ),
    }
}

/// 200 with the (empty, or partial-success) response in the request's encoding.
fn ok(encoding: Encoding, signal: Signal, partial: Option<PartialSuccess>) -> Reply {
    let (ct, body) = match encoding {
        Encoding::Protobuf => {
            use prost::Message;
            let r = ExportResponse {
                partial_success: partial,
            };
            ("application/x-protobuf", r.encode_to_vec())
        }
        Encoding::Json => {
            let v = match partial {
                None => serde_json::json!({}),
                Some(p) => {
                    let field = match signal {
                        Signal::Traces => "rejectedSpans",
                        Signal::Logs => "rejectedLogRecords",
                        Signal::Metrics => "rejectedDataPoints",
                    };
                    serde_json::json!({"partialSuccess": {
                        field: p.rejected.to_string(),
                        "errorMessage": p.error_message,
                    }})
                }
            };
            ("application/json", v.to_string().into_bytes())
        }
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, ct)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

//! From a request body to OTLP messages: gzip undone within a size cap (a small body that
//! inflates past it is refused as it inflates, so a gzip bomb never grows memory beyond the
//! cap), then protobuf or JSON decoded into the messages of `proto` and `proto_metrics`.

use super::proto::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use super::proto_metrics::{metric::Data, ExportMetricsServiceRequest};
use super::spans::{SpansError, Traces, WireError};
use std::io::Read;

/// What a body carries, by path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/traces`.
    Traces,
    /// `/v1/logs`.
    Logs,
    /// `/v1/metrics`.
    Metrics,
}

impl Signal {
    /// The signal a request path names.
    pub fn from_path(path: &str) -> Option<Signal> {
        match path {
            "/v1/traces" => Some(Signal::Traces),
            "/v1/logs" => Some(Signal::Logs),
            "/v1/metrics" => Some(Signal::Metrics),
            _ => None,
        }
    }
}

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

impl Encoding {
    /// The encoding a `Content-Type` names (parameters ignored), if kpid reads it.
    pub fn from_content_type(ct: &str) -> Option<Encoding> {
        let mime = ct.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Encoding::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Some(Encoding::Json)
        } else {
            None
        }
    }
}

/// A decoded export request.
#[derive(Debug, Clone)]
pub enum Request {
    /// Spans, decoded in place.
    Traces(Traces),
    /// Log records.
    Logs(ExportLogsServiceRequest),
    /// Metrics.
    Metrics(ExportMetricsServiceRequest),
}

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// gzip that inflates past the cap.
    #[error("otlp body inflates past the limit of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: usize,
    },
    /// Broken gzip.
    #[error("otlp body is not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// Protobuf that does not decode.
    #[error("otlp protobuf body does not decode: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// Protobuf that does not decode (read by kpid's own reader).
    #[error("otlp protobuf body does not decode: {0}")]
    Wire(#[from] WireError),
    /// A trace export whose decoded tables would pass the memory budget.
    #[error("otlp body needs {0} bytes decoded, past the memory budget")]
    Budget(usize),
    /// JSON that does not decode.
    #[error("otlp json body does not decode: {0}")]
    Json(#[from] serde_json::Error),
}

/// Inflates a gzip body, refusing it once it would exceed `limit` bytes.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut dec = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    dec.read_to_end(&mut out).map_err(DecodeError::Gzip)?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes `body` as an export request of `signal` in `encoding` (a protobuf trace export
/// keeps `body`: its spans are read in place).
pub fn decode(signal: Signal, encoding: Encoding, body: Vec<u8>) -> Result<Request, DecodeError> {
    decode_within(signal, encoding, body, &mut |_| true)
}

/// [`decode`], asking `room` before a trace export's tables grow to a total of so many
/// bytes (refused with [`DecodeError::Budget`] when it says no).
pub fn decode_within(
    signal: Signal,
    encoding: Encoding,
    body: Vec<u8>,
    room: &mut dyn FnMut(usize) -> bool,
) -> Result<Request, DecodeError> {
    use prost::Message;
    let body_ref = &body[..];
    Ok(match (signal, encoding) {
        (Signal::Traces, Encoding::Protobuf) => {
            Request::Traces(Traces::decode_within(body, room).map_err(|e| match e {
                SpansError::Wire(e) => DecodeError::Wire(e),
                SpansError::Budget(n) => DecodeError::Budget(n),
            })?)
        }
        (Signal::Logs, Encoding::Protobuf) => {
            Request::Logs(ExportLogsServiceRequest::decode(body_ref)?)
        }
        (Signal::Metrics, Encoding::Protobuf) => {
            Request::Metrics(ExportMetricsServiceRequest::decode(body_ref)?)
        }
        (Signal::Traces, Encoding::Json) => {
            let m: ExportTraceServiceRequest = serde_json::from_slice(body_ref)?;
            Request::Traces(Traces::from_message(&m))
        }
        (Signal::Logs, Encoding::Json) => Request::Logs(serde_json::from_slice(body_ref)?),
        (Signal::Metrics, Encoding::Json) => Request::Metrics(serde_json::from_slice(body_ref)?),
    })
}

impl Request {
    /// Spans, log records or data points it holds.
    pub fn items(&self) -> u64 {
        let n: usize = match self {
            Request::Traces(t) => t.len(),
            Request::Logs(l) => l
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            Request::Metrics(m) => m
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(Data::Gauge(g)) => g.data_points.len(),
                    Some(Data::Sum(s)) => s.data_points.len(),
                    Some(Data::Histogram(h)) => h.data_points.len(),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
                    Some(Data::Summary(s)) => s.data_points.len(),
                    None => 0,
                })
                .sum(),
        };
        n as u64
    }

    /// The signal.
    pub fn signal(&self) -> Signal {
        match self {
            Request::Traces(_) => Signal::Traces,
            Request::Logs(_) => Signal::Logs,
            Request::Metrics(_) => Signal::Metrics,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_gzip_bomb_is_refused_at_the_cap() {
        let bomb = gz(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 128 << 10, "{}", bomb.len());
        assert!(matches!(
            gunzip(&bomb, 1 << 20),
            Err(DecodeError::TooLarge { limit }) if limit == 1 << 20
        ));
        assert_eq!(gunzip(&gz(b"hello"), 5).unwrap(), b"hello");
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(DecodeError::Gzip(_))
        ));
    }

    #[test]
    fn truncated_protobuf_is_malformed_and_content_types_are_read() {
        use crate::sources::otlp::proto::*;
        use prost::Message;
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans {
                    scope: None,
                    spans: vec![Span {
                        name: "op".into(),
                        ..Default::default()
                    }],
                }],
            }],
        };
        let bytes = req.encode_to_vec();
        let ok = decode(Signal::Traces, Encoding::Protobuf, bytes.clone()).unwrap();
        assert_eq!(ok.items(), 1);
        let cut = bytes[..bytes.len() - 1].to_vec();
        assert!(decode(Signal::Traces, Encoding::Protobuf, cut).is_err());
        assert_eq!(
            Encoding::from_content_type("application/json; charset=utf-8"),
            Some(Encoding::Json)
        );
        assert_eq!(Encoding::from_content_type("text/plain"), None);
        assert_eq!(Signal::from_path("/v1/logs"), Some(Signal::Logs));
    }
}

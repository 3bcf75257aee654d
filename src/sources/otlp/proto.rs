//! The OTLP messages kpid reads (opentelemetry-proto `collector/{trace,logs}/v1`, `trace/v1`,
//! `logs/v1`, `common/v1`, `resource/v1`), written by hand as `prost` messages: no `protoc`,
//! no gRPC stack. Only the fields kpid uses are declared; the others (events, links, entity
//! references, array and key-list attribute values...) are skipped by the decoder as unknown
//! fields, so they cost a length check and nothing else.
//!
//! The same structs read OTLP's JSON mapping through serde (`json`): lowerCamelCase names,
//! trace and span ids as hex, 64-bit integers as strings or numbers, enums as integers.

use super::json::{self, de_hex, de_u64};
use serde::Deserialize;

/// `common.v1.AnyValue`: one of its scalar variants (arrays, key lists and the dictionary
/// index of profiles are skipped, leaving `value` empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyValue {
    /// The value.
    #[prost(oneof = "any_value::Value", tags = "1, 2, 3, 4, 7")]
    pub value: Option<any_value::Value>,
}

/// `AnyValue`'s variants.
pub mod any_value {
    /// A scalar attribute value.
    #[derive(Clone, PartialEq, prost::Oneof)]
    pub enum Value {
        /// `string_value`.
        #[prost(string, tag = "1")]
        StringValue(String),
        /// `bool_value`.
        #[prost(bool, tag = "2")]
        BoolValue(bool),
        /// `int_value`.
        #[prost(int64, tag = "3")]
        IntValue(i64),
        /// `double_value`.
        #[prost(double, tag = "4")]
        DoubleValue(f64),
        /// `bytes_value`.
        #[prost(bytes = "vec", tag = "7")]
        BytesValue(Vec<u8>),
    }
}

/// `common.v1.KeyValue`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct KeyValue {
    /// Attribute name.
    #[prost(string, tag = "1")]
    pub key: String,
    /// Its value.
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

/// `resource.v1.Resource`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct Resource {
    /// Resource attributes (`service.name`, ...).
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

/// `common.v1.InstrumentationScope`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct InstrumentationScope {
    /// Scope (library) name: the record's target.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `collector.trace.v1.ExportTraceServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExportTraceServiceRequest {
    /// Spans by resource.
    #[prost(message, repeated, tag = "1")]
    pub resource_spans: Vec<ResourceSpans>,
}

/// `trace.v1.ResourceSpans`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceSpans {
    /// The resource.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Spans by scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_spans: Vec<ScopeSpans>,
}

/// `trace.v1.ScopeSpans`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct ScopeSpans {
    /// The scope.
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// Its spans.
    #[prost(message, repeated, tag = "2")]
    pub spans: Vec<Span>,
}

/// `trace.v1.Span`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Span {
    /// Trace id (16 bytes).
    #[prost(bytes = "vec", tag = "1")]
    #[serde(deserialize_with = "de_hex")]
    pub trace_id: Vec<u8>,
    /// Span id (8 bytes).
    #[prost(bytes = "vec", tag = "2")]
    #[serde(deserialize_with = "de_hex")]
    pub span_id: Vec<u8>,
    /// Parent span id (empty for a root span).
    #[prost(bytes = "vec", tag = "4")]
    #[serde(deserialize_with = "de_hex")]
    pub parent_span_id: Vec<u8>,
    /// Operation name.
    #[prost(string, tag = "5")]
    pub name: String,
    /// `SpanKind`.
    #[prost(int32, tag = "6")]
    #[serde(deserialize_with = "json::de_enum_any")]
    pub kind: i32,
    /// Start, Unix ns.
    #[prost(fixed64, tag = "7")]
    #[serde(deserialize_with = "de_u64")]
    pub start_time_unix_nano: u64,
    /// End, Unix ns.
    #[prost(fixed64, tag = "8")]
    #[serde(deserialize_with = "de_u64")]
    pub end_time_unix_nano: u64,
    /// Attributes.
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    /// Status.
    #[prost(message, optional, tag = "15")]
    pub status: Option<Status>,
}

/// `trace.v1.Status`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct Status {
    /// Description.
    #[prost(string, tag = "2")]
    pub message: String,
    /// 0 unset, 1 ok, 2 error.
    #[prost(int32, tag = "3")]
    #[serde(deserialize_with = "json::de_status_code")]
    pub code: i32,
}

/// `Status.code` of a failed span.
pub const STATUS_CODE_ERROR: i32 = 2;

/// `collector.logs.v1.ExportLogsServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExportLogsServiceRequest {
    /// Log records by resource.
    #[prost(message, repeated, tag = "1")]
    pub resource_logs: Vec<ResourceLogs>,
}

/// `logs.v1.ResourceLogs`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceLogs {
    /// The resource.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Records by scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_logs: Vec<ScopeLogs>,
}

/// `logs.v1.ScopeLogs`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScopeLogs {
    /// The scope.
    #[prost(message, optional, tag = "1")]
    pub scope: Option<InstrumentationScope>,
    /// Its records.
    #[prost(message, repeated, tag = "2")]
    pub log_records: Vec<LogRecord>,
}

/// `logs.v1.LogRecord`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LogRecord {
    /// When the event happened, Unix ns (0: unknown).
    #[prost(fixed64, tag = "1")]
    #[serde(deserialize_with = "de_u64")]
    pub time_unix_nano: u64,
    /// When it was observed, Unix ns.
    #[prost(fixed64, tag = "11")]
    #[serde(deserialize_with = "de_u64")]
    pub observed_time_unix_nano: u64,
    /// 1-4 trace, 5-8 debug, 9-12 info, 13-16 warn, 17-20 error, 21-24 fatal.
    #[prost(int32, tag = "2")]
    #[serde(deserialize_with = "json::de_severity")]
    pub severity_number: i32,
    /// The level as the source wrote it.
    #[prost(string, tag = "3")]
    pub severity_text: String,
    /// The message.
    #[prost(message, optional, tag = "5")]
    pub body: Option<AnyValue>,
    /// Attributes.
    #[prost(message, repeated, tag = "6")]
    pub attributes: Vec<KeyValue>,
    /// Event name.
    #[prost(string, tag = "12")]
    pub event_name: String,
}

/// `Export*PartialSuccess` (the same fields for traces, logs and metrics: what was
/// rejected, and why).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PartialSuccess {
    /// Spans, log records or data points rejected.
    #[prost(int64, tag = "1")]
    pub rejected: i64,
    /// Why.
    #[prost(string, tag = "2")]
    pub error_message: String,
}

/// `Export*ServiceResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExportResponse {
    /// Absent when everything was accepted.
    #[prost(message, optional, tag = "1")]
    pub partial_success: Option<PartialSuccess>,
}

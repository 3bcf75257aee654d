//! The OTLP metric messages kpid reads (`collector/metrics/v1`, `metrics/v1`), as `prost`
//! messages that also read OTLP/JSON (see `proto`). Exemplars and metadata are skipped.

use super::json::{de_f64, de_i32, de_i64, de_temporality, de_u64, de_u64s};
use super::proto::{KeyValue, Resource};
use serde::Deserialize;

/// `collector.metrics.v1.ExportMetricsServiceRequest`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExportMetricsServiceRequest {
    /// Metrics by resource.
    #[prost(message, repeated, tag = "1")]
    pub resource_metrics: Vec<ResourceMetrics>,
}

/// `metrics.v1.ResourceMetrics`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ResourceMetrics {
    /// The resource.
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    /// Metrics by scope.
    #[prost(message, repeated, tag = "2")]
    pub scope_metrics: Vec<ScopeMetrics>,
}

/// `metrics.v1.ScopeMetrics` (the scope itself is not used).
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct ScopeMetrics {
    /// Its metrics.
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
}

/// `metrics.v1.Metric`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct Metric {
    /// Name (`http.server.duration`).
    #[prost(string, tag = "1")]
    pub name: String,
    /// Help text.
    #[prost(string, tag = "2")]
    pub description: String,
    /// UCUM unit (`ms`, `By`, `1`, `{request}`).
    #[prost(string, tag = "3")]
    pub unit: String,
    /// The points.
    #[prost(oneof = "metric::Data", tags = "5, 7, 9, 10, 11")]
    #[serde(flatten)]
    pub data: Option<metric::Data>,
}

/// `Metric`'s data.
pub mod metric {
    use serde::Deserialize;

    /// The kind of metric and its points.
    #[derive(Clone, PartialEq, prost::Oneof, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub enum Data {
        /// A gauge.
        #[prost(message, tag = "5")]
        Gauge(super::Gauge),
        /// A sum (counter or up-down counter).
        #[prost(message, tag = "7")]
        Sum(super::Sum),
        /// A histogram with explicit bounds.
        #[prost(message, tag = "9")]
        Histogram(super::Histogram),
        /// A base-2 exponential histogram.
        #[prost(message, tag = "10")]
        ExponentialHistogram(super::ExponentialHistogram),
        /// Quantiles computed by the app.
        #[prost(message, tag = "11")]
        Summary(super::Summary),
    }
}

/// `AggregationTemporality::DELTA`.
pub const DELTA: i32 = 1;

/// `metrics.v1.Gauge`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Gauge {
    /// Points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
}

/// `metrics.v1.Sum`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Sum {
    /// Points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
    /// 1 delta, 2 cumulative.
    #[prost(int32, tag = "2")]
    #[serde(deserialize_with = "de_temporality")]
    pub aggregation_temporality: i32,
    /// Only grows (a counter).
    #[prost(bool, tag = "3")]
    pub is_monotonic: bool,
}

/// `metrics.v1.NumberDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NumberDataPoint {
    /// Attributes (labels).
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    /// Start of the aggregation, Unix ns (a change means the series restarted).
    #[prost(fixed64, tag = "2")]
    #[serde(deserialize_with = "de_u64")]
    pub start_time_unix_nano: u64,
    /// The value.
    #[prost(oneof = "number_data_point::Value", tags = "4, 6")]
    #[serde(flatten)]
    pub value: Option<number_data_point::Value>,
}

/// `NumberDataPoint`'s value.
pub mod number_data_point {
    use super::{de_f64, de_i64};
    use serde::Deserialize;

    /// A double or an integer.
    #[derive(Clone, Copy, PartialEq, prost::Oneof, Deserialize)]
    pub enum Value {
        /// `as_double`.
        #[prost(double, tag = "4")]
        #[serde(rename = "asDouble", deserialize_with = "de_f64")]
        AsDouble(f64),
        /// `as_int`.
        #[prost(sfixed64, tag = "6")]
        #[serde(rename = "asInt", deserialize_with = "de_i64")]
        AsInt(i64),
    }
}

/// `metrics.v1.Histogram`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Histogram {
    /// Points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<HistogramDataPoint>,
    /// 1 delta, 2 cumulative.
    #[prost(int32, tag = "2")]
    #[serde(deserialize_with = "de_temporality")]
    pub aggregation_temporality: i32,
}

/// `metrics.v1.HistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HistogramDataPoint {
    /// Attributes.
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    /// Start of the aggregation, Unix ns.
    #[prost(fixed64, tag = "2")]
    #[serde(deserialize_with = "de_u64")]
    pub start_time_unix_nano: u64,
    /// Observations.
    #[prost(fixed64, tag = "4")]
    #[serde(deserialize_with = "de_u64")]
    pub count: u64,
    /// Sum of the observations.
    #[prost(double, optional, tag = "5")]
    pub sum: Option<f64>,
    /// Count per bucket (one more than `explicit_bounds`).
    #[prost(fixed64, repeated, tag = "6")]
    #[serde(deserialize_with = "de_u64s")]
    pub bucket_counts: Vec<u64>,
    /// Upper bounds of all buckets but the last.
    #[prost(double, repeated, tag = "7")]
    pub explicit_bounds: Vec<f64>,
    /// Least observation.
    #[prost(double, optional, tag = "11")]
    pub min: Option<f64>,
    /// Greatest observation.
    #[prost(double, optional, tag = "12")]
    pub max: Option<f64>,
}

/// `metrics.v1.ExponentialHistogram`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExponentialHistogram {
    /// Points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<ExponentialHistogramDataPoint>,
    /// 1 delta, 2 cumulative.
    #[prost(int32, tag = "2")]
    #[serde(deserialize_with = "de_temporality")]
    pub aggregation_temporality: i32,
}

/// `metrics.v1.ExponentialHistogramDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExponentialHistogramDataPoint {
    /// Attributes.
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
    /// Start of the aggregation, Unix ns.
    #[prost(fixed64, tag = "2")]
    #[serde(deserialize_with = "de_u64")]
    pub start_time_unix_nano: u64,
    /// Bucket boundaries are powers of `2^(2^-scale)`.
    #[prost(sint32, tag = "6")]
    #[serde(deserialize_with = "de_i32")]
    pub scale: i32,
    /// Observations at zero.
    #[prost(fixed64, tag = "7")]
    #[serde(deserialize_with = "de_u64")]
    pub zero_count: u64,
    /// Buckets above zero.
    #[prost(message, optional, tag = "8")]
    pub positive: Option<Buckets>,
    /// Buckets below zero.
    #[prost(message, optional, tag = "9")]
    pub negative: Option<Buckets>,
}

/// `ExponentialHistogramDataPoint.Buckets`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Buckets {
    /// Index of the first bucket.
    #[prost(sint32, tag = "1")]
    #[serde(deserialize_with = "de_i32")]
    pub offset: i32,
    /// Counts.
    #[prost(uint64, repeated, tag = "2")]
    #[serde(deserialize_with = "de_u64s")]
    pub bucket_counts: Vec<u64>,
}

/// `metrics.v1.Summary`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Summary {
    /// Points.
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<SummaryDataPoint>,
}

/// `metrics.v1.SummaryDataPoint`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SummaryDataPoint {
    /// Attributes.
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    /// Quantiles.
    #[prost(message, repeated, tag = "6")]
    pub quantile_values: Vec<ValueAtQuantile>,
}

/// `SummaryDataPoint.ValueAtQuantile`.
#[derive(Clone, PartialEq, prost::Message, Deserialize)]
#[serde(default)]
pub struct ValueAtQuantile {
    /// 0..1.
    #[prost(double, tag = "1")]
    #[serde(deserialize_with = "de_f64")]
    pub quantile: f64,
    /// The value.
    #[prost(double, tag = "2")]
    #[serde(deserialize_with = "de_f64")]
    pub value: f64,
}

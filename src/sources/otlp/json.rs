//! OTLP/JSON's mapping of protobuf, for serde: trace and span ids as hex (not base64),
//! 64-bit integers as decimal strings or numbers, doubles as numbers or `"NaN"` /
//! `"Infinity"`, enums as integers (their names accepted too), and `AnyValue` as an object
//! with one `stringValue` / `boolValue` / `intValue` / `doubleValue` / `bytesValue` key.

use super::proto::{any_value, AnyValue};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A number as a JSON number or a string; `name` maps enum names (`STATUS_CODE_ERROR`).
struct Num {
    name: fn(&str) -> Option<f64>,
}

fn no_names(_: &str) -> Option<f64> {
    None
}

impl<'de> Visitor<'de> for Num {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string holding one")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => v
                .parse::<f64>()
                .ok()
                .or_else(|| (self.name)(v))
                .ok_or_else(|| E::custom(format!("`{v}` is not a number"))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(0.0)
    }
}

/// An integer written as a string keeps all 64 bits: parse it as one before falling back.
struct Int;

impl<'de> Visitor<'de> for Int {
    type Value = i128;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a string holding one")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i128, E> {
        if v.fract() == 0.0 && v.abs() < 1.8e19 {
            Ok(v as i128)
        } else {
            Err(E::custom(format!("{v} is not an integer")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i128, E> {
        v.trim()
            .parse::<i128>()
            .map_err(|_| E::custom(format!("`{v}` is not an integer")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<i128, E> {
        Ok(0)
    }
}

fn int<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
    let v = d.deserialize_any(Int)?;
    T::try_from(v).map_err(|_| de::Error::custom(format!("{v} is out of range")))
}

/// A `fixed64` / `uint64`.
pub(super) fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    int(d)
}

/// An `int64` / `sfixed64`.
pub(super) fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    int(d)
}

/// An `int32` / `sint32`, or an enum given as an integer.
pub(super) fn de_i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    int(d)
}

/// A repeated `fixed64` / `uint64`.
pub(super) fn de_u64s<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    struct Seq;
    impl<'de> Visitor<'de> for Seq {
        type Value = Vec<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of integers")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Vec<u64>, A::Error> {
            let mut v = Vec::new();
            while let Some(x) = s.next_element::<U64>()? {
                v.push(x.0);
            }
            Ok(v)
        }
    }
    struct U64(u64);
    impl<'de> serde::Deserialize<'de> for U64 {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            de_u64(d).map(U64)
        }
    }
    d.deserialize_seq(Seq)
}

/// A `double`.
pub(super) fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    d.deserialize_any(Num { name: no_names })
}

fn enum_value<'de, D: Deserializer<'de>>(
    d: D,
    names: fn(&str) -> Option<f64>,
) -> Result<i32, D::Error> {
    let v = d.deserialize_any(Num { name: names })?;
    if v.fract() == 0.0 && v >= i32::MIN as f64 && v <= i32::MAX as f64 {
        Ok(v as i32)
    } else {
        Err(de::Error::custom(format!("{v} is not an enum value")))
    }
}

/// An enum kpid does not read (`Span.kind`): an integer, or any name (as 0).
pub(super) fn de_enum_any<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, |_| Some(0.0))
}

/// `aggregation_temporality`: an integer or `AGGREGATION_TEMPORALITY_DELTA` / `_CUMULATIVE`.
pub(super) fn de_temporality<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, |s| match s {
        "AGGREGATION_TEMPORALITY_UNSPECIFIED" => Some(0.0),
        "AGGREGATION_TEMPORALITY_DELTA" => Some(1.0),
        "AGGREGATION_TEMPORALITY_CUMULATIVE" => Some(2.0),
        _ => None,
    })
}

/// `Status.code`: an integer or `STATUS_CODE_UNSET` / `_OK` / `_ERROR`.
pub(super) fn de_status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, |s| {
        ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"]
            .iter()
            .position(|n| *n == s)
            .map(|i| i as f64)
    })
}

/// `LogRecord.severity_number`: an integer or `SEVERITY_NUMBER_INFO` and the like.
pub(super) fn de_severity<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    enum_value(d, |s| {
        let rest = s.strip_prefix("SEVERITY_NUMBER_")?;
        let (base, n): (&str, f64) = match rest.char_indices().find(|(_, c)| c.is_ascii_digit()) {
            Some((i, _)) => (&rest[..i], rest[i..].parse::<f64>().ok()? - 1.0),
            None => (rest, 0.0),
        };
        let first = match base {
            "UNSPECIFIED" => return Some(0.0),
            "TRACE" => 1.0,
            "DEBUG" => 5.0,
            "INFO" => 9.0,
            "WARN" => 13.0,
            "ERROR" => 17.0,
            "FATAL" => 21.0,
            _ => return None,
        };
        Some(first + n)
    })
}

/// Ids: hex in OTLP/JSON.
pub(super) fn de_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let s: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
    hex(&s).ok_or_else(|| de::Error::custom(format!("id `{s}` is not hex")))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some((digit(p[0])? * 16 + digit(p[1])?) as u8))
        .collect()
}

impl<'de> serde::Deserialize<'de> for AnyValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AnyValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an AnyValue object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<AnyValue, A::Error> {
                use any_value::Value as X;
                let mut value = None;
                while let Some(k) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    let v = match &*k {
                        "stringValue" => X::StringValue(m.next_value()?),
                        "boolValue" => X::BoolValue(m.next_value()?),
                        "intValue" => X::IntValue(m.next_value::<I64>()?.0),
                        "doubleValue" => X::DoubleValue(m.next_value::<F64>()?.0),
                        "bytesValue" => {
                            // base64 in OTLP/JSON: kept as its text, which is all kpid shows.
                            X::BytesValue(m.next_value::<String>()?.into_bytes())
                        }
                        _ => {
                            m.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    value = Some(v);
                }
                Ok(AnyValue { value })
            }
        }
        struct I64(i64);
        impl<'de> serde::Deserialize<'de> for I64 {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                de_i64(d).map(I64)
            }
        }
        struct F64(f64);
        impl<'de> serde::Deserialize<'de> for F64 {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                de_f64(d).map(F64)
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::super::proto::{ExportLogsServiceRequest, ExportTraceServiceRequest};
    use super::super::proto_metrics::{metric::Data, ExportMetricsServiceRequest};

    #[test]
    fn reads_the_json_mapping() {
        let t: ExportTraceServiceRequest = serde_json::from_str(
            r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
            "scopeSpans":[{"scope":{"name":"lib"},"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C",
            "spanId":"EEE19B7EC3C1B174","parentSpanId":"","name":"op","kind":2,
            "startTimeUnixNano":"1544712660000000000","endTimeUnixNano":1544712661000000000,
            "attributes":[{"key":"n","value":{"intValue":"7"}},{"key":"l","value":{"arrayValue":{"values":[]}}}],
            "status":{"code":"STATUS_CODE_ERROR"}}]}]}]}"#,
        )
        .unwrap();
        let s = &t.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.end_time_unix_nano - s.start_time_unix_nano, 1_000_000_000);
        assert_eq!(s.status.as_ref().unwrap().code, 2);
        assert_eq!(s.attributes.len(), 2);
        assert!(s.attributes[1].value.as_ref().unwrap().value.is_none());

        let l: ExportLogsServiceRequest = serde_json::from_str(
            r#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"severityNumber":"SEVERITY_NUMBER_WARN2","body":{"stringValue":"hi"}}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            l.resource_logs[0].scope_logs[0].log_records[0].severity_number,
            14
        );

        let m: ExportMetricsServiceRequest = serde_json::from_str(
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
              {"name":"a","sum":{"dataPoints":[{"asInt":"5"}],"aggregationTemporality":2,"isMonotonic":true}},
              {"name":"b","histogram":{"dataPoints":[{"count":"3","bucketCounts":["1",2],"explicitBounds":[1.5]}]}}]}]}]}"#,
        )
        .unwrap();
        let ms = &m.resource_metrics[0].scope_metrics[0].metrics;
        assert!(
            matches!(&ms[0].data, Some(Data::Sum(s)) if s.is_monotonic && s.data_points.len() == 1)
        );
        assert!(
            matches!(&ms[1].data, Some(Data::Histogram(h)) if h.data_points[0].bucket_counts == [1, 2])
        );
        assert!(serde_json::from_str::<ExportTraceServiceRequest>(
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"zz"}]}]}]}"#
        )
        .is_err());
    }
}

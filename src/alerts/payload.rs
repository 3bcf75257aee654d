//! Alertmanager's webhook payload (version 4), fingerprints, RFC 3339 times and the
//! `{{ $value }}` / `{{ $labels.x }}` templates of labels and annotations.

pub use crate::kpi::rfc3339;
use serde::Serialize;
use std::collections::BTreeMap;

/// Labels, sorted.
pub type Labels = BTreeMap<String, String>;

/// One alert of a payload.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AmAlert {
    /// `firing` or `resolved`.
    pub status: &'static str,
    /// Labels.
    pub labels: Labels,
    /// Annotations.
    pub annotations: Labels,
    /// RFC 3339.
    pub starts_at: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` while firing.
    pub ends_at: String,
    /// Where the alert comes from.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// Stable hash of the labels (16 hex digits).
    pub fingerprint: String,
}

/// The webhook body, exactly as Alertmanager sends it (`version` "4").
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    /// Always "4".
    pub version: &'static str,
    /// Key of the group.
    pub group_key: String,
    /// Alerts left out (none: kpid sends every alert of a group).
    pub truncated_alerts: u64,
    /// `firing` when any alert fires, else `resolved`.
    pub status: &'static str,
    /// The channel's name.
    pub receiver: String,
    /// The labels the group is formed by.
    pub group_labels: Labels,
    /// Labels every alert shares.
    pub common_labels: Labels,
    /// Annotations every alert shares.
    pub common_annotations: Labels,
    /// kpid's address.
    #[serde(rename = "externalURL")]
    pub external_url: String,
    /// The alerts.
    pub alerts: Vec<AmAlert>,
}

/// What Alertmanager writes for "no end yet".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Payload {
    /// Builds a payload: status, common labels and annotations from `alerts`.
    pub fn new(
        receiver: &str,
        group_labels: Labels,
        alerts: Vec<AmAlert>,
        external_url: &str,
    ) -> Payload {
        let common = |f: fn(&AmAlert) -> &Labels| -> Labels {
            let mut it = alerts.iter();
            let Some(first) = it.next() else {
                return Labels::new();
            };
            let mut c = f(first).clone();
            for a in it {
                c.retain(|k, v| f(a).get(k) == Some(v));
            }
            c
        };
        let firing = alerts.iter().any(|a| a.status == "firing");
        Payload {
            version: "4",
            group_key: group_key(receiver, &group_labels),
            truncated_alerts: 0,
            status: if firing { "firing" } else { "resolved" },
            receiver: receiver.to_owned(),
            common_labels: common(|a| &a.labels),
            common_annotations: common(|a| &a.annotations),
            group_labels,
            external_url: external_url.to_owned(),
            alerts,
        }
    }
}

/// Alertmanager's shape of a group key: `{}:{label="value",...}`.
pub fn group_key(receiver: &str, labels: &Labels) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{}}/{{receiver={receiver:?}}}:{{{}}}", inner.join(", "))
}

/// A stable hash of sorted labels: 16 hex digits (FNV-1a 64).
pub fn fingerprint(labels: &Labels) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (k, v) in labels {
        for b in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xff]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Expands `{{ $value }}` and `{{ $labels.name }}` (spaces inside the braces optional);
/// anything else is left as written.
pub fn expand(tpl: &str, value: Option<f64>, labels: &Labels) -> String {
    let mut out = String::with_capacity(tpl.len());
    let mut rest = tpl;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            rest = &rest[i..];
            break;
        };
        let inner = rest[i + 2..i + j].trim();
        if inner == "$value" {
            match value {
                Some(v) => out.push_str(&format_value(v)),
                None => out.push_str("no data"),
            }
        } else if let Some(l) = inner.strip_prefix("$labels.") {
            out.push_str(labels.get(l).map(String::as_str).unwrap_or(""));
        } else {
            out.push_str(&rest[i..i + j + 2]);
        }
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

/// A value as templates show it: up to 4 significant decimals.
pub fn format_value(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &[(&str, &str)]) -> Labels {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn times_and_fingerprints() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000.25), "2023-11-14T22:13:20.250Z");
        assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00.000Z");
        let a = fingerprint(&l(&[("a", "1"), ("b", "2")]));
        assert_eq!(a.len(), 16);
        assert_eq!(a, fingerprint(&l(&[("b", "2"), ("a", "1")])));
        assert_ne!(a, fingerprint(&l(&[("a", "12")])));
    }

    #[test]
    fn templates() {
        let labels = l(&[("source", "app")]);
        assert_eq!(
            expand(
                "{{ $labels.source }} at {{$value}} {{ x }}",
                Some(2.5),
                &labels
            ),
            "app at 2.5 {{ x }}"
        );
        assert_eq!(expand("v={{ $value }}", None, &labels), "v=no data");
    }

    #[test]
    fn payload_shape() {
        let a = AmAlert {
            status: "firing",
            labels: l(&[("alertname", "x"), ("s", "1")]),
            annotations: l(&[("summary", "s")]),
            starts_at: rfc3339(0.0),
            ends_at: ZERO_TIME.into(),
            generator_url: "http://h/".into(),
            fingerprint: "0".into(),
        };
        let mut b = a.clone();
        b.labels.insert("s".into(), "2".into());
        b.status = "resolved";
        let p = Payload::new("hook", l(&[("alertname", "x")]), vec![a, b], "http://h");
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["version"], "4");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["commonLabels"], serde_json::json!({"alertname": "x"}));
        assert_eq!(v["truncatedAlerts"], 0);
        assert!(v["alerts"][0]["generatorURL"].is_string());
        assert_eq!(v["groupKey"], "{}/{receiver=\"hook\"}:{alertname=\"x\"}");
    }
}

//! The alert tables of the config file: `[alerts]`, `[[alert]]` (rules) and `[[notify]]`
//! (channels), and their validation (errors name the rule and the field).

use crate::config::Dur;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[alerts]`: how often rules are evaluated and how much is kept.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSettings {
    /// Time between evaluations (default 1s).
    pub interval: Dur,
    /// Most alert instances kept (default 10000); further ones are refused and counted.
    pub max_instances: usize,
    /// Base of `generatorURL` and `externalURL` (default `http://127.0.0.1:<port>`).
    pub external_url: Option<String>,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        AlertsSettings {
            interval: Dur(Duration::from_secs(1)),
            max_instances: 10_000,
            external_url: None,
        }
    }
}

/// What a rule compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    /// Gauge: last value; counter: total; distribution: number of observations.
    Last,
    /// Per second (counters and distributions).
    Rate,
    /// Mean of the chart points over `over` (gauges and counters).
    Avg,
    /// Median over the summary window (distributions).
    P50,
    /// 95th percentile over the summary window.
    P95,
    /// 99th percentile over the summary window.
    P99,
    /// `kpi` divided by `ratio_of` (rates for counters, last values for gauges).
    Ratio,
}

/// `[[alert]]`: one rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// Name (the `alertname` label).
    pub name: String,
    /// KPI name it reads.
    pub kpi: String,
    /// Label selector: a series matches when it has all of these.
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    /// What is compared (default `last`).
    #[serde(default = "last")]
    pub value: ValueKind,
    /// Window of `avg` (default 1m), or of a quantile (default: the 60 s summary window).
    pub over: Option<Dur>,
    /// Denominator KPI of `ratio`.
    pub ratio_of: Option<String>,
    /// Warning threshold.
    pub warn: Option<f64>,
    /// Critical threshold.
    pub crit: Option<f64>,
    /// Where a firing alert clears (default: the lowest threshold).
    pub clear: Option<f64>,
    /// Fire above the thresholds (default true), or below them (false).
    #[serde(default = "yes")]
    pub above: bool,
    /// How long the condition must hold before firing (default 0s).
    #[serde(default, rename = "for")]
    pub for_: Option<Dur>,
    /// How long an alert keeps firing once its condition cleared (default 0s).
    pub keep_firing_for: Option<Dur>,
    /// A series that has not been updated for this long (or no series at all) is no-data.
    pub no_data: Option<Dur>,
    /// Extra labels (templated).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Annotations: `summary`, `description`, `runbook_url`... (templated).
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

fn last() -> ValueKind {
    ValueKind::Last
}

fn yes() -> bool {
    true
}

/// Kind of a notification channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// POST of Alertmanager's webhook payload (version 4), `http://` only.
    Webhook,
    /// One line per alert on standard error.
    Console,
    /// One JSON line per payload, appended to a file.
    File,
}

impl ChannelKind {
    /// Lowercase name (the `channel` label).
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Console => "console",
            ChannelKind::File => "file",
        }
    }
}

/// `[[notify]]`: one channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Kind.
    pub kind: ChannelKind,
    /// Name (the payload's `receiver`; default: the kind).
    pub name: Option<String>,
    /// Webhook: `http://host:port/path`.
    pub url: Option<String>,
    /// File: where JSON lines are appended.
    pub path: Option<std::path::PathBuf>,
    /// Labels alerts are grouped by (default: `alertname`).
    #[serde(default = "by_name")]
    pub group_by: Vec<String>,
    /// Wait before the first notification of a new group (default 0s).
    #[serde(default)]
    pub group_wait: Dur0,
    /// Wait between notifications of a group that changed (default 1s).
    #[serde(default = "one_s")]
    pub group_interval: Dur,
    /// Re-send a group still firing after this long (default 4h).
    #[serde(default = "four_h")]
    pub repeat_interval: Dur,
    /// Webhook: time one attempt may take (default 5s).
    #[serde(default = "five_s")]
    pub timeout: Dur,
    /// Webhook: attempts after the first one fails (default 10; backoff 250ms doubling to 5s).
    #[serde(default = "ten")]
    pub max_retries: u32,
}

/// A duration that defaults to zero.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct Dur0(pub Dur);

impl Default for Dur0 {
    fn default() -> Self {
        Dur0(Dur(Duration::ZERO))
    }
}

fn by_name() -> Vec<String> {
    vec!["alertname".into()]
}
fn one_s() -> Dur {
    Dur(Duration::from_secs(1))
}
fn four_h() -> Dur {
    Dur(Duration::from_secs(4 * 3600))
}
fn five_s() -> Dur {
    Dur(Duration::from_secs(5))
}
fn ten() -> u32 {
    10
}

/// An invalid alert rule or channel.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct RuleError(pub String);

/// Checks rules and channels; errors name the rule (or channel) and the field.
pub fn validate(rules: &[AlertRule], channels: &[NotifyConfig]) -> Result<(), RuleError> {
    let mut names = std::collections::BTreeSet::new();
    for r in rules {
        let e = |m: &str| Err(RuleError(format!("alert `{}`: {m}", r.name)));
        if r.name.is_empty() {
            return Err(RuleError("alert: field `name` is empty".into()));
        }
        if !names.insert(r.name.as_str()) {
            return e("field `name`: two alerts have this name");
        }
        if r.warn.is_none() && r.crit.is_none() && r.no_data.is_none() {
            return e("give `warn`, `crit` or `no_data`");
        }
        if r.value == ValueKind::Ratio && r.ratio_of.is_none() {
            return e("field `ratio_of` is required with value = \"ratio\"");
        }
        let windowed = matches!(
            r.value,
            ValueKind::Avg | ValueKind::P50 | ValueKind::P95 | ValueKind::P99
        );
        if !windowed && r.over.is_some() {
            return e("field `over` needs value = \"avg\", \"p50\", \"p95\" or \"p99\"");
        }
        if r.value != ValueKind::Ratio && r.ratio_of.is_some() {
            return e("field `ratio_of` needs value = \"ratio\"");
        }
        if let (Some(w), Some(c)) = (r.warn, r.crit) {
            if (r.above && c < w) || (!r.above && c > w) {
                return e("field `crit`: must be beyond `warn` in the alert's direction");
            }
        }
        if let (Some(clear), Some(t)) = (r.clear, r.warn.or(r.crit)) {
            if (r.above && clear > t) || (!r.above && clear < t) {
                return e("field `clear`: must be on the safe side of `warn`");
            }
        }
        for k in r.labels.keys().chain(r.selector.keys()) {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return e(&format!("label `{k}`: not a valid label name"));
            }
        }
    }
    for c in channels {
        let who = c.name.as_deref().unwrap_or(c.kind.as_str());
        let e = |m: &str| Err(RuleError(format!("notify `{who}`: {m}")));
        match c.kind {
            ChannelKind::Webhook => match c.url.as_deref() {
                None => return e("field `url` is required for a webhook"),
                Some(u) if !u.starts_with("http://") => {
                    return e("field `url`: only http:// urls are supported")
                }
                _ => {}
            },
            ChannelKind::File if c.path.is_none() => {
                return e("field `path` is required for a file channel")
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<(), RuleError> {
        #[derive(Deserialize)]
        struct F {
            #[serde(default)]
            alert: Vec<AlertRule>,
            #[serde(default)]
            notify: Vec<NotifyConfig>,
        }
        let f: F = toml::from_str(t).map_err(|e| RuleError(e.message().to_owned()))?;
        validate(&f.alert, &f.notify)
    }

    #[test]
    fn errors_name_the_field() {
        let ok = "[[alert]]\nname='a'\nkpi='x'\nwarn=1\n";
        assert_eq!(parse(ok), Ok(()));
        let e = parse("[[alert]]\nname='a'\nkpi='x'\nwarm=1\n").unwrap_err();
        assert!(e.0.contains("warm"), "{e}");
        let e = parse("[[alert]]\nname='a'\nkpi='x'\nvalue='ratio'\nwarn=1\n").unwrap_err();
        assert!(e.0.contains("ratio_of"), "{e}");
        let e = parse("[[alert]]\nname='a'\nkpi='x'\nwarn=5\nclear=6\n").unwrap_err();
        assert!(e.0.contains("clear"), "{e}");
        let e = parse("[[notify]]\nkind='webhook'\nurl='https://x'\n").unwrap_err();
        assert!(e.0.contains("url"), "{e}");
        let e = parse("[[alert]]\nname='a'\nkpi='x'\nwarn=1\nover='1m'\n").unwrap_err();
        assert!(e.0.contains("`over`"), "{e}");
        assert_eq!(
            parse("[[alert]]\nname='a'\nkpi='x'\nwarn=1\nvalue='p95'\nover='5m'\n"),
            Ok(())
        );
        let e = parse("[[notify]]\nkind='file'\n").unwrap_err();
        assert!(e.0.contains("path"), "{e}");
    }
}

//! `[remote_write]` and `--remote-write URL`: where to push, how often, how much to keep.

use super::ExportError;
use crate::config::Dur;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `[remote_write]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteWriteConfig {
    /// Receivers (`http://host:port/api/v1/write`): one string or a list; `--remote-write`
    /// adds to it. None: no remote-write.
    #[serde(deserialize_with = "one_or_many")]
    pub url: Vec<String>,
    /// How often the current value of every KPI is taken and queued (default 15 s, the
    /// scrape interval most Prometheus setups use).
    pub interval: Dur,
    /// Longest one request may take, connecting included (default 10 s).
    pub timeout: Dur,
    /// Most batches kept per receiver while it is unreachable (default 1,000); the oldest
    /// is dropped, and counted, to make room.
    pub queue: usize,
    /// Most samples in one request (default 2,000, as Prometheus' own remote-write).
    pub max_samples_per_send: usize,
    /// Extra request headers, e.g. `Authorization = "Bearer ..."` or `X-Scope-OrgID`
    /// (never logged nor shown).
    pub headers: BTreeMap<String, String>,
    /// Labels added to every series that does not have them already (default
    /// `job = "kpid"`, `instance = <hostname>`; an empty value removes a default).
    pub external_labels: BTreeMap<String, String>,
}

impl Default for RemoteWriteConfig {
    fn default() -> Self {
        RemoteWriteConfig {
            url: Vec::new(),
            interval: Dur(Duration::from_secs(15)),
            timeout: Dur(Duration::from_secs(10)),
            queue: 1000,
            max_samples_per_send: 2000,
            headers: BTreeMap::new(),
            external_labels: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for RemoteWriteConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<String> = self
            .url
            .iter()
            .map(|u| Target::parse(u).map_or_else(|_| "<invalid>".into(), |t| t.shown))
            .collect();
        f.debug_struct("RemoteWriteConfig")
            .field("url", &urls)
            .field("interval", &self.interval)
            .field("timeout", &self.timeout)
            .field("queue", &self.queue)
            .field("max_samples_per_send", &self.max_samples_per_send)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("external_labels", &self.external_labels)
            .finish()
    }
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => vec![s],
        Raw::Many(v) => v,
    })
}

impl RemoteWriteConfig {
    /// Checks the settings; the external labels with the defaults filled in.
    pub(super) fn checked(&self) -> Result<Vec<(String, String)>, ExportError> {
        let bad = |field: &'static str, why: &str| ExportError::Setting {
            field,
            reason: why.to_owned(),
        };
        if self.interval.0 < Duration::from_millis(100) {
            return Err(bad("interval", "at least 100ms"));
        }
        if self.timeout.0 < Duration::from_millis(100) {
            return Err(bad("timeout", "at least 100ms"));
        }
        if !(1..=100_000).contains(&self.queue) {
            return Err(bad("queue", "between 1 and 100000 batches"));
        }
        if !(1..=100_000).contains(&self.max_samples_per_send) {
            return Err(bad("max_samples_per_send", "between 1 and 100000"));
        }
        for (k, v) in &self.headers {
            let ok = hyper::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && hyper::header::HeaderValue::from_str(v).is_ok();
            if !ok {
                return Err(ExportError::Header(k.clone()));
            }
        }
        let mut labels = BTreeMap::from([
            ("job".to_owned(), "kpid".to_owned()),
            ("instance".to_owned(), hostname()),
        ]);
        for (k, v) in &self.external_labels {
            if crate::kpi::prom::label_name(k) != k.as_str() {
                return Err(ExportError::Label(k.clone()));
            }
            labels.insert(k.clone(), v.clone());
        }
        Ok(labels.into_iter().filter(|(_, v)| !v.is_empty()).collect())
    }
}

/// This machine's name (the default `instance`).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// Where a receiver is: `http://[user:password@]host[:port][/path]`.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// Host (a name, an IPv4 address or a bracketed IPv6 one) and port, for connecting.
    pub host: String,
    pub port: u16,
    /// `Host` header.
    pub authority: String,
    /// Path and query.
    pub path: String,
    /// `Authorization: Basic ...` from the URL's user and password.
    pub basic: Option<String>,
    /// The URL without its credentials, for health and logs.
    pub shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Target {
    /// Parses a receiver URL; https is refused (no TLS client in kpid: put a local proxy such
    /// as an agent or stunnel in front).
    pub fn parse(url: &str) -> Result<Target, ExportError> {
        let err = |reason: &str| ExportError::Url {
            url: strip_credentials(url),
            reason: reason.to_owned(),
        };
        if url.starts_with("https://") {
            return Err(err(
                "https is not supported: kpid speaks plain http (use a local forwarder for tls)",
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| err("must start with http://"))?;
        let (auth, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let (user, authority) = match auth.rsplit_once('@') {
            Some((u, a)) => (Some(u), a),
            None => (None, auth),
        };
        if authority.is_empty() || authority.contains(|c: char| c.is_whitespace()) {
            return Err(err("no host"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(']') => (h, p.parse().map_err(|_| err("invalid port"))?),
            _ => (authority, 80),
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        Ok(Target {
            host,
            port,
            authority: authority.to_owned(),
            path: path.to_owned(),
            basic: user.map(|u| format!("Basic {}", base64(u.as_bytes()))),
            shown: format!("http://{authority}{path}"),
        })
    }
}

/// `url` with any `user:password@` removed.
fn strip_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest.find('/').unwrap_or(rest.len());
            match rest[..end].rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://{host}{}", &rest[end..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// Standard base64 with padding.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_hide_their_credentials() {
        let t = Target::parse("http://bob:s3cret@mimir.lan:9009/api/v1/push").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("mimir.lan", 9009));
        assert_eq!(t.path, "/api/v1/push");
        assert_eq!(t.shown, "http://mimir.lan:9009/api/v1/push");
        assert_eq!(t.basic.as_deref(), Some("Basic Ym9iOnMzY3JldA=="));
        assert_eq!(format!("{t:?}"), "http://mimir.lan:9009/api/v1/push");
        let t = Target::parse("http://[::1]:9090").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("::1", 9090, "/")
        );
        let t = Target::parse("http://prom").unwrap();
        assert_eq!(t.port, 80);
        let e = Target::parse("https://u:p@x/api").unwrap_err().to_string();
        assert!(e.contains("https") && !e.contains("u:p"), "{e}");
        assert!(Target::parse("ftp://x").is_err());
        assert!(Target::parse("http://x:port/").is_err());
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn defaults_and_checks() {
        let c = RemoteWriteConfig::default();
        let labels = c.checked().unwrap();
        assert_eq!(labels[1], ("job".to_owned(), "kpid".to_owned()));
        assert_eq!(labels[0].0, "instance");
        let mut c = RemoteWriteConfig::default();
        c.external_labels.insert("instance".into(), String::new());
        c.external_labels.insert("region".into(), "eu".into());
        let labels = c.checked().unwrap();
        assert_eq!(
            labels,
            vec![
                ("job".into(), "kpid".into()),
                ("region".into(), "eu".into())
            ]
        );
        c.headers
            .insert("Authorization".into(), "Bearer secret".into());
        assert!(!format!("{c:?}").contains("secret"));
        c.external_labels.insert("Bad-Label".into(), "x".into());
        assert!(c.checked().is_err());
        let c = RemoteWriteConfig {
            queue: 0,
            ..Default::default()
        };
        assert!(c.checked().is_err());
    }
}

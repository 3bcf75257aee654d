//! The configuration file (`--config kpid.toml`) and the command-line settings merged into it.
//!
//! Every table rejects unknown fields; errors name the file, the line and the field.

mod duration;
mod otlp;
pub mod plugins;
mod sections;

pub use duration::{parse_duration, Dur};
pub use otlp::OtlpSettings;
pub use plugins::PluginsConfig;
pub use sections::{
    AppsConfig, FieldKind, LabelCase, LabelConfig, RuleConfig, RuleInput, RuleKind, SampleSettings,
    ServerConfig, SourceConfig, StoreConfig, TailSettings,
};

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A configuration error: the file, the line and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable file.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// Invalid TOML or an invalid field (toml's message names the field and shows the line).
    #[error("invalid config {path}, line {line}: {message}")]
    Invalid {
        /// File.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[store]`.
    #[serde(default)]
    pub store: StoreConfig,
    /// `[apps]`.
    #[serde(default)]
    pub apps: AppsConfig,
    /// `[sample]`.
    #[serde(default)]
    pub sample: SampleSettings,
    /// `[otlp]`.
    #[serde(default)]
    pub otlp: OtlpSettings,
    /// `[tail]`.
    #[serde(default)]
    pub tail: TailSettings,
    /// `[logs]`: recent lines kept per source for the log viewer.
    #[serde(default)]
    pub logs: crate::logs::LogsConfig,
    /// `[history]`: history in SQLite.
    #[serde(default)]
    pub history: crate::history::HistoryConfig,
    /// Where offsets and counter totals are kept.
    pub state_dir: Option<PathBuf>,
    /// Directory parser plugins load from (owner-only; none by default).
    pub plugin_dir: Option<PathBuf>,
    /// `[plugins]`: how plugins run.
    #[serde(default)]
    pub plugins: PluginsConfig,
    /// Unix socket instrumented apps send to (default: `$KPID_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/kpid/kpid.sock`, else
    /// `./run/kpid.sock`).
    pub socket: Option<PathBuf>,
    /// Turn numeric fields into gauges named after their key (default true).
    #[serde(default = "yes")]
    pub auto_gauges: bool,
    /// `[[source]]` tables.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// `[[rule]]` tables.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RuleConfig>,
    /// `[alerts]`: evaluation settings.
    #[serde(default)]
    pub alerts: crate::alerts::AlertsSettings,
    /// `[[alert]]` tables: alert rules.
    #[serde(default, rename = "alert")]
    pub alert_rules: Vec<crate::alerts::AlertRule>,
    /// `[[notify]]` tables: notification channels.
    #[serde(default, rename = "notify")]
    pub notify: Vec<crate::alerts::NotifyConfig>,
    /// `[remote_write]`: receivers to push every KPI to.
    #[serde(default)]
    pub remote_write: crate::export::RemoteWriteConfig,
    /// `[dashboard]`: panels and header strip of the web dashboard (docs/dashboard.md).
    #[serde(default)]
    pub dashboard: crate::server::dashboard::DashboardConfig,
    /// The file it came from and its text (for error lines).
    #[serde(skip)]
    pub origin: Option<(PathBuf, String)>,
}

fn yes() -> bool {
    true
}

impl Config {
    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses config text read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                message: e.message().trim().to_owned(),
            }
        })?;
        cfg.origin = Some((path.to_owned(), text.to_owned()));
        cfg.check_source_paths(text)?;
        if let Err(e) = crate::alerts::rules::validate(&cfg.alert_rules, &cfg.notify) {
            let at = text
                .find("[[alert]]")
                .or(text.find("[[notify]]"))
                .unwrap_or(0);
            return Err(cfg.error_at(at, e.0));
        }
        for s in &cfg.sources {
            if let Err(e) = s.time_spec() {
                let at = match e {
                    kpid_parsers::BuildError::Timezone(_) => s.timezone.as_ref(),
                    _ => s.timestamp.as_ref(),
                };
                return Err(cfg.error_at(
                    at.map_or(0, |a| a.span().start),
                    format!("source `{}`: {e}", s.label()),
                ));
            }
        }
        for r in &cfg.rules {
            if !matches!(
                r.kind,
                RuleKind::Counter | RuleKind::Ratio | RuleKind::Start
            ) && r.since.is_none()
                && r.field.is_none()
                && r.value.is_none()
            {
                return Err(cfg.error_at(
                    r.name.span().start,
                    format!(
                        "rule `{}`: field `field` (or `value`) is required for a {:?} rule",
                        r.name.get_ref(),
                        r.kind
                    )
                    .to_lowercase(),
                ));
            }
        }
        Ok(cfg)
    }

    /// Gives every source its final name, once: unnamed ones take their file stem, suffixed
    /// (`app_2`) when that name is taken; two sources given the same name are an error.
    pub fn resolve(&mut self) -> Result<(), ConfigError> {
        let mut taken: Vec<String> = Vec::new();
        for s in self.sources.iter().filter_map(|s| s.name.as_ref()) {
            if taken.contains(s) {
                return Err(self.error_at(
                    0,
                    format!("two sources are named `{s}`: give each [[source]] its own `name`"),
                ));
            }
            taken.push(s.clone());
        }
        for s in self.sources.iter_mut().filter(|s| s.name.is_none()) {
            let base = s.label().into_owned();
            let mut name = base.clone();
            let mut n = 2;
            while taken.contains(&name) {
                name = format!("{base}_{n}");
                n += 1;
            }
            taken.push(name.clone());
            s.name = Some(name);
        }
        Ok(())
    }

    /// Two `[[source]]`s reading one file would give it two parsers, of which the daemon uses
    /// one: refused, naming both sources and their lines. Paths are compared normalised
    /// ([`same_file_key`]).
    fn check_source_paths(&self, text: &str) -> Result<(), ConfigError> {
        #[derive(Deserialize)]
        struct At {
            path: toml::Spanned<String>,
        }
        #[derive(Deserialize)]
        struct Spans {
            #[serde(default, rename = "source")]
            sources: Vec<At>,
        }
        let spans: Spans = toml::from_str(text).map_err(|e| ConfigError::Invalid {
            path: self
                .origin
                .as_ref()
                .map(|o| o.0.clone())
                .unwrap_or_default(),
            line: 1,
            message: e.message().trim().to_owned(),
        })?;
        let keys: Vec<PathBuf> = self
            .sources
            .iter()
            .map(|s| same_file_key(&s.path))
            .collect();
        for (j, kj) in keys.iter().enumerate() {
            let Some(i) = keys[..j].iter().position(|ki| ki == kj) else {
                continue;
            };
            let (a, b) = (&self.sources[i], &self.sources[j]);
            let line_a = spans
                .sources
                .get(i)
                .map_or(0, |s| line_of(text, s.path.span().start));
            let pos_b = spans.sources.get(j).map_or(0, |s| s.path.span().start);
            let name = |s: &SourceConfig| match &s.name {
                Some(n) => format!("`{n}`"),
                None => "(unnamed)".to_owned(),
            };
            return Err(self.error_at(
                pos_b,
                format!(
                    "[[source]] {} (path `{}`) reads the same file as [[source]] {} at line {line_a} (path `{}`): one file has one parser; merge them into one [[source]] (a regex pattern can use alternation `a|b`) or remove one",
                    name(b),
                    b.path,
                    name(a),
                    a.path
                ),
            ));
        }
        Ok(())
    }

    /// An error at byte `pos` of the config text.
    pub fn error_at(&self, pos: usize, message: String) -> ConfigError {
        match &self.origin {
            Some((path, text)) => ConfigError::Invalid {
                path: path.clone(),
                line: line_of(text, pos),
                message,
            },
            None => ConfigError::Invalid {
                path: PathBuf::from("<command line>"),
                line: 0,
                message,
            },
        }
    }
}

/// What two source paths are compared by: the canonical path when the file exists, else the
/// path made absolute (from the working directory) with `.`, `..` and repeated separators
/// resolved lexically. Globs compare as normalised text.
pub fn same_file_key(path: &str) -> PathBuf {
    use std::path::Component;
    let p = Path::new(path);
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let text =
            "[server]\nport = 9000\n\n[[rule]]\nname = \"x\"\nkind = \"counter\"\nfeild = \"y\"\n";
        let e = Config::parse(Path::new("k.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("k.toml") && e.contains("line 7") && e.contains("feild"),
            "{e}"
        );
    }

    #[test]
    fn gauge_without_field_is_refused_at_its_line() {
        let text = "[[rule]]\nname = \"fps\"\nkind = \"gauge\"\n";
        let e = Config::parse(Path::new("k.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("field"), "{e}");
    }

    /// Issue 8.6: a second [[source]] on one path was silently ignored.
    #[test]
    fn two_sources_on_one_path_are_a_config_error_naming_both() {
        let text = "[[source]]\nname = \"a\"\npath = \"logs/app.log\"\n\n[[source]]\nname = \"b\"\npath = \"./logs//x/../app.log\"\nparser = \"json\"\n";
        let e = Config::parse(Path::new("k.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("k.toml")
                && e.contains("line 7")
                && e.contains("`a`")
                && e.contains("`b`")
                && e.contains("line 3")
                && e.contains("same file"),
            "{e}"
        );
        let ok = "[[source]]\npath = \"logs/a.log\"\n[[source]]\npath = \"logs/b.log\"\n";
        assert!(Config::parse(Path::new("k.toml"), ok).is_ok());
    }

    #[test]
    fn same_file_key_resolves_links_and_dots() {
        let dir = std::env::temp_dir().join(format!("kpid-samefile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("x.log");
        std::fs::write(&f, "").unwrap();
        let link = dir.join("y.log");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&f, &link).unwrap();
        assert_eq!(
            same_file_key(f.to_str().unwrap()),
            same_file_key(link.to_str().unwrap())
        );
        let dotted = format!("{}/./sub/../x.log", dir.display());
        assert_eq!(same_file_key(&dotted), same_file_key(f.to_str().unwrap()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn source_timestamp_settings_are_checked_at_their_line() {
        let text = "[[source]]\npath = \"a.log\"\ntimestamp = \"%d.%m.%Y %H:%M:%S\"\ntimezone = \"+01:00\"\n\n[[source]]\npath = \"b.log\"\ntimestamp = \"%Y %Q\"\n";
        let e = Config::parse(Path::new("k.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 8")
                && e.contains("source `b`")
                && e.contains("field `timestamp`")
                && e.contains("`%Q`"),
            "{e}"
        );
        let text = "[[source]]\npath = \"a.log\"\ntimezone = \"Europe/Paris\"\n";
        let e = Config::parse(Path::new("k.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3") && e.contains("field `timezone`"),
            "{e}"
        );
        let text = "[store]\nlateness = \"10m\"\nfuture_skew = \"5s\"\n[[source]]\npath = \"a.log\"\ntimestamp = \"syslog\"\n";
        let c = Config::parse(Path::new("k.toml"), text).unwrap();
        assert_eq!(c.store.limits().lateness_secs, 600);
        assert_eq!(c.store.future_skew.0, Duration::from_secs(5));
        assert!(c.sources[0].time_spec().is_ok());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("3 fortnights").is_err());
        let text = "[server]\ninterval = \"50ms\"\n[store]\nwindow = \"2h\"\n";
        let c = Config::parse(Path::new("k.toml"), text).unwrap();
        assert_eq!(c.server.interval.0, Duration::from_millis(50));
    }

    /// Found with the config fuzz target (fuzz/corpus/config/crash-*): `window = 1e30`
    /// panicked in `Duration`, and a `bucket` of 2^63 s or more wrapped to a negative width.
    #[test]
    fn fuzz_store_durations_are_bounded_and_limits_fit() {
        for (text, line) in [
            ("[store]\nwindow = 1e30\n", 2),
            (
                "[store]\nwindow = \"1h\"\nbucket = \"9999999999999999999\"\n",
                3,
            ),
        ] {
            let e = Config::parse(Path::new("k.toml"), text)
                .unwrap_err()
                .to_string();
            assert!(
                e.starts_with(&format!("invalid config k.toml, line {line}: duration `")),
                "{e}"
            );
            assert!(e.contains("is too long"), "{e}");
        }
        let text = "[store]\nwindow = \"36500d\"\nbucket = \"36500d\"\n";
        let l = Config::parse(Path::new("k.toml"), text)
            .unwrap()
            .store
            .limits();
        assert_eq!((l.bucket_secs, l.window_buckets), (36500 * 86400, 1));
        let text = "[store]\nwindow = \"36500d\"\n";
        let l = Config::parse(Path::new("k.toml"), text)
            .unwrap()
            .store
            .limits();
        assert!((l.window_buckets as i64)
            .checked_mul(l.bucket_secs)
            .is_some());
    }
}

//! `[plugins]`: how parser plugins run (docs/plugin-worker.md).

use super::Dur;
use crate::plugin_host::guard::CrashPolicy;
use crate::plugin_host::{Isolation, WorkerSettings};
use serde::Deserialize;
use std::time::Duration;

/// Where plugins run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IsolationMode {
    /// A worker process per parser (the default): a crash costs one line.
    #[default]
    Worker,
    /// In the daemon: for trusted plugins only, a crash kills the daemon.
    InProcess,
}

/// `[plugins]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// `worker` (default) or `in-process`.
    pub isolation: IsolationMode,
    /// Address-space limit of a worker (`RLIMIT_AS`), e.g. `"512MiB"` (default) or a number
    /// of bytes; 0 for none.
    pub memory_limit: Bytes,
    /// Longest time one line may take in a worker (default 1s).
    pub line_timeout: Dur,
    /// Failures (crashes, timeouts, memory-limit hits) within `crash_window` that quarantine
    /// a plugin until its file changes (default 3; 0: never).
    pub max_crashes: u32,
    /// The window (default 5m).
    pub crash_window: Dur,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            isolation: IsolationMode::Worker,
            memory_limit: Bytes(512 << 20),
            line_timeout: Dur(Duration::from_secs(1)),
            max_crashes: 3,
            crash_window: Dur(Duration::from_secs(300)),
        }
    }
}

impl PluginsConfig {
    /// The isolation the plugin host applies.
    pub fn isolation(&self) -> Isolation {
        match self.isolation {
            IsolationMode::InProcess => Isolation::InProcess,
            IsolationMode::Worker => Isolation::Worker(WorkerSettings {
                memory_limit: self.memory_limit.0,
                line_timeout: self.line_timeout.0.max(Duration::from_millis(1)),
                policy: CrashPolicy {
                    max_crashes: self.max_crashes,
                    window: self.crash_window.0,
                },
                ..WorkerSettings::default()
            }),
        }
    }
}

/// A size written as `"512MiB"`, `"64M"`, `"1G"`, `"4096"` or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(Bytes(n)),
            Raw::S(s) => parse_bytes(&s).map(Bytes).map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `512MiB`, `64M`, `1G`, `100k`, `4096`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size `{s}` (examples: 512MiB, 1GiB, 65536)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        u => {
            return Err(format!(
                "invalid size unit `{u}` in `{s}` (use KiB, MiB, GiB)"
            ))
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_modes_parse() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("1G"), Ok(1 << 30));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("12 parsecs").unwrap_err().contains("parsecs"));
        let c: PluginsConfig =
            toml::from_str("isolation = \"in-process\"\nmemory_limit = \"64MiB\"").unwrap();
        assert_eq!(c.isolation, IsolationMode::InProcess);
        assert_eq!(c.memory_limit, Bytes(64 << 20));
        assert!(toml::from_str::<PluginsConfig>("isolaton = \"worker\"").is_err());
    }
}

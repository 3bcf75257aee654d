//! `[history]`: where history is kept, its tiers, its size cap and how often it is written.
//!
//! ```toml
//! [history]
//! dir = "/var/lib/kpid/history"   # default: <state dir>/history
//! max_size = "1GiB"               # oldest 1 s data goes first past it
//! flush = "1s"                    # one transaction per flush (kill -9 loses at most this)
//! chunk = "5m"                    # recent points are folded into compressed chunks this often
//! tiers = [{ resolution = "1s", retention = "48h" },
//!          { resolution = "1m", retention = "30d" },
//!          { resolution = "1h", retention = "365d" }]
//! ```

use crate::config::Dur;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// The `[history]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Keep history at all (`--no-history` turns it off).
    pub enabled: bool,
    /// Its directory (default: the state directory's `history/`; `--data-dir`).
    pub dir: Option<PathBuf>,
    /// Tiers, finest first.
    pub tiers: Vec<TierConfig>,
    /// Most bytes the database may use.
    pub max_size: ByteSize,
    /// How often the engine ships and the writer commits.
    pub flush: Dur,
    /// How often recent points are folded into chunks.
    pub chunk: Dur,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        let tier = |r: u64, k: u64| TierConfig {
            resolution: Dur(Duration::from_secs(r)),
            retention: Dur(Duration::from_secs(k)),
        };
        HistoryConfig {
            enabled: true,
            dir: None,
            tiers: vec![
                tier(1, 48 * 3600),
                tier(60, 30 * 86400),
                tier(3600, 365 * 86400),
            ],
            max_size: ByteSize(1 << 30),
            flush: Dur(Duration::from_secs(1)),
            chunk: Dur(Duration::from_secs(300)),
        }
    }
}

/// One tier as written in the config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    /// Bucket width.
    pub resolution: Dur,
    /// How long it is kept.
    pub retention: Dur,
}

/// A tier as the writer uses it, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    /// Bucket width.
    pub res: i64,
    /// How long it is kept.
    pub retention: i64,
    /// Span rolled up from the finer tier at once (60 of its points).
    pub block: i64,
}

impl HistoryConfig {
    /// The tiers, checked: the first at the store's bucket width, each a multiple of the one
    /// before, each coarser one's block (60 points) within the finer one's retention.
    pub fn tiers(&self, bucket_s: i64) -> Result<Vec<Tier>, String> {
        let mut out: Vec<Tier> = Vec::new();
        if self.tiers.is_empty() || self.tiers.len() > 6 {
            return Err("[history] tiers: give 1 to 6 tiers".into());
        }
        for (i, t) in self.tiers.iter().enumerate() {
            let res = t.resolution.0.as_secs() as i64;
            let retention = t.retention.0.as_secs() as i64;
            if i == 0 && res != bucket_s {
                return Err(format!(
                    "[history] tiers: the first tier's resolution must be the store's bucket ({bucket_s}s), not {res}s"
                ));
            }
            if let Some(p) = out.last() {
                if res <= p.res || res % p.res != 0 {
                    return Err(format!("[history] tiers: resolution {res}s must be a multiple of the finer tier's {}s", p.res));
                }
                if 2 * res * 60 > p.retention {
                    return Err(format!("[history] tiers: the {}s tier must be kept at least {}s to roll up into the {res}s tier", p.res, 2 * res * 60));
                }
            }
            if retention < res * 60 {
                return Err(format!(
                    "[history] tiers: retention of the {res}s tier must hold at least 60 points"
                ));
            }
            out.push(Tier {
                res,
                retention,
                block: res * 60,
            });
        }
        Ok(out)
    }
}

/// A size in bytes: a number, or a string such as `"512MiB"`, `"1GiB"`, `"10MB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Ok(ByteSize(n)),
            Raw::S(s) => parse_size(&s)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `1024`, `64KiB`, `512MiB`, `1GiB`, `10MB`, `2GB`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid size `{s}`"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => {
            return Err(format!(
                "invalid size `{s}` (units: B, KB, MB, GB, KiB, MiB, GiB)"
            ))
        }
    };
    let v = n * mult as f64;
    if !(0.0..=1e18).contains(&v) {
        return Err(format!("invalid size `{s}`"));
    }
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_tiers_are_refused() {
        let c = HistoryConfig::default();
        let t = c.tiers(1).unwrap();
        assert_eq!(t.iter().map(|t| t.res).collect::<Vec<_>>(), [1, 60, 3600]);
        assert!(c.tiers(2).unwrap_err().contains("store's bucket"));
        let mut bad = c.clone();
        bad.tiers[1].resolution = Dur(Duration::from_secs(70));
        assert!(bad.tiers(1).unwrap_err().contains("multiple"));
        let mut short = c.clone();
        short.tiers[0].retention = Dur(Duration::from_secs(3600));
        assert!(short.tiers(1).unwrap_err().contains("kept at least"));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_size("10 MB").unwrap(), 10_000_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
        let c: HistoryConfig = toml::from_str("max_size = \"2MiB\"\nflush = \"2s\"").unwrap();
        assert_eq!(c.max_size.0, 2 << 20);
        assert!(toml::from_str::<HistoryConfig>("nope = 1").is_err());
    }
}

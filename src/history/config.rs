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

use crate::config::plugins::Bytes;
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
    pub max_size: Bytes,
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
            max_size: Bytes(1 << 30),
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
        let c: HistoryConfig = toml::from_str("max_size = \"2MiB\"\nflush = \"2s\"").unwrap();
        assert_eq!(c.max_size.0, 2 << 20);
        assert!(toml::from_str::<HistoryConfig>("max_size = \"lots\"").is_err());
        assert!(toml::from_str::<HistoryConfig>("nope = 1").is_err());
    }
}

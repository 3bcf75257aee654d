//! Durations as the config file and the command line write them: `250ms`, `1s`, `5m`.

use serde::Deserialize;
use std::time::Duration;

/// The longest duration a config or command line may give (100 years): anything longer is a
/// typo, and deadlines computed from it (`now + interval`) or the store's bucket count would
/// overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 86400);

/// A duration written as `"250ms"`, `"1s"`, `"5m"`, `"1h"`, `"30d"` (or a number of seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(f64),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) if n >= 0.0 && n.is_finite() => bounded(n, &n.to_string())
                .map(Dur)
                .map_err(serde::de::Error::custom),
            Raw::N(n) => Err(serde::de::Error::custom(format!("invalid duration {n}"))),
            Raw::S(s) => parse_duration(&s)
                .map(Dur)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `250ms`, `1.5s`, `5m`, `1h`, `30d`, `100us`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration `{s}` (examples: 250ms, 1s, 5m, 1h)"))?;
    let mult = match unit.trim() {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "" | "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        u => {
            return Err(format!(
                "invalid duration unit `{u}` in `{s}` (use us, ms, s, m, h, d)"
            ))
        }
    };
    bounded(n * mult, s)
}

/// `secs` as a duration, refused past [`MAX_DURATION`] (`written` is what the user wrote).
fn bounded(secs: f64, written: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| *d <= MAX_DURATION)
        .ok_or_else(|| format!("duration `{written}` is too long (at most 100 years, 36500d)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found with the config fuzz target (fuzz/corpus/config/crash-*): `from_secs_f64`
    /// panicked on values too big for a `Duration`, and centuries overflowed `now + interval`.
    #[test]
    fn fuzz_huge_durations_are_errors_not_panics() {
        for s in [
            "99999999999999999999999d",
            "18446744073709551616s",
            "36501d",
        ] {
            let e = parse_duration(s).unwrap_err();
            assert!(e.contains("is too long"), "{s}: {e}");
        }
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
        let e = toml::from_str::<std::collections::HashMap<String, Dur>>("w = 1e30").unwrap_err();
        assert!(
            e.message()
                .contains("duration `1000000000000000000000000000000` is too long"),
            "{e}"
        );
    }
}

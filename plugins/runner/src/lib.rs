//! kpid parser plugin for model-runner logs: the request lines of ollama (Gin logger) and the
//! timing lines llama.cpp prints after each request.
//!
//! - `[GIN] 2024/12/03 - 10:30:00 | 200 | 1.23s | 127.0.0.1 | POST "/api/generate"` gives
//!   `status` (int), `latency` (duration), `client`, `method`, `path`, level from the status.
//! - `prompt eval time = 35.63 ms / 11 tokens (3.24 ms per token, 308.74 tokens per second)`
//!   gives `phase` (`prompt eval`, `eval`, `load`, `sample`, `total`) and
//!   `<phase>_time` (duration), `<phase>_tokens` (int), `<phase>_tokens_per_second` (float),
//!   with spaces in the phase written `_`.
//!
//! Other lines are not matched (chain this parser before `auto` to keep them). Option:
//! `utc_offset=+HHMM`, the zone ollama's wall-clock times are written in (default `+0000`).

pub mod gin;
pub mod llama;

use kpid_plugin::{declare_parser, Level, Out, Parser, Reject};

/// The plugin's parser.
#[derive(Debug)]
pub struct Runner {
    utc_offset: f64,
}

fn offset(s: &str) -> Option<f64> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1.0, &s[1..]),
        b'-' => (-1.0, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (f64, f64) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    Some(sign * (h * 3600.0 + m * 60.0))
}

impl Parser for Runner {
    fn new(options: &str) -> Result<Self, String> {
        let mut p = Runner { utc_offset: 0.0 };
        for (key, value) in kpid_plugin::options(options) {
            match key {
                "utc_offset" => {
                    p.utc_offset = offset(value).ok_or_else(|| {
                        format!("runner: utc_offset `{value}` is not +HHMM or -HHMM")
                    })?
                }
                _ => {
                    return Err(format!(
                        "runner: unknown option `{key}` (known: utc_offset)"
                    ))
                }
            }
        }
        Ok(p)
    }

    fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject> {
        if let Some(request) = gin::scan(line) {
            let r = request.map_err(Reject::invalid)?;
            if let Some(t) = r.time {
                out.timestamp(t - self.utc_offset);
            }
            out.level(match r.status {
                500.. => Level::Error,
                400..=499 => Level::Warn,
                _ => Level::Info,
            });
            out.target(b"gin");
            out.int("status", i64::from(r.status));
            out.duration("latency", r.latency);
            out.str("client", r.client);
            out.str("method", r.method);
            out.str("path", r.path);
            return Ok(());
        }
        let t = llama::scan(line).ok_or(Reject::NoMatch)?;
        let (label, [time, tokens, rate]) = llama::PHASES[t.phase];
        out.level(Level::Info);
        if let Some(target) = t.target {
            out.target(target);
        }
        out.str("phase", label.as_bytes());
        out.duration(time, t.time);
        if let Some(n) = t.tokens {
            out.int(tokens, n);
        }
        if let Some(r) = t.tokens_per_second {
            out.float(rate, r);
        }
        Ok(())
    }
}

declare_parser!(
    Runner,
    name = "runner",
    description = "model-runner logs: ollama request lines and llama.cpp timings"
);

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_plugin::testing::{Harness, Item};

    #[test]
    fn both_line_kinds_and_options() {
        let mut h = Harness::<Runner>::new("utc_offset=+0100").unwrap();
        let gin = br#"[GIN] 2024/12/03 - 10:30:00 | 500 |  12.5ms | 10.1.1.1 | POST "/api/chat""#;
        let items = h.parse(gin).unwrap();
        assert_eq!(items[0], Item::Timestamp(1_733_221_800.0 - 3600.0));
        assert!(items.contains(&Item::Level(Level::Error)));
        assert!(items.contains(&Item::Duration("latency".into(), 0.0125)));
        let timing = b"total time =    1270.19 ms /   138 tokens";
        let items = h.parse(timing).unwrap();
        assert!(items.contains(&Item::Str("phase".into(), b"total".to_vec())));
        assert!(items.contains(&Item::Int("total_tokens".into(), 138)));
        assert_eq!(h.parse(b"msg=hello"), Err(Reject::NoMatch));
        assert!(Harness::<Runner>::new("utc_offset=1h")
            .unwrap_err()
            .contains("utc_offset"));
    }
}

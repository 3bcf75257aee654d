//! kpid parser plugin for nginx / Apache access logs (Common and Combined Log Format, with an
//! optional trailing request time).
//!
//! Fields: `remote_addr`, `user`, `method`, `path`, `query`, `protocol`, `status` (int),
//! `bytes` (int), `referer`, `user_agent`, `request_time` (duration); the record's time comes
//! from the bracketed date and its level from the status (5xx error, 4xx warn, else info).
//!
//! Options (`key=value`, comma-separated):
//! - `request_time=s|ms|us`: unit of the trailing number (nginx `$request_time`: `s`, the
//!   default; Apache `%D`: `us`).
//! - `agent=false`: skip `referer` and `user_agent`.

pub mod clf;

use kpid_plugin::{declare_parser, Level, Out, Parser, Reject};

/// The plugin's parser.
#[derive(Debug)]
pub struct Nginx {
    time_scale: f64,
    agent: bool,
}

impl Parser for Nginx {
    fn new(options: &str) -> Result<Self, String> {
        let mut p = Nginx {
            time_scale: 1.0,
            agent: true,
        };
        for (key, value) in kpid_plugin::options(options) {
            match (key, value) {
                ("request_time", "s") => p.time_scale = 1.0,
                ("request_time", "ms") => p.time_scale = 1e-3,
                ("request_time", "us") => p.time_scale = 1e-6,
                ("agent", "true") => p.agent = true,
                ("agent", "false") => p.agent = false,
                _ => {
                    return Err(format!(
                        "nginx: unknown option `{key}={value}` (known: request_time=s|ms|us, agent=true|false)"
                    ))
                }
            }
        }
        Ok(p)
    }

    fn parse(&mut self, line: &[u8], out: &mut Out<'_>) -> Result<(), Reject> {
        let a = clf::scan(line).map_err(|e| match e {
            clf::ScanError::NoMatch => Reject::NoMatch,
            clf::ScanError::Bad(why) => Reject::invalid(why),
        })?;
        if let Some(t) = a.time {
            out.timestamp(t);
        }
        out.level(match a.status {
            500.. => Level::Error,
            400..=499 => Level::Warn,
            _ => Level::Info,
        });
        out.str("remote_addr", a.remote_addr);
        if let Some(user) = a.user {
            out.str("user", user);
        }
        if let Some(method) = a.method {
            out.str("method", method);
        }
        if let Some(path) = a.path {
            out.str("path", path);
        }
        if let Some(query) = a.query {
            out.str("query", query);
        }
        if let Some(protocol) = a.protocol {
            out.str("protocol", protocol);
        }
        out.int("status", i64::from(a.status));
        out.int("bytes", a.bytes as i64);
        if self.agent {
            if let Some(referer) = a.referer {
                out.str("referer", referer);
            }
            if let Some(agent) = a.user_agent {
                out.str("user_agent", agent);
            }
        }
        if let Some(t) = a.request_time {
            out.duration("request_time", t * self.time_scale);
        }
        Ok(())
    }
}

declare_parser!(
    Nginx,
    name = "nginx",
    description = "nginx/Apache access logs (common, combined, optional request time)"
);

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_plugin::testing::{Harness, Item};

    #[test]
    fn fields_through_the_boundary() {
        let mut h = Harness::<Nginx>::new("request_time=ms, agent=false").unwrap();
        let line = br#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "POST /api HTTP/1.1" 503 12 "-" "curl" 250"#;
        let items = h.parse(line).unwrap();
        assert!(items.contains(&Item::Level(Level::Error)));
        assert!(items.contains(&Item::Str("method".into(), b"POST".to_vec())));
        assert!(items.contains(&Item::Int("status".into(), 503)));
        assert!(items.contains(&Item::Duration("request_time".into(), 0.25)));
        assert!(!items
            .iter()
            .any(|i| matches!(i, Item::Str(k, _) if k == "user_agent")));
        assert_eq!(h.parse(b"not an access log"), Err(Reject::NoMatch));
    }

    #[test]
    fn unknown_option_is_refused() {
        let err = Harness::<Nginx>::new("colour=blue").unwrap_err();
        assert!(err.contains("unknown option `colour=blue`"), "{err}");
    }
}

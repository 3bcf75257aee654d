//! Who may talk to the server: a Host allowlist on every request (against DNS rebinding) and
//! an exact Origin allowlist on WebSocket upgrades and on every request that is not a GET
//! (against cross-site WebSocket hijacking and cross-site requests).
//!
//! Allowed names: `localhost`, `127.0.0.1`, `[::1]`, the address the server is bound to, and
//! the configured `[server] allowed_hosts`. A request whose `Host` names anything else gets
//! 421 Misdirected Request; an `Origin` that is not exactly `http://NAME:PORT` (or `https://`)
//! for an allowed name and the bound port gets 403. A request without `Host` (HTTP/1.0 tools)
//! or without `Origin` (scripts, Prometheus, non-browser WebSocket clients) is not a
//! browser's, and passes. Every refusal is counted ([`Refusals`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use warp::http::StatusCode;

/// Requests refused by the guard, by reason (shown by `/api/health` and `/metrics`).
#[derive(Debug, Default)]
pub struct Refusals {
    /// `Host` not allowed (421).
    pub host: AtomicU64,
    /// `Origin` not allowed (403).
    pub origin: AtomicU64,
}

/// The allowlists of one bound server.
#[derive(Debug, Clone)]
pub struct Guard {
    names: Vec<String>,
    port: u16,
}

/// Why a request was refused: its status and message.
#[derive(Debug)]
pub struct Refused(pub StatusCode, pub String);

impl warp::reject::Reject for Refused {}

/// The name of a `Host` header value (`name`, `name:port`, `[v6]:port`), lowercased.
fn host_name(host: &str) -> String {
    let h = host.trim();
    let name = if let Some(rest) = h.strip_prefix('[') {
        // `[::1]:8050` → `[::1]`
        match rest.find(']') {
            Some(i) => &h[..i + 2],
            None => h,
        }
    } else {
        match h.rsplit_once(':') {
            Some((n, p)) if p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => h,
        }
    };
    name.to_ascii_lowercase()
}

impl Guard {
    /// The allowlists of a server bound to `addr`, with the configured extra names.
    pub fn new(addr: SocketAddr, extra: &[String]) -> Guard {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        if !addr.ip().is_unspecified() {
            names.push(match addr {
                SocketAddr::V4(a) => a.ip().to_string(),
                SocketAddr::V6(a) => format!("[{}]", a.ip()),
            });
        }
        names.extend(extra.iter().map(|n| host_name(n)));
        names.sort();
        names.dedup();
        Guard {
            names,
            port: addr.port(),
        }
    }

    fn host_ok(&self, host: &str) -> bool {
        self.names.contains(&host_name(host))
    }

    fn origin_ok(&self, origin: &str) -> bool {
        let Some(rest) = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
        else {
            return false;
        };
        let (name, port) = match rest.rsplit_once(':') {
            Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p.parse::<u16>().ok()),
            _ => (rest, Some(80)),
        };
        port == Some(self.port) && self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Checks one request: its `Host`, and its `Origin` when it is a WebSocket upgrade or not
    /// a GET/HEAD. Counts what it refuses.
    pub fn check(
        &self,
        host: Option<&str>,
        origin: Option<&str>,
        checks_origin: bool,
        refusals: &Refusals,
    ) -> Result<(), Refused> {
        if let Some(h) = host.filter(|h| !self.host_ok(h)) {
            refusals.host.fetch_add(1, Relaxed);
            return Err(Refused(
                StatusCode::MISDIRECTED_REQUEST,
                format!("host `{h}` is not served here (allowed: {}; add names with [server] allowed_hosts)", self.names.join(", ")),
            ));
        }
        if let Some(o) = origin.filter(|o| checks_origin && !self.origin_ok(o)) {
            refusals.origin.fetch_add(1, Relaxed);
            return Err(Refused(
                StatusCode::FORBIDDEN,
                format!("origin `{o}` is not allowed: only pages served by this kpid may connect"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new("127.0.0.1:8050".parse().unwrap(), &["kpid.lan".into()])
    }

    #[test]
    fn hosts_are_checked_by_name() {
        let g = guard();
        for ok in [
            "127.0.0.1:8050",
            "localhost",
            "LOCALHOST:1",
            "[::1]:8050",
            "kpid.lan:8050",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8050",
            "127.0.0.1.evil.example",
            "[::2]:8050",
        ] {
            assert!(!g.host_ok(bad), "{bad}");
        }
    }

    #[test]
    fn origins_must_match_name_and_port_exactly() {
        let g = guard();
        for ok in [
            "http://127.0.0.1:8050",
            "http://localhost:8050",
            "https://kpid.lan:8050",
            "http://[::1]:8050",
        ] {
            assert!(g.origin_ok(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost:3000",
            "http://127.0.0.1",
            "null",
            "file://",
            "http://127.0.0.1:8050.evil.example",
        ] {
            assert!(!g.origin_ok(bad), "{bad}");
        }
    }

    #[test]
    fn refusals_are_counted_with_their_status() {
        let (g, r) = (guard(), Refusals::default());
        let e = g.check(Some("evil.example"), None, false, &r).unwrap_err();
        assert_eq!(e.0, StatusCode::MISDIRECTED_REQUEST);
        let e = g
            .check(
                Some("127.0.0.1:8050"),
                Some("http://evil.example"),
                true,
                &r,
            )
            .unwrap_err();
        assert_eq!(e.0, StatusCode::FORBIDDEN);
        // A GET with a foreign Origin is not refused (links and images may be cross-site);
        // its Host still is checked.
        assert!(g
            .check(Some("localhost"), Some("http://evil.example"), false, &r)
            .is_ok());
        assert!(g.check(None, None, true, &r).is_ok());
        assert_eq!((r.host.load(Relaxed), r.origin.load(Relaxed)), (1, 1));
    }
}

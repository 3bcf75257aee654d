//! Who may talk to the server, and with what: a Host allowlist on every request (against
//! DNS rebinding), an exact Origin allowlist on WebSocket upgrades and on every request that
//! is not a GET (against cross-site WebSocket hijacking and cross-site requests), the API
//! token ([`super::auth`]) on every request that is not a GET, and on every request but the
//! dashboard's static files when bound beyond loopback (unless `insecure`), and caps on the
//! request target (414) and body (413). Checked in that order, each refusal counted
//! ([`HttpCounters`]).
//!
//! Allowed names: `localhost`, `127.0.0.1`, `[::1]`, the address the server is bound to, and
//! the configured `[server] allowed_hosts`. A request whose `Host` names anything else gets
//! 421 Misdirected Request; an `Origin` that is not exactly `http://NAME:PORT` (or `https://`)
//! for an allowed name and the bound port gets 403. A request without `Host` (HTTP/1.0 tools)
//! or without `Origin` (scripts, Prometheus, non-browser WebSocket clients) is not a
//! browser's, and passes. Every refusal is counted ([`Refusals`]).

use super::auth;
use super::counters::HttpCounters;
use std::net::SocketAddr;
use std::sync::Arc;
use warp::http::{Method, StatusCode};

/// The allowlists and limits of one bound server.
#[derive(Debug, Clone)]
pub struct Guard {
    names: Vec<String>,
    port: u16,
    token: Arc<str>,
    /// Every request needs the token (bound beyond loopback, not `insecure`).
    token_for_all: bool,
    max_uri: usize,
    max_body: u64,
}

/// What the guard reads of a request.
#[derive(Debug, Default)]
pub struct Head<'a> {
    /// `Host`.
    pub host: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// A WebSocket upgrade.
    pub upgrade: bool,
    /// GET or HEAD.
    pub read_only: bool,
    /// `Authorization`.
    pub authorization: Option<&'a str>,
    /// `Content-Length`.
    pub content_length: Option<u64>,
    /// Path.
    pub path: &'a str,
    /// Raw query string.
    pub query: &'a str,
}

/// Paths served without the token even beyond loopback: the dashboard's static files, which
/// hold no data (the page then asks for the token).
fn is_static(path: &str) -> bool {
    path == "/" || path.starts_with("/assets/")
}

/// Is `m` a method that changes nothing?
pub fn read_only(m: &Method) -> bool {
    m == Method::GET || m == Method::HEAD
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
    /// The allowlists of a server bound to `addr`, with the configured extra names; the
    /// token is needed for every request when `token_for_all`.
    pub fn new(
        addr: SocketAddr,
        extra: &[String],
        token: Arc<str>,
        token_for_all: bool,
        (max_uri, max_body): (usize, u64),
    ) -> Guard {
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
            token,
            token_for_all,
            max_uri,
            max_body,
        }
    }

    pub(crate) fn host_ok(&self, host: &str) -> bool {
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

    /// Checks one request (see the module doc). Counts what it refuses.
    pub fn check(&self, r: &Head<'_>, counters: &HttpCounters) -> Result<(), Refused> {
        let refuse = |c, status, msg: String| {
            HttpCounters::bump(c);
            Err(Refused(status, msg))
        };
        if let Some(h) = r.host.filter(|h| !self.host_ok(h)) {
            return refuse(&counters.host, StatusCode::MISDIRECTED_REQUEST,
                format!("host `{h}` is not served here (allowed: {}; add names with [server] allowed_hosts)", self.names.join(", ")));
        }
        let checks_origin = r.upgrade || !r.read_only;
        if let Some(o) = r.origin.filter(|o| checks_origin && !self.origin_ok(o)) {
            return refuse(
                &counters.origin,
                StatusCode::FORBIDDEN,
                format!("origin `{o}` is not allowed: only pages served by this kpid may connect"),
            );
        }
        if r.path.len() + r.query.len() > self.max_uri {
            return refuse(
                &counters.uri_too_long,
                StatusCode::URI_TOO_LONG,
                format!(
                    "request target of {} bytes is over the limit of {} ([server] max_uri_bytes)",
                    r.path.len() + r.query.len(),
                    self.max_uri
                ),
            );
        }
        if let Some(n) = r.content_length.filter(|n| *n > self.max_body) {
            return refuse(
                &counters.body_too_large,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body of {n} bytes is over the limit of {} ([server] max_body_bytes)",
                    self.max_body
                ),
            );
        }
        let needs_token = !r.read_only || (self.token_for_all && !is_static(r.path));
        if needs_token {
            let ok = auth::presented(r.authorization, r.query)
                .is_some_and(|t| auth::same(t.as_bytes(), self.token.as_bytes()));
            if !ok {
                let why = if r.read_only {
                    "this kpid is bound beyond loopback: every request needs its token"
                } else {
                    "changing state needs kpid's token"
                };
                return refuse(&counters.token, StatusCode::UNAUTHORIZED,
                    format!("{why} (Authorization: Bearer TOKEN, or ?token=TOKEN; it is in <state-dir>/token and in the link kpid printed at start)"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123";

    fn guard_for(all: bool) -> Guard {
        Guard::new(
            "127.0.0.1:8050".parse().unwrap(),
            &["kpid.lan".into()],
            Arc::from(TOKEN),
            all,
            (100, 10),
        )
    }

    fn guard() -> Guard {
        guard_for(false)
    }

    fn get<'a>(host: Option<&'a str>, origin: Option<&'a str>) -> Head<'a> {
        Head {
            host,
            origin,
            read_only: true,
            path: "/api/health",
            ..Head::default()
        }
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
        let (g, c) = (guard(), HttpCounters::default());
        let e = g.check(&get(Some("evil.example"), None), &c).unwrap_err();
        assert_eq!(e.0, StatusCode::MISDIRECTED_REQUEST);
        let ws = Head {
            upgrade: true,
            ..get(Some("127.0.0.1:8050"), Some("http://evil.example"))
        };
        assert_eq!(g.check(&ws, &c).unwrap_err().0, StatusCode::FORBIDDEN);
        // A GET with a foreign Origin is not refused (links and images may be cross-site);
        // its Host still is checked.
        assert!(g
            .check(&get(Some("localhost"), Some("http://evil.example")), &c)
            .is_ok());
        assert!(g.check(&get(None, None), &c).is_ok());
        let long = "x".repeat(101);
        let e = g
            .check(
                &Head {
                    query: &long,
                    ..get(None, None)
                },
                &c,
            )
            .unwrap_err();
        assert_eq!(e.0, StatusCode::URI_TOO_LONG);
        let body = Head {
            content_length: Some(11),
            ..get(None, None)
        };
        assert_eq!(
            g.check(&body, &c).unwrap_err().0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let s = c.snapshot();
        assert_eq!(
            (
                s.refused_host,
                s.refused_origin,
                s.refused_uri_too_long,
                s.refused_body_too_large
            ),
            (1, 1, 1, 1)
        );
    }

    #[test]
    fn token_guards_state_changes_and_everything_beyond_loopback() {
        let c = HttpCounters::default();
        let post = |auth: Option<&'static str>, query: &'static str| Head {
            read_only: false,
            authorization: auth,
            query,
            ..get(None, None)
        };
        let g = guard();
        assert_eq!(
            g.check(&post(None, ""), &c).unwrap_err().0,
            StatusCode::UNAUTHORIZED
        );
        assert!(g.check(&post(Some("Bearer nope"), ""), &c).is_err());
        assert!(g
            .check(&post(Some("Bearer 0123456789abcdef0123"), ""), &c)
            .is_ok());
        assert!(g
            .check(&post(None, "token=0123456789abcdef0123"), &c)
            .is_ok());
        assert!(g.check(&get(None, None), &c).is_ok());
        let all = guard_for(true);
        assert_eq!(
            all.check(&get(None, None), &c).unwrap_err().0,
            StatusCode::UNAUTHORIZED
        );
        let page = Head {
            path: "/",
            ..get(None, None)
        };
        assert!(all.check(&page, &c).is_ok());
        let with = Head {
            query: "token=0123456789abcdef0123",
            ..get(None, None)
        };
        assert!(all.check(&with, &c).is_ok());
        // The Host check comes first, token or not.
        let evil = Head {
            host: Some("evil.example"),
            ..with
        };
        assert_eq!(
            all.check(&evil, &c).unwrap_err().0,
            StatusCode::MISDIRECTED_REQUEST
        );
        assert_eq!(c.snapshot().refused_token, 3);
    }
}

//! Entry points for the fuzz targets (`fuzz/`, see docs/fuzzing.md): the private parts of the
//! daemon that read untrusted text, each behind one function. Not an API: hidden from the
//! docs and free to change with the targets.

use crate::config::Config;
use crate::engine::rules::Rules;
use crate::plugin_host::{factory, PluginHost};
use crate::server::api::HistoryQuery;
use crate::server::Guard;
use std::net::SocketAddr;
use std::path::Path;

/// Loads a config file's text as `kpid --config` does: parse, resolve source names, compile
/// the rules with the store limits it sets and build every source's (built-in) parser.
/// Returns the error's message, if any.
pub fn load_config(text: &str) -> Result<(), String> {
    let mut cfg = Config::parse(Path::new("fuzz.toml"), text).map_err(|e| e.to_string())?;
    cfg.resolve().map_err(|e| e.to_string())?;
    let names: Vec<String> = cfg.sources.iter().map(|s| s.label().into_owned()).collect();
    for (i, n) in names.iter().enumerate() {
        assert!(
            !names[..i].contains(n),
            "two resolved sources share the name `{n}`"
        );
    }
    let limits = cfg.store.limits();
    assert!(limits.bucket_secs >= 1 && limits.window_buckets >= 1);
    let span = i64::try_from(limits.window_buckets)
        .ok()
        .and_then(|n| n.checked_mul(limits.bucket_secs));
    assert!(span.is_some(), "the store's window overflows: {limits:?}");
    Rules::new(&cfg, &limits).map_err(|e| e.to_string())?;
    factory::parsers(&cfg, &PluginHost::empty()).map_err(|e| e.to_string())?;
    Ok(())
}

/// Reads the decoded pairs of a `/api/metrics/history` query string as the server does;
/// returns the query it asks for (`{:?}`) or the error the reply would carry.
pub fn history_query(pairs: Vec<(String, String)>) -> Result<String, String> {
    HistoryQuery::parse(pairs).map(|q| format!("{q:?}"))
}

/// Runs the request guard on a `Host` and an `Origin` for a server bound to `addr` with the
/// extra allowed names `extra`; returns the refusal's status and message, if any.
pub fn guard(
    addr: SocketAddr,
    extra: &[String],
    host: Option<&str>,
    origin: Option<&str>,
    checks_origin: bool,
) -> Result<(), (u16, String)> {
    let refusals = crate::server::Refusals::default();
    Guard::new(addr, extra)
        .check(host, origin, checks_origin, &refusals)
        .map_err(|r| (r.0.as_u16(), r.1))
}

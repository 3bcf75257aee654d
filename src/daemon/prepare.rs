//! What a config compiles to, checked as a start would check it: what `kpid check` runs and
//! what a reload applies; and which keys only a restart can change.

use crate::config::Config;
use crate::engine::rules::Rules;
use crate::plugin_host::PluginHost;
use kpid_parsers::Parser;
use std::collections::HashMap;
use std::sync::Arc;

/// What a valid config compiles to: what `kpid check` checks and a reload applies.
pub struct Prepared {
    /// The engine's rules.
    pub rules: Rules,
    /// A parser per source.
    pub parsers: HashMap<Arc<str>, Box<dyn Parser>>,
}

/// Checks everything a start would: rules compile, every source's parser exists (plugins
/// included), alert rules and channels, process patterns, the listen address. The errors
/// name the file, the line and the field where the config says it.
pub fn prepare(cfg: &Config, plugins: &PluginHost) -> anyhow::Result<Prepared> {
    use anyhow::Context;
    let rules = Rules::new(cfg, &cfg.store.limits())?;
    let parsers = crate::plugin_host::factory::parsers(cfg, plugins)?;
    crate::alerts::rules::validate(&cfg.alert_rules, &cfg.notify)
        .map_err(|e| cfg.error_at(0, e.0))?;
    for p in &cfg.sample.processes {
        regex::Regex::new(p).with_context(|| format!("[sample] processes: `{p}`"))?;
    }
    if let Some(t) = &cfg.server.token {
        crate::server::auth::check_configured(t)?;
    }
    cfg.server
        .host
        .parse::<std::net::IpAddr>()
        .with_context(|| format!("[server] host: invalid address `{}`", cfg.server.host))?;
    Ok(Prepared { rules, parsers })
}

/// The keys that take effect only at start, and whether each differs between `a` and `b`
/// (tables compared as a whole).
pub(super) fn restart_keys(a: &Config, b: &Config) -> Vec<&'static str> {
    let d = |x: &dyn std::fmt::Debug, y: &dyn std::fmt::Debug| format!("{x:?}") != format!("{y:?}");
    let keys: [(&str, bool); 10] = [
        ("[server]", d(&a.server, &b.server)),
        ("[store]", d(&a.store, &b.store)),
        ("[apps]", d(&a.apps, &b.apps)),
        ("[sample]", d(&a.sample, &b.sample)),
        ("[tail]", d(&a.tail, &b.tail)),
        ("[plugins]", d(&a.plugins, &b.plugins)),
        ("state_dir", a.state_dir != b.state_dir),
        ("plugin_dir", a.plugin_dir != b.plugin_dir),
        ("socket", a.socket != b.socket),
        (
            "[alerts] external_url",
            a.alerts.external_url != b.alerts.external_url,
        ),
    ];
    keys.into_iter().filter(|k| k.1).map(|k| k.0).collect()
}

/// `new` with every key that needs a restart kept at its running value.
pub(super) fn effective(running: &Config, mut new: Config) -> Config {
    new.server = running.server.clone();
    new.store = running.store.clone();
    new.apps = running.apps.clone();
    new.sample = running.sample.clone();
    new.tail = running.tail.clone();
    new.plugins = running.plugins.clone();
    new.state_dir = running.state_dir.clone();
    new.plugin_dir = running.plugin_dir.clone();
    new.socket = running.socket.clone();
    new.alerts.external_url = running.alerts.external_url.clone();
    new
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn restart_keys_are_named_and_keep_their_running_values() {
        let parse = |t: &str| Config::parse(Path::new("k.toml"), t).unwrap();
        let running = parse("[server]\nport = 9000\n[[source]]\npath = \"a.log\"\n");
        let new = parse(
            "[server]\nport = 9001\n[store]\nwindow = \"2h\"\n[[source]]\npath = \"b.log\"\n[[alert]]\nname = \"x\"\nkpi = \"y\"\nwarn = 1\n",
        );
        assert_eq!(restart_keys(&running, &new), vec!["[server]", "[store]"]);
        let cfg = effective(&running, new);
        assert_eq!(cfg.server.port, 9000);
        assert_eq!(format!("{:?}", cfg.store), format!("{:?}", running.store));
        assert_eq!(cfg.sources[0].path, "b.log");
        assert_eq!(cfg.alert_rules.len(), 1);
        assert!(restart_keys(&running, &running.clone()).is_empty());
    }
}

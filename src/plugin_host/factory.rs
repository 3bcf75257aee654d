//! The one parser factory: a built-in parser, else a loaded plugin's, by name. The daemon
//! builds each source's parser with it, and `kpid parse` its parser under test.

use super::PluginHost;
use crate::config::Config;
use kpid_parsers::{Parser, ParserOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The plugin directory, as the daemon picks it: `--plugin-dir`, else the config's
/// `plugin_dir`, else none.
pub fn plugin_dir(flag: Option<&Path>, cfg: Option<&Config>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| cfg.and_then(|c| c.plugin_dir.clone()))
}

/// The plugin host of `dir`, its parsers running as `cfg`'s `[plugins]` says (in a worker
/// process by default).
pub fn host_for(dir: Option<PathBuf>, cfg: Option<&Config>) -> PluginHost {
    let host = match dir {
        Some(d) => PluginHost::load_dir(&d),
        None => PluginHost::empty(),
    };
    host.set_isolation(
        cfg.map(|c| c.plugins.isolation())
            .unwrap_or_else(|| crate::config::PluginsConfig::default().isolation()),
    );
    host
}

/// Builds the parser called `name`: a built-in, else a plugin of `host`.
pub fn make_parser(
    host: &PluginHost,
    name: &str,
    options: &str,
    pattern: Option<String>,
) -> anyhow::Result<Box<dyn Parser>> {
    match kpid_parsers::builtin(name, &ParserOptions { pattern }) {
        Ok(p) => Ok(p),
        Err(kpid_parsers::BuildError::Unknown(_)) => match host.make(name, options) {
            Some(made) => Ok(made?),
            None => {
                let loaded: Vec<String> = host
                    .list()
                    .into_iter()
                    .filter(|p| p.status == "loaded")
                    .map(|p| p.name)
                    .collect();
                let dir = host
                    .dir()
                    .map_or("none".into(), |d| d.display().to_string());
                anyhow::bail!(
                    "unknown parser `{name}`: not built in (auto, json, logfmt, regex, plain) and no loaded plugin has that name (plugin directory: {dir}; plugins: {})",
                    if loaded.is_empty() { "none".into() } else { loaded.join(", ") }
                )
            }
        },
        Err(e) => Err(e.into()),
    }
}

/// The parser of every source of a (resolved) config, by source name; errors name the
/// source's config line.
pub fn parsers(
    cfg: &Config,
    host: &PluginHost,
) -> anyhow::Result<HashMap<Arc<str>, Box<dyn Parser>>> {
    let mut out = HashMap::new();
    for s in &cfg.sources {
        let pattern = s.pattern.as_ref().map(|p| p.get_ref().clone());
        let mut p = make_parser(host, &s.parser, &s.options, pattern).map_err(|e| {
            let pos = s.pattern.as_ref().map(|p| p.span().start).unwrap_or(0);
            anyhow::Error::new(
                cfg.error_at(pos, format!("source `{}`: field `parser`: {e}", s.label())),
            )
        })?;
        if let Some(start) = &s.start {
            let at = |e: String| {
                let e = format!("source `{}`: {e}", s.label());
                anyhow::Error::new(cfg.error_at(start.span().start, e))
            };
            if !kpid_parsers::BUILTIN_PARSERS.contains(&s.parser.as_str()) {
                return Err(at(format!(
                    "field `start`: a plugin parser (`{}`) reads lines one by one; `start` takes a built-in parser",
                    s.parser
                )));
            }
            p = Box::new(
                kpid_parsers::WithStart::new(p, start.get_ref()).map_err(|e| at(e.to_string()))?,
            );
        }
        out.insert(Arc::from(s.label()), p);
    }
    Ok(out)
}

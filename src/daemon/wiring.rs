//! What the daemon plugs together besides the pipeline: each source's parser (built in or
//! from a plugin) and the socket source's health section.

use super::config::source_name;
use crate::config::Config;
use crate::plugin_host::PluginHost;
use crate::server::{HealthSection, Status};
use crate::sources::socket::SocketStats;
use kpid_parsers::{Parser, ParserOptions};
use std::collections::HashMap;
use std::sync::Arc;

/// Builds the per-source parsers, built-in or from a plugin; errors name the source's config
/// line.
pub(super) fn parsers(
    cfg: &Config,
    plugins: &PluginHost,
) -> anyhow::Result<HashMap<Arc<str>, Box<dyn Parser>>> {
    let mut out = HashMap::new();
    for s in &cfg.sources {
        let opts = ParserOptions {
            pattern: s.pattern.as_ref().map(|p| p.get_ref().clone()),
        };
        let built = match kpid_parsers::builtin(&s.parser, &opts) {
            Err(kpid_parsers::BuildError::Unknown(_)) => {
                match plugins.make(&s.parser, &s.options) {
                    Some(r) => r.map_err(|e| e.to_string()),
                    None => Err(format!(
                    "unknown parser `{}` (built-in: json, logfmt, regex, plain, auto; plugins: {})",
                    s.parser,
                    plugin_names(plugins)
                )),
                }
            }
            other => other.map_err(|e| e.to_string()),
        };
        let p = built.map_err(|e| {
            let pos = s.pattern.as_ref().map(|p| p.span().start).unwrap_or(0);
            anyhow::Error::new(cfg.error_at(
                pos,
                format!("source `{}`: field `parser`: {e}", source_name(s)),
            ))
        })?;
        if out.insert(Arc::from(source_name(s)), p).is_some() {
            return Err(anyhow::Error::new(cfg.error_at(
                0,
                format!(
                    "two sources are named `{}`: give each [[source]] its own `name`",
                    source_name(s)
                ),
            )));
        }
    }
    Ok(out)
}

fn plugin_names(plugins: &PluginHost) -> String {
    let names: Vec<String> = plugins
        .list()
        .into_iter()
        .filter(|p| p.status == "loaded")
        .map(|p| p.name)
        .collect();
    if names.is_empty() {
        "none loaded".into()
    } else {
        names.join(", ")
    }
}

/// The socket source's part of `/api/health`.
pub(super) struct SocketSection(pub(super) Arc<SocketStats>);

impl HealthSection for SocketSection {
    fn name(&self) -> &'static str {
        "socket"
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&*self.0).unwrap_or_default()
    }

    fn status(&self) -> Status {
        Status::Ok
    }

    /// Frames refused and records apps dropped.
    fn losses(&self) -> u64 {
        let v = self.snapshot();
        let rejected: u64 = v["rejected"]
            .as_object()
            .map(|o| o.values().filter_map(|x| x.as_u64()).sum())
            .unwrap_or(0);
        rejected + v["app_dropped"].as_u64().unwrap_or(0)
    }
}

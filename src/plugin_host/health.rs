//! The plugins' part of `/api/health` (`"plugins": [...]`) and of `/metrics`.

use super::PluginHost;
use crate::health::{HealthSection, Status};
use std::fmt::Write;

/// Reads one figure of a plugin.
type Figure = fn(&super::PluginInfo) -> Option<f64>;

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl HealthSection for PluginHost {
    fn name(&self) -> &'static str {
        "plugins"
    }

    /// Every plugin file version: name, version, abi, path, status, lines, errors,
    /// ns_per_line.
    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(self.list()).unwrap_or_default()
    }

    /// Error while a plugin is quarantined (its lines are not parsed), warn while a plugin
    /// file is refused. (Lines lost to crashes or refused output count as losses, which warn
    /// for a minute.)
    fn status(&self) -> Status {
        let list = self.list();
        if list
            .iter()
            .any(|p| p.status == "loaded" && p.guard.quarantined)
        {
            return Status::Error;
        }
        match list.iter().any(|p| p.status.starts_with("refused")) {
            true => Status::Warn,
            false => Status::Ok,
        }
    }

    /// Refusals so far (a refused file rewritten and refused again counts again), worker
    /// failures, lines with refused output and lines skipped in quarantine.
    fn losses(&self) -> u64 {
        let lost: u64 = self
            .list()
            .iter()
            .map(|p| {
                let g = &p.guard;
                g.crashes
                    + g.timeouts
                    + g.memory_limit_hits
                    + g.quarantined_lines
                    + p.refused_output
            })
            .sum();
        self.refusals() + lost
    }

    fn prometheus(&self, out: &mut String) {
        let list = self.list();
        let loaded: Vec<_> = list
            .iter()
            .filter(|p| !p.status.starts_with("refused"))
            .collect();
        let metrics: [(&str, &str, &str, Figure); 8] = [
            (
                "kpid_plugin_lines_total",
                "counter",
                "lines parsed by a plugin",
                |p| Some(p.lines as f64),
            ),
            (
                "kpid_plugin_errors_total",
                "counter",
                "lines a plugin rejected (no match, invalid, panic)",
                |p| Some(p.errors as f64),
            ),
            (
                "kpid_plugin_parse_seconds_per_line",
                "gauge",
                "mean seconds per line in a plugin, boundary included",
                |p| p.ns_per_line.map(|ns| ns * 1e-9),
            ),
            (
                "kpid_plugin_crashes_total",
                "counter",
                "plugin worker crashes (the line being parsed is skipped)",
                |p| Some(p.guard.crashes as f64),
            ),
            (
                "kpid_plugin_timeouts_total",
                "counter",
                "lines that ran past the per-line time limit in a plugin worker",
                |p| Some(p.guard.timeouts as f64),
            ),
            (
                "kpid_plugin_memory_limit_hits_total",
                "counter",
                "plugin workers that died at their memory limit",
                |p| Some(p.guard.memory_limit_hits as f64),
            ),
            (
                "kpid_plugin_refused_output_total",
                "counter",
                "lines whose plugin output was out of bounds",
                |p| Some(p.refused_output as f64),
            ),
            (
                "kpid_plugin_quarantined",
                "gauge",
                "1 while the plugin is quarantined until its file changes",
                |p| Some(f64::from(u8::from(p.guard.quarantined))),
            ),
        ];
        for (name, kind, help, value) in metrics {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for p in &loaded {
                if let Some(v) = value(p) {
                    let _ = writeln!(
                        out,
                        "{name}{{plugin=\"{}\",version=\"{}\",path=\"{}\"}} {v}",
                        label(&p.name),
                        label(&p.version),
                        label(&p.path.to_string_lossy())
                    );
                }
            }
        }
        let refused = list.len() - loaded.len();
        let _ = writeln!(
            out,
            "# HELP kpid_plugins_refused plugin files refused\n# TYPE kpid_plugins_refused gauge\nkpid_plugins_refused {refused}"
        );
    }
}

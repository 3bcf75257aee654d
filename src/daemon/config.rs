//! The daemon's configuration: the config file merged with the command line, and the names
//! every source gets.

use crate::cli::RunArgs;
use crate::config::{same_file_key, Config, Dur, SourceConfig};
use std::path::{Path, PathBuf};

/// Merges the config file (if any) and the command line.
pub fn build_config(args: &RunArgs) -> anyhow::Result<Config> {
    let mut cfg = match &args.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if args.config.is_none() {
        cfg.auto_gauges = true;
    }
    if let Some(h) = &args.host {
        cfg.server.host = h.clone();
    }
    if let Some(p) = args.port {
        cfg.server.port = p;
    }
    if let Some(i) = args.interval {
        cfg.server.interval = Dur(i);
    }
    if let Some(n) = args.max_line_bytes {
        cfg.tail.max_line_bytes = n;
    }
    cfg.tail.from_start |= args.from_start || args.one_shot;
    if args.socket.is_some() {
        cfg.socket = args.socket.clone();
    }
    if args.plugin_dir.is_some() {
        cfg.plugin_dir = args.plugin_dir.clone();
    }
    if args.state_dir.is_some() {
        cfg.state_dir = args.state_dir.clone();
    }
    for log in &args.logs {
        let key = same_file_key(log);
        if cfg.sources.iter().any(|s| same_file_key(&s.path) == key) {
            continue; // already a [[source]] of the config (its own parser), or a repeated --log
        }
        cfg.sources.push(SourceConfig {
            name: None,
            path: log.clone(),
            parser: args.parser.clone(),
            pattern: None,
            options: String::new(),
        });
    }
    // Every source needs its own name (its parser and its `source` label): unnamed ones take
    // their file stem, suffixed when that name is taken.
    let mut taken: Vec<String> = cfg.sources.iter().filter_map(|s| s.name.clone()).collect();
    for s in cfg.sources.iter_mut().filter(|s| s.name.is_none()) {
        let base = source_name(s);
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        taken.push(name.clone());
        s.name = Some(name);
    }
    Ok(cfg)
}

/// The `source` label of a source: its name, or the file stem of its path.
pub fn source_name(s: &SourceConfig) -> String {
    if let Some(n) = &s.name {
        return n.clone();
    }
    let stem = Path::new(&s.path)
        .file_stem()
        .and_then(|x| x.to_str())
        .unwrap_or("log");
    if stem.contains(['*', '?', '[']) {
        Path::new(&s.path)
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|x| x.to_str())
            .unwrap_or("logs")
            .to_owned()
    } else {
        stem.to_owned()
    }
}

pub(super) fn default_state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(x).join("kpid");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/kpid"),
        None => PathBuf::from("state"),
    }
}

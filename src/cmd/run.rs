//! `kpid`: the daemon, from the config file merged with the command line.

use super::RunArgs;
use crate::config::{same_file_key, Config, Dur, SourceConfig};
use crate::daemon::{self, Mode};

/// Merges the config file (if any) and the command line.
pub fn config_from(args: &RunArgs) -> anyhow::Result<Config> {
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
    cfg.resolve()?;
    Ok(cfg)
}

/// Runs the daemon until a signal.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let cfg = config_from(&args)?;
    if cfg.sources.is_empty() {
        tracing::warn!("no source: give --log PATH or [[source]] in --config");
    }
    let mode = Mode {
        one_shot: args.one_shot,
        no_state: args.no_state,
        no_socket: args.no_socket,
    };
    let (running, server) = daemon::start(&cfg, mode, Vec::new(), daemon::signal()).await?;
    match server {
        None => {
            print!("{}", running.finish_one_shot());
        }
        Some(server) => {
            if let Some(a) = running.addr {
                println!("kpid listening on http://{a}/");
            }
            server.await;
            tokio::task::spawn_blocking(move || running.stop()).await?;
        }
    }
    Ok(())
}

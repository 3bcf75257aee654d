//! `kpid`: the daemon, from the config file merged with the command line.

use super::RunArgs;
use crate::config::{same_file_key, Config, Dur, SourceConfig};
use crate::daemon::{self, Mode};
use std::sync::Arc;

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
    if let Some(a) = &args.otlp {
        cfg.otlp.listen = a.clone();
        cfg.otlp.enabled = true;
    }
    cfg.otlp.enabled &= !args.no_otlp;
    if args.plugin_dir.is_some() {
        cfg.plugin_dir = args.plugin_dir.clone();
    }
    if args.state_dir.is_some() {
        cfg.state_dir = args.state_dir.clone();
    }
    cfg.remote_write
        .url
        .extend(args.remote_write.iter().cloned());
    if args.data_dir.is_some() {
        cfg.history.dir = args.data_dir.clone();
    }
    if args.no_history {
        cfg.history.enabled = false;
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
            start: None,
            options: String::new(),
            timestamp: None,
            timezone: None,
            fields: Default::default(),
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
        insecure: args.insecure,
        tree: None,
        import: false,
        config: args.config.clone().map(|path| {
            let args = args.clone();
            daemon::ConfigSource {
                path,
                load: Arc::new(move || config_from(&args)),
            }
        }),
    };
    let (running, server) = daemon::start(&cfg, mode, Vec::new(), daemon::signal()).await?;
    match server {
        None => {
            print!("{}", running.finish_one_shot());
        }
        Some(server) => {
            if let Some(a) = running.addr {
                // One write, errors ignored: whoever started kpid may stop reading its output.
                let mut out = format!("kpid listening on http://{a}/\n");
                if let Some(t) = &running.token {
                    out += &token_line(a, t);
                    out.push('\n');
                }
                let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes());
            }
            server.await;
            tokio::task::spawn_blocking(move || running.stop()).await?;
        }
    }
    Ok(())
}

/// The dashboard link with the token, and where the token lives.
pub(crate) fn token_line(a: std::net::SocketAddr, t: &crate::server::auth::Token) -> String {
    use crate::server::auth::Origin;
    let whence = match &t.origin {
        Origin::Config => "from [server] token".to_owned(),
        Origin::File(p) | Origin::Created(p) => format!("kept in {}", p.display()),
        Origin::Ephemeral => "for this run only: no state directory".to_owned(),
    };
    format!(
        "kpid dashboard with the API token ({whence}): http://{a}/?token={}",
        t.secret
    )
}

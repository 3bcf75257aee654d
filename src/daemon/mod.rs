//! Assembles the daemon from its configuration: tailer → parse stage → store → server.

mod config;
mod wiring;

pub use config::{build_config, source_name};

use config::default_state_dir;
use wiring::{parsers, SocketSection};

use crate::cli::RunArgs;
use crate::config::Config;
use crate::kpi::{prom, Limits, SharedStore, Store};
use crate::parse::rules::Rules;
use crate::parse::stage::{self, StageConfig};
use crate::plugin_host::PluginHost;
use crate::server::{self, AppState, HealthSection};
use crate::sources::socket::{self, default_socket_path, SocketConfig, SocketStats};
use crate::sources::tail::{self, Checkpoints, TailConfig, TailSource};
use crate::sources::SourcesHealth;
use crate::state::{restore_counters, StateDir};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
/// Batches in flight between the tailer and the parse stage.
const BATCH_QUEUE: usize = 16;
/// Everything running, for shutdown.
pub struct Running {
    /// Bound address (none in one-shot mode).
    pub addr: Option<SocketAddr>,
    /// The store.
    pub store: SharedStore,
    tailer: Option<tail::Tailer>,
    socket: Option<socket::SocketHandle>,
    stage: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("addr", &self.addr)
            .field("socket", &self.socket.as_ref().map(|s| s.path().to_owned()))
            .finish_non_exhaustive()
    }
}

/// How [`start`] runs, beyond the config.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Read every file to its end, then stop (no server, no socket, no state).
    pub one_shot: bool,
    /// Keep no checkpoint.
    pub no_state: bool,
    /// Open no socket for apps.
    pub no_socket: bool,
}

/// Starts sources, the parse stage and (unless one-shot) the server.
pub async fn start(
    cfg: &Config,
    mode: Mode,
    sections: Vec<Arc<dyn HealthSection>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(Running, Option<impl std::future::Future<Output = ()>>)> {
    let Mode {
        one_shot,
        no_state,
        no_socket,
    } = mode;
    let rules = Rules::new(cfg)?;
    let plugins = Arc::new(match &cfg.plugin_dir {
        Some(d) => PluginHost::load_dir(d),
        None => PluginHost::empty(),
    });
    if let Some(problem) = plugins.problem() {
        tracing::warn!("plugins: {problem}");
    }
    let parsers = parsers(cfg, &plugins)?;
    let mut sections = sections;
    if plugins.dir().is_some() {
        if !one_shot {
            plugins.watch();
        }
        sections.push(plugins.clone());
    }
    let limits = Limits {
        max_series: cfg.store.max_series,
        max_label_sets: cfg.store.max_label_sets,
        bucket_secs: cfg.store.bucket.0.as_secs().max(1) as i64,
        window_buckets: (cfg.store.window.0.as_secs() / cfg.store.bucket.0.as_secs().max(1)).max(1)
            as usize,
    };
    let store: SharedStore = Arc::new(parking_lot::Mutex::new(Store::new(limits)));
    let state = if no_state || one_shot {
        None
    } else {
        let dir = cfg.state_dir.clone().unwrap_or_else(default_state_dir);
        Some(StateDir::open(&dir)?)
    };
    let checkpoint = match &state {
        Some(s) => s.load()?,
        None => Default::default(),
    };
    restore_counters(&mut store.lock(), &checkpoint.counters);
    // The tailer owns the checkpoint (offsets of every file it opens); the parse stage
    // acknowledges what it applied, with the counter totals that include it.
    let checkpoints = Checkpoints::new(state, checkpoint);
    let health = SourcesHealth::shared();
    let changed = Arc::new(Notify::new());
    let (tx, rx) = mpsc::channel(BATCH_QUEUE);
    let tcfg = TailConfig {
        sources: cfg
            .sources
            .iter()
            .map(|s| TailSource {
                name: Arc::from(source_name(s)),
                pattern: s.path.clone(),
            })
            .collect(),
        max_line_bytes: cfg.tail.max_line_bytes,
        partial_flush: cfg.tail.partial_flush.0,
        poll_interval: cfg.tail.poll_interval.0,
        from_start: cfg.tail.from_start,
        checkpoint_interval: cfg.tail.checkpoint_interval.0,
        exit_at_eof: one_shot,
        ..TailConfig::default()
    };
    let tailer = tail::spawn(tcfg, tx, health.clone(), checkpoints.clone())
        .context("starting the tailer")?;
    let scfg = StageConfig {
        parsers,
        rules,
        checkpoints,
        checkpoint_interval: cfg.tail.checkpoint_interval.0,
    };
    let stage = stage::spawn(scfg, rx, store.clone(), health.clone(), changed.clone())
        .context("starting the parse stage")?;
    let socket = if one_shot || no_socket {
        None
    } else {
        let explicit = cfg.socket.is_some();
        let scfg = SocketConfig {
            path: cfg.socket.clone().unwrap_or_else(default_socket_path),
            ..SocketConfig::default()
        };
        let stats = Arc::new(SocketStats::default());
        match socket::spawn(scfg.clone(), store.clone(), stats.clone()) {
            Ok(h) => {
                sections.push(Arc::new(SocketSection(stats)));
                Some(h)
            }
            Err(e) if !explicit => {
                tracing::warn!("no socket for apps: {e} (give --socket PATH to choose another)");
                None
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot open socket {}", scfg.path.display())))
            }
        }
    };
    let mut running = Running {
        socket,
        addr: None,
        store: store.clone(),
        tailer: Some(tailer),
        stage: Some(stage),
    };
    if one_shot {
        return Ok((running, None));
    }
    let app = AppState::new(store, health, sections, cfg.server.interval.0, changed);
    let host: std::net::IpAddr = cfg
        .server
        .host
        .parse()
        .with_context(|| format!("invalid --host `{}`", cfg.server.host))?;
    let (addr, server) = server::bind(app, SocketAddr::new(host, cfg.server.port), shutdown)
        .await
        .with_context(|| format!("cannot listen on {}:{}", cfg.server.host, cfg.server.port))?;
    running.addr = Some(addr);
    Ok((running, Some(server)))
}

impl Running {
    /// Stops the tailer and waits for the parse stage to apply what it has and checkpoint.
    pub fn stop(mut self) {
        // Dropping the socket handle stops accepting apps and removes the socket file.
        self.socket.take();
        if let Some(t) = self.tailer.take() {
            t.stop();
        }
        if let Some(s) = self.stage.take() {
            let _ = s.join();
        }
    }

    /// One-shot: waits until every file was read and applied, then returns the exposition.
    pub fn finish_one_shot(mut self) -> String {
        if let Some(t) = self.tailer.take() {
            t.wait();
        }
        if let Some(s) = self.stage.take() {
            let _ = s.join();
        }
        let mut out = String::new();
        prom::prometheus(&self.store.lock(), crate::kpi::now(), &mut out);
        out
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {},
    }
}

/// Runs the daemon until a signal.
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let cfg = build_config(&args)?;
    if cfg.sources.is_empty() {
        tracing::warn!("no source: give --log PATH or [[source]] in --config");
    }
    let mode = Mode {
        one_shot: args.one_shot,
        no_state: args.no_state,
        no_socket: args.no_socket,
    };
    let (running, server) = start(&cfg, mode, Vec::new(), signal()).await?;
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

//! Assembles the daemon from its configuration: tailer → parse stage → store → server.

use crate::cli::RunArgs;
use crate::config::{Config, Dur, SourceConfig};
use crate::kpi::{view, Limits, SharedStore, Store};
use crate::parse::rules::Rules;
use crate::parse::stage::{self, StageConfig};
use crate::plugin_host::PluginHost;
use crate::server::Status;
use crate::server::{self, AppState, HealthSection};
use crate::sources::socket::{self, default_socket_path, SocketConfig, SocketStats};
use crate::sources::tail::{self, TailConfig, TailSource};
use crate::sources::SourcesHealth;
use crate::state::{restore_counters, StateDir};
use anyhow::Context;
use kpid_parsers::{Parser, ParserOptions};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

/// Batches in flight between the tailer and the parse stage.
const BATCH_QUEUE: usize = 16;

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
        if cfg
            .sources
            .iter()
            .any(|s| Path::new(&s.path) == Path::new(log))
        {
            continue; // already a [[source]] of the config, with its own parser
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

fn default_state_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(x).join("kpid");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/kpid"),
        None => PathBuf::from("state"),
    }
}

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

/// Builds the per-source parsers, built-in or from a plugin; errors name the source's config
/// line.
fn parsers(
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
        resume: checkpoint.files.clone(),
        exit_at_eof: one_shot,
        ..TailConfig::default()
    };
    let tailer = tail::spawn(tcfg, tx, health.clone()).context("starting the tailer")?;
    let scfg = StageConfig {
        parsers,
        rules,
        state,
        checkpoint_interval: cfg.tail.checkpoint_interval.0,
        resumed: checkpoint.files,
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
        view::prometheus(&self.store.lock(), crate::kpi::now(), &mut out);
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
struct SocketSection(Arc<SocketStats>);

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

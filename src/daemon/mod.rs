//! Assembles the daemon from its configuration: sources (tailer, socket) → one bounded
//! channel → the engine (which owns the store) → what it publishes → server.

mod prepare;
mod reload;
mod watch;
mod wiring;

pub use prepare::prepare;
pub use reload::ConfigSource;
use wiring::SocketSection;

use crate::config::Config;
use crate::engine::rules::Rules;
use crate::engine::{self, EngineConfig, EngineHandle, Published};
use crate::health::HealthSection;
use crate::kpi::{prom, Store};
use crate::server::{self, AppState};
use crate::sources::sample::{self, ProcSelect, SampleConfig, SamplersHealth};
use crate::sources::socket::{self, default_socket_path, SocketConfig, SocketStats};
use crate::sources::tail::{self, Checkpoints, TailConfig, TailSource};
use crate::sources::SourcesHealth;
use crate::state::{restore_counters, StateDir};
use anyhow::Context;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::mpsc;
/// Inputs in flight between the sources and the engine (line batches are up to 1 MiB each,
/// app batches up to one socket read).
const INPUT_QUEUE: usize = 16;
/// File descriptors kept for files, plugins, state and the rest, whatever the connections.
const FD_RESERVE: u64 = 256;
/// Shipments in flight to the history writer (the engine keeps its deltas when it is full).
const SHIP_QUEUE: usize = 4;
/// Everything running, for shutdown.
pub struct Running {
    /// Bound address (none in one-shot mode).
    pub addr: Option<SocketAddr>,
    /// What the engine publishes.
    pub published: Published,
    /// The API token (none in one-shot mode).
    pub token: Option<crate::server::auth::Token>,
    /// A way into the engine, for sources started after the daemon (`kpid run`'s pipes).
    pub input: mpsc::Sender<crate::sources::Input>,
    /// Health of every followed file and pipe.
    pub sources: Arc<SourcesHealth>,
    tailer: Option<tail::Tailer>,
    socket: Option<socket::SocketHandle>,
    otlp: Option<crate::sources::otlp::OtlpHandle>,
    samplers: Option<sample::SamplerHandle>,
    engine: Option<EngineHandle>,
    export: Option<crate::export::Handle>,
    history: Option<crate::history::WriterHandle>,
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
#[derive(Debug, Clone, Default)]
pub struct Mode {
    /// Read every file to its end, then stop (no server, no socket, no state).
    pub one_shot: bool,
    /// Keep no checkpoint.
    pub no_state: bool,
    /// Open no socket for apps.
    pub no_socket: bool,
    /// Bound beyond loopback, serve reads without the token.
    pub insecure: bool,
    /// Follow the process whose pid is stored here, and its descendants (`kpid run -- CMD`
    /// stores its child's).
    pub tree: Option<Arc<std::sync::atomic::AtomicU32>>,
    /// The config file, reloaded live when it changes and on SIGHUP (none: no reload).
    pub config: Option<ConfigSource>,
    /// With `one_shot`: write what the files hold into history (`kpid import`), resuming
    /// from and committing history's checkpoint, so a file is never counted twice.
    pub import: bool,
}

/// Starts the engine, the sources and (unless one-shot) the server.
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
        insecure,
        tree,
        config,
        import,
    } = mode;
    // File descriptors: a reserve for files, plugins and state; the rest shared by the HTTP
    // side and the socket, so that a flood on one leaves the tailer and the other working.
    let fds = server::fd_budget(FD_RESERVE);
    let limits = cfg.store.limits();
    let rules = Rules::new(cfg, &limits)?;
    let plugins = Arc::new(crate::plugin_host::factory::host_for(
        cfg.plugin_dir.clone(),
        Some(cfg),
    ));
    if let Some(problem) = plugins.problem() {
        tracing::warn!("plugins: {problem}");
    }
    let parsers = crate::plugin_host::factory::parsers(cfg, &plugins)?;
    let mut sections = sections;
    if plugins.dir().is_some() {
        if !one_shot {
            plugins.watch();
        }
        sections.push(plugins.clone());
    }
    let mut store = Store::new(limits);
    let state = if no_state || one_shot {
        None
    } else {
        let dir = cfg.state_dir.clone().unwrap_or_else(default_state_dir);
        Some(StateDir::open(&dir)?)
    };
    let token = if one_shot {
        None
    } else {
        Some(server::auth::load(
            cfg.server.token.as_deref(),
            state.as_ref(),
        )?)
    };
    let mut checkpoint = match &state {
        Some(s) => s.load()?,
        None => Default::default(),
    };
    // History: opened before the engine, and its checkpoint (committed with the deltas it
    // includes) is the one to resume from.
    let history_dir = match (&state, &cfg.history.dir) {
        _ if !cfg.history.enabled => None,
        (Some(_), Some(d)) => Some(d.clone()),
        (Some(s), None) => Some(s.dir().join("history")),
        (None, Some(d)) if import => Some(d.clone()),
        (None, None) if import => {
            let dir = cfg.state_dir.clone().unwrap_or_else(default_state_dir);
            Some(StateDir::open(&dir)?.dir().join("history"))
        }
        (None, _) => None,
    };
    if import && history_dir.is_none() {
        anyhow::bail!("import writes into history: it cannot be turned off ([history] enabled = false, --no-history)");
    }
    let history = match history_dir {
        Some(dir) => {
            let (w, reader, cp) =
                crate::history::writer::Writer::open(&dir, &cfg.history, limits.bucket_secs)
                    .with_context(|| format!("opening history in {}", dir.display()))?;
            if let Some(cp) = cp {
                checkpoint = wiring::resume_from_history(cp, checkpoint);
            }
            sections.push(Arc::new(crate::history::health::HistorySection(
                w.shared().clone(),
            )));
            Some((w, Arc::new(reader)))
        }
        _ => None,
    };
    restore_counters(&mut store, &checkpoint.counters);
    // The tailer owns the checkpoint (offsets of every file it opens); the engine acknowledges
    // what it applied, with the counter totals that include it.
    let checkpoints = Checkpoints::new(state, checkpoint);
    let health = SourcesHealth::shared();
    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
    let tcfg = TailConfig {
        sources: cfg
            .sources
            .iter()
            .map(|s| TailSource {
                name: Arc::from(s.label()),
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
    let socket_stats = Arc::new(SocketStats::default());
    // The log viewer's rings: only for a daemon someone can look at.
    let (logs, logs_rx) = if one_shot || cfg.logs.lines_per_source == 0 {
        (None, None)
    } else {
        let (tx, rx) = tokio::sync::watch::channel(Arc::default());
        (Some((crate::logs::LogRing::new(cfg.logs), tx)), Some(rx))
    };
    let mut checkpoint_interval = cfg.tail.checkpoint_interval.0;
    let mut alert_events = None;
    let (ship, writer, reader) = match history {
        Some((mut w, reader)) => {
            alert_events = Some(w.event_sink());
            let (stx, srx) = mpsc::channel(SHIP_QUEUE);
            let h = crate::history::spawn(w, srx, checkpoints.clone())
                .context("starting the history writer")?;
            checkpoint_interval = cfg
                .history
                .flush
                .0
                .max(std::time::Duration::from_millis(100));
            (Some(stx), Some(h), Some(reader))
        }
        None => (None, None, None),
    };
    let ecfg = EngineConfig {
        parsers,
        rules,
        store,
        checkpoints: checkpoints.clone(),
        checkpoint_interval,
        publish_pace: server::pace(cfg.server.interval.0),
        health: health.clone(),
        socket: socket_stats.clone(),
        history: ship,
        logs,
        times: cfg
            .sources
            .iter()
            .filter_map(|s| Some((Arc::from(s.label()), s.time_spec().ok()?)))
            .collect(),
        future_skew: cfg.store.future_skew.0.as_secs_f64(),
        record_timeout: cfg.tail.record_timeout.0,
    };
    let (engine, published) = engine::spawn(ecfg, rx).context("starting the engine")?;
    let tailer = tail::spawn(tcfg, tx.clone(), health.clone(), checkpoints)
        .context("starting the tailer")?;
    let socket = if one_shot || no_socket {
        None
    } else {
        let explicit = cfg.socket.is_some();
        let scfg = SocketConfig {
            path: cfg.socket.clone().unwrap_or_else(default_socket_path),
            max_connections: cfg.apps.max_connections.min(fds as usize / 2).max(8),
            memory_budget: cfg.apps.memory_budget.max(64 << 10),
            frame_timeout: cfg
                .apps
                .frame_timeout
                .0
                .max(std::time::Duration::from_millis(100)),
            ..SocketConfig::default()
        };
        match socket::spawn(scfg.clone(), tx.clone(), socket_stats.clone()) {
            Ok(h) => {
                sections.push(Arc::new(SocketSection(socket_stats)));
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
    let otlp = if one_shot {
        None
    } else {
        let token = token.as_ref().map(|t| t.secret.clone());
        let token = token.filter(|_| !(insecure || cfg.server.insecure));
        wiring::otlp(&cfg.otlp, tx.clone(), fds, token, &mut sections).await?
    };
    let samplers = if one_shot {
        None
    } else {
        let patterns = cfg
            .sample
            .processes
            .iter()
            .map(|p| regex::Regex::new(p).with_context(|| format!("[sample] processes: `{p}`")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let scfg = SampleConfig {
            interval: cfg
                .sample
                .interval
                .0
                .max(std::time::Duration::from_millis(100)),
            host: cfg.sample.host,
            procs: ProcSelect {
                pids: cfg.sample.pids.clone(),
                patterns,
                tree,
            },
            gpu: cfg.sample.gpu,
            nvml_library: cfg
                .sample
                .nvml_library
                .as_ref()
                .map(|p| p.clone().into_os_string()),
        };
        let h = Arc::new(SamplersHealth::default());
        sections.push(h.clone());
        Some(sample::spawn(scfg, tx.clone(), h).context("starting the samplers")?)
    };
    let mut running = Running {
        samplers,
        socket,
        otlp,
        addr: None,
        published: published.clone(),
        token: token.clone(),
        input: tx.clone(),
        sources: health.clone(),
        tailer: Some(tailer),
        engine: Some(engine),
        export: None,
        history: writer,
    };
    if one_shot {
        return Ok((running, None));
    }
    // Always there, so that a reload can add rules to a daemon started without any.
    let alerts =
        crate::alerts::Alerts::new(&cfg.alerts, cfg.alert_rules.clone(), cfg.notify.clone())?;
    if let Some(sink) = alert_events {
        alerts.store_in(sink);
    }
    sections.push(alerts.clone());
    sections.push(Arc::new(crate::alerts::PipelineSection(alerts.clone())));
    let dashboard = server::dashboard::Dashboard::new(cfg.dashboard.clone());
    let reloader = match (config, &running.tailer) {
        (Some(source), Some(t)) => {
            let r = reload::Reloader::new(
                source,
                cfg.clone(),
                tx.clone(),
                t.control(),
                alerts.clone(),
                plugins.clone(),
                dashboard.clone(),
            );
            sections.push(r.clone());
            Some(r)
        }
        _ => None,
    };
    let remote = crate::export::RemoteWrite::new(&cfg.remote_write)?;
    if let Some(r) = &remote {
        sections.push(r.section());
    }
    let app = AppState::new(published.clone(), health, sections, cfg.server.interval.0);
    if let Some(r) = remote {
        let a = app.clone();
        let render = Arc::new(move |s: &_, out: &mut String| server::write_exposition(&a, s, out));
        running.export = Some(r.spawn(published.clone(), render));
    }
    let _ = app.alerts.set(alerts.clone());
    let _ = app.dashboard.set(dashboard);
    if let Some(rx) = logs_rx {
        let _ = app.logs.set(rx);
    }
    if let Some(reader) = reader {
        let _ = app.history.set(reader);
    }
    let host: std::net::IpAddr = cfg
        .server
        .host
        .parse()
        .with_context(|| format!("invalid --host `{}`", cfg.server.host))?;
    let sc = &cfg.server;
    let insecure = insecure || sc.insecure;
    if !host.is_loopback() {
        if insecure {
            tracing::warn!("INSECURE: bound to {host}, beyond loopback, and serving every KPI, path and app name to anyone who can reach it without a token (--insecure)");
        } else {
            tracing::warn!("bound to {host}, beyond loopback: every request needs the API token");
        }
    }
    let max_connections = sc.max_connections.min(fds as usize / 2).max(8);
    if max_connections < sc.max_connections {
        tracing::info!("open-file limit: at most {max_connections} http connections");
    }
    let opts = server::Options {
        allowed_hosts: sc.allowed_hosts.clone(),
        token: token.expect("a server has a token").secret,
        insecure,
        limits: server::Limits {
            max_connections,
            per_peer: sc.max_connections_per_peer.max(1),
            header_timeout: sc
                .header_timeout
                .0
                .max(std::time::Duration::from_millis(100)),
            idle_timeout: sc.idle_timeout.0.max(std::time::Duration::from_millis(100)),
            max_header_bytes: sc.max_header_bytes,
        },
        max_uri: sc.max_uri_bytes,
        max_body: sc.max_body_bytes,
    };
    let (addr, server) = server::bind(app, SocketAddr::new(host, cfg.server.port), opts, shutdown)
        .await
        .with_context(|| format!("cannot listen on {}:{}", cfg.server.host, cfg.server.port))?;
    running.addr = Some(addr);
    let _ = alerts.external_url.set(format!("http://{addr}"));
    tokio::spawn(alerts.run(published));
    if let Some(r) = reloader {
        watch::spawn(r).context("watching the config file")?;
    }
    Ok((running, Some(server)))
}

impl Running {
    /// Stops the sources and waits for the engine to apply what it has, publish and
    /// acknowledge it (the tailer's last checkpoint). Connected apps are cut off: the engine
    /// ends once no source can send it anything.
    pub fn stop(mut self) {
        // Dropping the socket handle stops accepting apps and removes the socket file.
        self.socket.take();
        self.otlp.take();
        self.samplers.take();
        if let Some(t) = self.tailer.take() {
            t.stop();
        }
        if let Some(e) = self.engine.take() {
            e.stop();
        }
        // The engine published its last snapshot: remote-write sends it and its queue.
        if let Some(x) = self.export.take() {
            x.wait();
        }
        // The engine has sent its last shipment: the writer commits it and ends.
        if let Some(h) = self.history.take() {
            h.join();
        }
    }

    /// The socket apps connect to, when one is open.
    pub fn socket_path(&self) -> Option<&std::path::Path> {
        self.socket.as_ref().map(|s| s.path())
    }

    /// The address of the OTLP/HTTP receiver, when it listens.
    pub fn otlp_addr(&self) -> Option<SocketAddr> {
        self.otlp.as_ref().map(|o| o.addr())
    }

    /// One-shot: waits until every file was read and applied, then returns the exposition.
    pub fn finish_one_shot(mut self) -> String {
        if let Some(t) = self.tailer.take() {
            t.wait();
        }
        if let Some(e) = self.engine.take() {
            e.stop();
        }
        let mut out = String::new();
        prom::prometheus(&self.published.borrow(), &mut out);
        out
    }
}

/// What `kpid import` read and wrote.
#[derive(Debug)]
pub struct ImportSummary {
    /// Each file as the tailer left it (lines, parse errors, where it stopped).
    pub files: Vec<crate::sources::FileHealth>,
    /// What event time did with the lines' times.
    pub event_time: crate::kpi::EventTimeStats,
    /// What the store refused, folded or could not ship.
    pub drops: crate::kpi::StoreDrops,
    /// Points history received.
    pub points: u64,
    /// The history database.
    pub path: std::path::PathBuf,
    /// What history dropped (size cap, write errors), if anything.
    pub dropped: u64,
    /// The last error history met, if any.
    pub error: Option<String>,
}

impl Running {
    /// Import: waits until every file was read, applied and committed to history.
    pub fn finish_import(mut self) -> anyhow::Result<ImportSummary> {
        use crate::health::HealthSection;
        let shared = self
            .history
            .as_ref()
            .map(|h| h.shared.clone())
            .context("import without history")?;
        if let Some(t) = self.tailer.take() {
            t.wait();
        }
        if let Some(e) = self.engine.take() {
            e.stop();
        }
        if let Some(h) = self.history.take() {
            h.join();
        }
        let section = crate::history::health::HistorySection(shared.clone());
        let points = shared
            .stats
            .points
            .load(std::sync::atomic::Ordering::Relaxed);
        let error = shared.stats.last_error.lock().clone();
        let files = self.sources.files.lock().clone();
        let (event_time, drops) = {
            let p = self.published.borrow();
            (p.event_time, p.drops)
        };
        Ok(ImportSummary {
            files,
            event_time,
            drops,
            points,
            path: shared.path.clone(),
            dropped: section.losses(),
            error,
        })
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed at the call, not at the
/// first poll: a signal that comes between start-up and the server's first poll (a test or a
/// supervisor stopping kpid as soon as it printed its address) still shuts down cleanly
/// rather than killing the process with its socket file left behind (regression: the
/// socket-resilience test's "removed on clean shutdown" failed under load). Must be called
/// inside a tokio runtime.
pub fn signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = wait(int) => {},
            _ = wait(term) => {},
        }
    }
}

/// `$XDG_STATE_HOME/kpid`, else `~/.local/state/kpid`, else `./state`.
fn default_state_dir() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(x) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(x).join("kpid");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/kpid"),
        None => PathBuf::from("state"),
    }
}

//! The web server: REST (`/api/*`), the WebSocket stream (`/ws/metrics`), the Prometheus
//! exposition (`/metrics`) and the embedded dashboard (`/`), from one warp server.
//!
//! Subsystems that have something to show in `/api/health` (the socket source, plugins, ...)
//! implement [`HealthSection`](crate::health::HealthSection) and are handed to [`AppState`].

mod alerts;
pub(crate) mod api;
mod assets;
pub mod auth;
mod conn;
mod counters;
pub mod dashboard;
mod dcgm;
mod export;
mod flow;
pub(crate) mod guard;
mod health;
mod history;
pub(crate) mod layout;
mod listen;
mod logs;
mod prom;
mod report;
mod traces;
mod ws;
mod ws_logs;

pub use counters::HttpCounters;
pub(crate) use guard::Guard;
pub use health::health_json;
pub(crate) use listen::serve as serve_service;
pub use listen::{fd_budget, Limits};
pub(crate) use prom::write_exposition;

use crate::health::HealthSection;
pub use ws::pace;

use crate::engine::Published;
use crate::kpi::Snapshot;
use crate::sources::SourcesHealth;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant};
use warp::Filter;

/// WebSocket counters.
#[derive(Debug, Default)]
pub struct WsStats {
    /// Connected clients.
    pub clients: AtomicU64,
    /// Clients disconnected because they could not keep up.
    pub dropped: AtomicU64,
    /// Frames sent.
    pub frames: AtomicU64,
}

/// What every handler shares. Nothing here locks the KPI store: handlers read the latest
/// snapshot the engine published.
pub struct AppState {
    /// What the engine publishes.
    pub published: Published,
    /// Followed files.
    pub sources: Arc<SourcesHealth>,
    /// Extra health sections.
    pub sections: Vec<Arc<dyn HealthSection>>,
    /// Start time.
    pub started: Instant,
    /// Most frequent WebSocket push.
    pub interval: Duration,
    /// WebSocket counters.
    pub ws: WsStats,
    /// HTTP counters: refusals, timeouts, connections.
    pub http: Arc<HttpCounters>,
    /// The alerting subsystem, when rules or channels are configured.
    pub alerts: std::sync::OnceLock<Arc<crate::alerts::Alerts>>,
    /// The recent lines of every source, as the engine publishes them (when kept).
    pub logs: std::sync::OnceLock<tokio::sync::watch::Receiver<Arc<crate::logs::LogsSnapshot>>>,
    /// History, when it is kept: `/api/metrics/history` and `/api/export` read it.
    pub history: std::sync::OnceLock<Arc<crate::history::Reader>>,
    /// The `[dashboard]` section in force (the default layout without one).
    pub dashboard: std::sync::OnceLock<Arc<dashboard::Dashboard>>,
    pub(crate) hub: ws::Hub,
    pub(crate) warn: parking_lot::Mutex<health::WarnTracker>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// A new state.
    pub fn new(
        published: Published,
        sources: Arc<SourcesHealth>,
        sections: Vec<Arc<dyn HealthSection>>,
        interval: Duration,
    ) -> Arc<Self> {
        Arc::new(AppState {
            published,
            sources,
            sections,
            started: Instant::now(),
            interval,
            ws: WsStats::default(),
            http: Arc::default(),
            alerts: Default::default(),
            logs: Default::default(),
            history: Default::default(),
            dashboard: Default::default(),
            hub: ws::Hub::default(),
            warn: Default::default(),
        })
    }
}

impl AppState {
    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.published.borrow().clone()
    }

    /// Where each KPI of `snap` sits on the dashboard.
    pub(crate) fn layout(&self, snap: &Snapshot) -> layout::Layout {
        let cfg = self.dashboard.get().map(|d| d.get()).unwrap_or_default();
        layout::Layout::build(snap.kpis.iter().map(|k| &*k.desc), &cfg)
    }

    /// The revision of the `[dashboard]` section in force.
    pub(crate) fn dashboard_rev(&self) -> u64 {
        self.dashboard.get().map_or(0, |d| d.rev())
    }
}

/// Longest request body accepted (no endpoint takes a body yet; WebSocket messages are capped
/// separately).
pub const MAX_WS_MESSAGE: usize = 64 * 1024;

fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn warp::Reply>,)> {
    history::routes(state.clone())
        .or(report::route(state.clone()))
        .unify()
        .or(api::routes(state.clone()))
        .unify()
        .or(alerts::routes(state.clone()))
        .unify()
        .or(logs::routes(state.clone()))
        .unify()
        .or(flow::route(state.clone()))
        .unify()
        .or(traces::routes(state.clone()))
        .unify()
        .or(prom::route(state.clone()))
        .unify()
        .or(ws::route(state.clone()))
        .unify()
        .or(ws_logs::route(state.clone()))
        .unify()
        .or(assets::routes())
        .unify()
        .boxed()
}

/// How the server guards itself (from `[server]`).
#[derive(Debug, Clone)]
pub struct Options {
    /// Names a request's `Host` may use besides the local ones.
    pub allowed_hosts: Vec<String>,
    /// The API token.
    pub token: Arc<str>,
    /// Bound beyond loopback, serve reads without the token.
    pub insecure: bool,
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// Longest request target.
    pub max_uri: usize,
    /// Largest request body.
    pub max_body: u64,
}

/// Binds `addr` and serves until `shutdown` resolves. Returns the bound address (useful with
/// port 0) and the server future.
pub async fn bind(
    state: Arc<AppState>,
    addr: SocketAddr,
    opts: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(ws::broadcaster(state.clone()));
    let token_for_all = !local.ip().is_loopback() && !opts.insecure;
    let guard = guard::Guard::new(
        local,
        &opts.allowed_hosts,
        opts.token.clone(),
        token_for_all,
        (opts.max_uri, opts.max_body),
    );
    let checked = {
        let state = state.clone();
        let query = warp::query::raw().or(warp::any().map(String::new)).unify();
        warp::header::optional::<String>("host")
            .and(warp::header::optional::<String>("origin"))
            .and(warp::header::optional::<String>("upgrade"))
            .and(warp::header::optional::<String>("authorization"))
            .and(warp::header::optional::<u64>("content-length"))
            .and(warp::method())
            .and(warp::path::full())
            .and(query)
            .and_then(
                move |host: Option<String>,
                      origin: Option<String>,
                      upgrade: Option<String>,
                      authorization: Option<String>,
                      content_length: Option<u64>,
                      method: warp::http::Method,
                      path: warp::path::FullPath,
                      query: String| {
                    let head = guard::Head {
                        host: host.as_deref(),
                        origin: origin.as_deref(),
                        upgrade: upgrade.is_some(),
                        read_only: guard::read_only(&method),
                        authorization: authorization.as_deref(),
                        content_length,
                        path: path.as_str(),
                        query: &query,
                    };
                    let r = guard.check(&head, &state.http);
                    std::future::ready(r.map_err(warp::reject::custom))
                },
            )
            .untuple_one()
    };
    let app = checked
        .and(routes(state.clone()))
        .recover(|r: warp::Rejection| async move {
            match r.find::<guard::Refused>() {
                Some(guard::Refused(status, msg)) => {
                    let reply = api::error_reply(*status, msg.clone());
                    Ok(if *status == warp::http::StatusCode::UNAUTHORIZED {
                        Box::new(warp::reply::with_header(
                            reply,
                            "www-authenticate",
                            "Bearer realm=\"kpid\"",
                        )) as Box<dyn warp::Reply>
                    } else {
                        reply
                    })
                }
                None => Err(r),
            }
        });
    let service = warp::service(app);
    let server = listen::serve(listener, service, opts.limits, state.http.clone(), shutdown);
    Ok((local, server))
}

//! The web server: REST (`/api/*`), the WebSocket stream (`/ws/metrics`), the Prometheus
//! exposition (`/metrics`) and the embedded dashboard (`/`), from one warp server.
//!
//! Subsystems that have something to show in `/api/health` (the socket source, plugins, ...)
//! implement [`HealthSection`](crate::health::HealthSection) and are handed to [`AppState`].

pub(crate) mod api;
mod assets;
mod guard;
mod health;
mod prom;
mod ws;

pub(crate) use guard::Guard;
pub use guard::Refusals;
pub use health::health_json;

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
    /// Names a request's `Host` may use besides the local ones (`[server] allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// Requests refused for their `Host` or `Origin`.
    pub refusals: Refusals,
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
        allowed_hosts: Vec<String>,
    ) -> Arc<Self> {
        Arc::new(AppState {
            published,
            sources,
            sections,
            started: Instant::now(),
            interval,
            ws: WsStats::default(),
            allowed_hosts,
            refusals: Refusals::default(),
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
}

/// Longest request body accepted (no endpoint takes a body yet; WebSocket messages are capped
/// separately).
pub const MAX_WS_MESSAGE: usize = 64 * 1024;

fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn warp::Reply>,)> {
    api::routes(state.clone())
        .or(prom::route(state.clone()))
        .unify()
        .or(ws::route(state.clone()))
        .unify()
        .or(assets::routes())
        .unify()
        .boxed()
}

/// Binds `addr` and serves until `shutdown` resolves. Returns the bound address (useful with
/// port 0) and the server future.
pub async fn bind(
    state: Arc<AppState>,
    addr: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(ws::broadcaster(state.clone()));
    let guard = guard::Guard::new(local, &state.allowed_hosts);
    let checked = {
        let state = state.clone();
        warp::header::optional::<String>("host")
            .and(warp::header::optional::<String>("origin"))
            .and(warp::header::optional::<String>("upgrade"))
            .and(warp::method())
            .and_then(
                move |host: Option<String>,
                      origin: Option<String>,
                      upgrade: Option<String>,
                      method: warp::http::Method| {
                    // Origin is checked on WebSocket upgrades and on anything but GET/HEAD.
                    let checks_origin = upgrade.is_some()
                        || !(method == warp::http::Method::GET
                            || method == warp::http::Method::HEAD);
                    let r = guard.check(
                        host.as_deref(),
                        origin.as_deref(),
                        checks_origin,
                        &state.refusals,
                    );
                    std::future::ready(r.map_err(warp::reject::custom))
                },
            )
            .untuple_one()
    };
    let app = checked
        .and(routes(state))
        .recover(|r: warp::Rejection| async move {
            match r.find::<guard::Refused>() {
                Some(guard::Refused(status, msg)) => Ok(api::error_reply(*status, msg.clone())),
                None => Err(r),
            }
        });
    let server = warp::serve(app).incoming(listener).graceful(shutdown).run();
    Ok((local, server))
}

//! The web server: REST (`/api/*`), the WebSocket stream (`/ws/metrics`), the Prometheus
//! exposition (`/metrics`) and the embedded dashboard (`/`), from one warp server.
//!
//! Subsystems that have something to show in `/api/health` (the socket source, plugins, ...)
//! implement [`HealthSection`](crate::health::HealthSection) and are handed to [`AppState`].

mod api;
mod assets;
mod health;
mod prom;
mod ws;

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
    let server = warp::serve(routes(state))
        .incoming(listener)
        .graceful(shutdown)
        .run();
    Ok((local, server))
}

//! `kpid demo`: a simulated inference pipeline writing `logs/pipeline.log` and reporting its
//! spans through kpid-layer over `logs/kpid.sock`, and kpid following it with the rules in
//! `demo.toml`, dashboard on http://127.0.0.1:8050.

use super::DemoArgs;
use crate::config::{Config, Dur, SourceConfig};
use crate::daemon;
use crate::demo::{simulator, spans, DEMO_TOML};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)?;
    let log = args.dir.join("pipeline.log");
    let mut cfg = Config::parse(Path::new("demo.toml"), DEMO_TOML)?;
    cfg.server.host = args.host.clone();
    cfg.server.port = args.port;
    cfg.server.interval = Dur(args.interval);
    cfg.tail.from_start = true;
    cfg.sources.push(SourceConfig {
        name: Some("pipeline".into()),
        path: log.to_string_lossy().into_owned(),
        parser: "auto".into(),
        pattern: None,
        options: String::new(),
    });
    cfg.socket = Some(args.dir.join("kpid.sock"));
    cfg.resolve()?;
    // A fresh log each run: the demo shows live data, not a replay.
    let _ = std::fs::remove_file(&log);
    let stop = Arc::new(AtomicBool::new(false));
    let sim = {
        let (stop, log) = (stop.clone(), log.clone());
        std::thread::Builder::new()
            .name("demo-pipeline".into())
            .spawn(move || simulator::run(&log, &stop))?
    };
    let (running, server) = daemon::start(
        &cfg,
        daemon::Mode {
            no_state: true,
            ..Default::default()
        },
        Vec::new(),
        daemon::signal(),
    )
    .await?;
    // The same pipeline, instrumented with kpid-layer: its spans arrive over the socket. It
    // starts once the socket is there, so that it has nothing to drop while kpid comes up.
    let spans_thread = {
        let stop = stop.clone();
        let sock = cfg.socket.clone().expect("demo socket set above");
        std::thread::Builder::new()
            .name("demo-spans".into())
            .spawn(move || spans::run(sock, stop))?
    };
    if let Some(a) = running.addr {
        println!("kpid demo: simulated pipeline writing {}", log.display());
        println!("kpid demo: dashboard on http://{a}/  (Ctrl-C to stop)");
    }
    if let Some(server) = server {
        server.await;
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sim.join();
    let _ = spans_thread.join();
    tokio::task::spawn_blocking(move || running.stop()).await?;
    Ok(())
}

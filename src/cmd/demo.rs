//! `kpid demo`: a simulated inference pipeline writing `logs/pipeline.log` and reporting its
//! spans through kpid-layer over `logs/kpid.sock`, run under kpid as `kpid run` runs a real
//! one (its processes sampled beside the host), and kpid following it with the rules in
//! `demo.toml`, dashboard on http://127.0.0.1:8050.

use super::supervise::supervise;
use super::{DemoArgs, DemoPipelineArgs};
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
        start: None,
        options: String::new(),
        timestamp: None,
        timezone: None,
        fields: Default::default(),
    });
    cfg.socket = Some(args.dir.join("kpid.sock"));
    // History (and the token) beside the log: the range picker and reports have something to
    // read, across demo runs too.
    cfg.state_dir = Some(args.dir.join("state"));
    if let Some(url) = &args.webhook {
        cfg.notify.push(webhook(url)?);
    }
    cfg.resolve()?;
    // A fresh log each run: the demo shows live data, not a replay.
    let _ = std::fs::remove_file(&log);
    // The simulated pipeline is a process of its own run under kpid, as `kpid run` runs a
    // real one: its processes are sampled beside the host, and its spans reach kpid through
    // the socket named in its environment.
    let exe = std::env::current_exe()?;
    let command = vec![
        exe.to_string_lossy().into_owned(),
        "demo-pipeline".into(),
        "--log".into(),
        log.to_string_lossy().into_owned(),
    ];
    let mode = daemon::Mode::default();
    let announce = |a: std::net::SocketAddr, _: Option<&crate::server::auth::Token>| {
        println!("kpid demo: simulated pipeline writing {}", log.display());
        println!("kpid demo: dashboard on http://{a}/  (Ctrl-C to stop)");
    };
    supervise(&cfg, mode, &command, false, announce).await?;
    Ok(())
}

/// The `[[notify]]` table of `--webhook URL`, checked as the config's are.
fn webhook(url: &str) -> anyhow::Result<crate::alerts::NotifyConfig> {
    let mut table = toml::Table::new();
    table.insert("kind".into(), "webhook".into());
    table.insert("name".into(), "webhook".into());
    table.insert("url".into(), url.into());
    let c: crate::alerts::NotifyConfig = table.try_into()?;
    crate::alerts::rules::validate(&[], std::slice::from_ref(&c))
        .map_err(|e| anyhow::anyhow!("--webhook: {e}"))?;
    Ok(c)
}

/// `kpid demo-pipeline --log PATH`: the simulated pipeline itself, run by `kpid demo`. It
/// writes its log and reports its spans to `$KPID_SOCKET` until SIGINT or SIGTERM, and ends
/// with kpid if kpid is killed.
pub async fn pipeline(args: DemoPipelineArgs) -> anyhow::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG and a valid signal number has no other effect.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    let stop = Arc::new(AtomicBool::new(false));
    let sim = {
        let (stop, log) = (stop.clone(), args.log.clone());
        std::thread::Builder::new()
            .name("demo-pipeline".into())
            .spawn(move || simulator::run(&log, &stop))?
    };
    let spans_thread = {
        let stop = stop.clone();
        let sock = kpid_wire::default_socket_path();
        std::thread::Builder::new()
            .name("demo-spans".into())
            .spawn(move || spans::run(sock, stop))?
    };
    daemon::signal().await;
    stop.store(true, Ordering::Relaxed);
    let _ = sim.join();
    let _ = spans_thread.join();
    Ok(())
}

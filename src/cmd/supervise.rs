//! `kpid run [options] -- CMD ARGS...`: kpid and the pipeline in one command. The daemon
//! starts first (dashboard, socket, samplers), then the pipeline, in a process group of its
//! own, with `KPID_SOCKET` in its environment so the tracing layer and the Python client
//! connect with no configuration (and `OTEL_EXPORTER_OTLP_ENDPOINT`, unless set, so that
//! OpenTelemetry SDKs export to kpid's OTLP receiver). Its stdout and stderr still reach the terminal and are
//! also sources (`stdout`, `stderr`: the same parsers and rules as files); its process tree
//! is sampled. SIGINT, SIGTERM and SIGHUP are forwarded to its group; kpid exits with its
//! exit code (128+N when a signal N ended it), or stays up with `--keep` until stopped.

use super::run::{config_from, token_line};
use super::SuperviseArgs;
use crate::config::Config;
use crate::daemon::{self, Mode};
use crate::sources::pipe;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

/// Longest wait for the child's pipes to drain once it has exited (a grandchild may still
/// hold them open).
const DRAIN: Duration = Duration::from_secs(2);

/// Exit code of a child that could not be started (as a shell says for "not found").
const NOT_STARTED: i32 = 127;

fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// `kpid run`: returns the exit code kpid should end with.
pub async fn run(args: SuperviseArgs) -> anyhow::Result<i32> {
    let cfg = config_from(&args.run)?;
    let mode = Mode {
        no_state: args.run.no_state,
        no_socket: args.run.no_socket,
        insecure: args.run.insecure,
        ..Mode::default()
    };
    let announce = |a: std::net::SocketAddr, t: Option<&crate::server::auth::Token>| {
        // On stderr: the pipeline's stdout stays the pipeline's.
        let mut out = format!("kpid listening on http://{a}/\n");
        if let Some(t) = t {
            out += &token_line(a, t);
            out.push('\n');
        }
        eprint!("{out}");
    };
    supervise(&cfg, mode, &args.command, args.keep, announce).await
}

/// Starts the daemon as `cfg` and `mode` say, then `command` under it (see the module doc);
/// `announce` is told the address once the server listens. Returns the exit code.
pub(super) async fn supervise(
    cfg: &Config,
    mut mode: Mode,
    command: &[String],
    keep: bool,
    announce: impl FnOnce(std::net::SocketAddr, Option<&crate::server::auth::Token>),
) -> anyhow::Result<i32> {
    let follow = Arc::new(AtomicU32::new(0));
    mode.tree = Some(follow.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stop_rx.await;
    };
    let (running, server) = daemon::start(cfg, mode, Vec::new(), shutdown).await?;
    let server = tokio::spawn(server.expect("a daemon with a server"));
    if let Some(a) = running.addr {
        announce(a, running.token.as_ref());
    }
    let (prog, rest) = command.split_first().expect("clap requires the command");
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(rest)
        .process_group(0)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = running.socket_path() {
        cmd.env(kpid_wire::SOCKET_ENV, p);
    }
    if let Some(a) = running.otlp_addr() {
        // What every OpenTelemetry SDK reads, unless the user chose their own.
        if std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
            cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{a}"));
            if std::env::var_os("OTEL_EXPORTER_OTLP_PROTOCOL").is_none() {
                cmd.env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
            }
        }
    }
    let code = match cmd.spawn() {
        Err(e) => {
            eprintln!("kpid: cannot start `{prog}`: {e}");
            NOT_STARTED
        }
        Ok(mut child) => {
            let pid = child.id().unwrap_or(0);
            follow.store(pid, Ordering::Relaxed);
            let max = cfg.tail.max_line_bytes;
            let pipes = [
                tee(
                    &running,
                    child.stdout.take(),
                    tokio::io::stdout(),
                    "stdout",
                    prog,
                    pid,
                    max,
                ),
                tee(
                    &running,
                    child.stderr.take(),
                    tokio::io::stderr(),
                    "stderr",
                    prog,
                    pid,
                    max,
                ),
            ];
            let status = wait_forwarding(&mut child, pid).await;
            let _ = tokio::time::timeout(DRAIN, async {
                for p in pipes.into_iter().flatten() {
                    let _ = p.await;
                }
            })
            .await;
            exit_code(status?)
        }
    };
    if keep {
        eprintln!("kpid: the pipeline exited with {code}; the dashboard stays up (Ctrl-C to stop)");
        daemon::signal().await;
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    tokio::task::spawn_blocking(move || running.stop()).await?;
    Ok(code)
}

/// Follows one of the child's pipes as source `name` (see [`pipe::follow`]).
fn tee<R, W>(
    running: &daemon::Running,
    from: Option<R>,
    to: W,
    name: &'static str,
    prog: &str,
    pid: u32,
    max_line: usize,
) -> Option<tokio::task::JoinHandle<()>>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, health) = (running.input.clone(), running.sources.clone());
    let path = format!("{name} of {prog} (pid {pid})");
    Some(tokio::spawn(pipe::follow(
        from?, to, name, path, max_line, tx, health,
    )))
}

/// Waits for the child, forwarding SIGINT, SIGTERM and SIGHUP to its process group.
async fn wait_forwarding(
    child: &mut tokio::process::Child,
    pid: u32,
) -> std::io::Result<std::process::ExitStatus> {
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        let sig = tokio::select! {
            st = child.wait() => return st,
            _ = int.recv() => libc::SIGINT,
            _ = term.recv() => libc::SIGTERM,
            _ = hup.recv() => libc::SIGHUP,
        };
        // SAFETY: kill on the process group we created for our own child.
        unsafe { libc::kill(-(pid as i32), sig) };
    }
}

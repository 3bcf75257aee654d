//! `kpid report`: the HTML report of a window, to stdout: `kpid report --from
//! 2026-11-29T00:00:00Z --to 2026-11-30T00:00:00Z > day.html`. It asks a running kpid
//! (`GET /report`), or with `--data-dir` / `--state-dir` reads the history files itself, with
//! or without a kpid running.

use anyhow::{bail, Context};
use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Options of `kpid report`.
#[derive(Debug, Args, Clone)]
pub struct ReportArgs {
    /// The running kpid (its dashboard address).
    #[arg(long, default_value = "127.0.0.1:8050", value_name = "HOST:PORT")]
    pub addr: String,
    /// Window start: Unix seconds or RFC 3339 [default: an hour before --to].
    #[arg(long)]
    pub from: Option<String>,
    /// Window end: Unix seconds or RFC 3339 [default: now].
    #[arg(long)]
    pub to: Option<String>,
    /// Chart step in seconds [default: about 600 points over the window].
    #[arg(long)]
    pub step: Option<u32>,
    /// Heading of the report.
    #[arg(long, default_value = "kpid report")]
    pub title: String,
    /// The API token, when kpid is bound beyond loopback (else `$KPID_TOKEN`).
    #[arg(long)]
    pub token: Option<String>,
    /// Read this history directory instead of asking a running kpid.
    #[arg(long, conflicts_with_all = ["addr", "token"])]
    pub data_dir: Option<std::path::PathBuf>,
    /// Read the history of this state directory (its `history/`) instead of asking a running
    /// kpid.
    #[arg(long, conflicts_with_all = ["addr", "token", "data_dir"])]
    pub state_dir: Option<std::path::PathBuf>,
    /// Config whose `[history]` tiers and `[store] bucket` wrote that history (offline).
    #[arg(long, short = 'c')]
    pub config: Option<std::path::PathBuf>,
}

/// Builds the report from the history files (`--data-dir`, `--state-dir`).
fn offline(a: &ReportArgs, dir: &std::path::Path) -> anyhow::Result<String> {
    let cfg = match &a.config {
        Some(p) => crate::config::Config::load(p)?,
        None => crate::config::Config::default(),
    };
    let bucket = cfg.store.limits().bucket_secs;
    let reader = crate::history::Reader::open(dir, &cfg.history, bucket)
        .with_context(|| format!("reading history in {}", dir.display()))?;
    let time = |name: &str, v: &Option<String>| -> anyhow::Result<Option<f64>> {
        v.as_deref()
            .map(|v| {
                crate::kpi::time_param(v).with_context(|| {
                    format!("--{name} `{v}` is not a time (Unix seconds or RFC 3339)")
                })
            })
            .transpose()
    };
    let to = time("to", &a.to)?.unwrap_or_else(crate::kpi::now).ceil() as i64;
    let from = time("from", &a.from)?.map_or(to - 3600, |f| f.floor() as i64);
    if from >= to {
        bail!("--from must be before --to");
    }
    let r = crate::report::build::build(&reader, from, to, a.step.unwrap_or(0).into(), &a.title)?;
    Ok(crate::report::html(&r))
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Fetches (or builds) the report and writes it to stdout.
pub async fn run(a: &ReportArgs) -> anyhow::Result<()> {
    let dir = a
        .data_dir
        .clone()
        .or_else(|| a.state_dir.as_ref().map(|s| s.join("history")));
    if let Some(dir) = dir {
        let a = a.clone();
        let html = tokio::task::spawn_blocking(move || offline(&a, &dir)).await??;
        let mut out = tokio::io::stdout();
        out.write_all(html.as_bytes()).await?;
        out.flush().await?;
        return Ok(());
    }
    let mut q = vec![format!("title={}", enc(&a.title))];
    for (k, v) in [("from", &a.from), ("to", &a.to)] {
        if let Some(v) = v {
            q.push(format!("{k}={}", enc(v)));
        }
    }
    if let Some(s) = a.step {
        q.push(format!("step={s}"));
    }
    let token = a.token.clone().or_else(|| std::env::var("KPID_TOKEN").ok());
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let mut s = tokio::net::TcpStream::connect(&a.addr)
        .await
        .with_context(|| format!("connecting to kpid at {} (is it running? --addr)", a.addr))?;
    let req = format!(
        "GET /report?{} HTTP/1.0\r\nHost: {}\r\n{auth}\r\n",
        q.join("&"),
        a.addr
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = Vec::new();
    s.take(512 << 20).read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("kpid's answer has no header")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = &raw[split + 4..];
    if status != 200 {
        bail!(
            "kpid at {} answered {status}: {}",
            a.addr,
            String::from_utf8_lossy(body).trim()
        );
    }
    let mut out = tokio::io::stdout();
    out.write_all(body).await?;
    out.flush().await?;
    Ok(())
}

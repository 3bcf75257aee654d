//! The commands, and every command-line argument in one place: `kpid` (run the daemon),
//! `kpid check`, `kpid demo`, `kpid import`, `kpid parse`, `kpid plugins`, `kpid report`,
//! `kpid run`.

mod check;
mod demo;
mod import;
mod parse;
mod plugins;
pub mod report;
mod run;
mod supervise;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub use check::check_to;
pub use parse::parse_to;
pub use plugins::list_to;
pub use run::config_from;

/// Runs the command line: a subcommand, or the daemon. Returns the exit code.
pub async fn main(cli: Cli) -> anyhow::Result<u8> {
    let done =
        match cli.cmd {
            Some(Cmd::Check(a)) => {
                return Ok(check_to(&a, std::io::stdout(), std::io::stderr()));
            }
            Some(Cmd::Demo(d)) => demo::run(d).await,
            Some(Cmd::Import(a)) => import::run(&a).await,
            Some(Cmd::DemoPipeline(a)) => demo::pipeline(a).await,
            Some(Cmd::Parse(a)) => parse::run(&a),
            Some(Cmd::Plugins(a)) => plugins::run(&a),
            Some(Cmd::Report(a)) => report::run(&a).await,
            Some(Cmd::Run(a)) => return Ok(supervise::run(a).await?.clamp(0, 255) as u8),
            Some(Cmd::PluginWorker(w)) => std::process::exit(
                crate::plugin_host::worker::child::run(&w.name, &w.options, w.memory_limit),
            ),
            None => run::run(cli.run).await,
        };
    done.map(|()| 0)
}

/// kpid: live KPIs from what your pipeline says about itself.
#[derive(Debug, Parser)]
#[command(name = "kpid", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Subcommand (none: run the daemon).
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    /// Daemon options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Check a config file as the daemon would (exit 1 with the reason when invalid).
    Check(CheckArgs),
    /// Run a simulated inference pipeline and kpid on its log, with the dashboard.
    Demo(DemoArgs),
    /// Read old logs into history at their own times, then exit (a file is counted once,
    /// however often it is imported).
    Import(import::ImportArgs),
    /// Print the record and KPI samples each line of stdin (or FILE) yields, then a summary.
    Parse(ParseArgs),
    /// List parser plugins with their ABI version, path and status.
    Plugins(PluginsArgs),
    /// Write the HTML report of a window, from a running kpid's history, to stdout.
    Report(report::ReportArgs),
    /// Run a pipeline under kpid: `kpid run [OPTIONS] -- CMD ARGS...` (its stdout and stderr
    /// become sources, its processes are sampled, kpid exits with its exit code).
    Run(SuperviseArgs),
    /// The demo's simulated pipeline (run by `kpid demo`).
    #[command(hide = true)]
    DemoPipeline(DemoPipelineArgs),
    /// Internal: a plugin's worker process, started by the daemon (docs/plugin-worker.md).
    #[command(hide = true)]
    PluginWorker(WorkerArgs),
}

/// Options of `kpid check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The config file.
    #[arg(value_name = "CONFIG")]
    pub config: PathBuf,
}

/// Options of the demo's simulated pipeline.
#[derive(Debug, Args, Clone)]
pub struct DemoPipelineArgs {
    /// Log file to write.
    #[arg(long)]
    pub log: PathBuf,
}

/// Options of `kpid run`.
#[derive(Debug, Args, Clone)]
pub struct SuperviseArgs {
    /// Daemon options.
    #[command(flatten)]
    pub run: RunArgs,
    /// Keep the dashboard up after the pipeline exits (until Ctrl-C).
    #[arg(long)]
    pub keep: bool,
    /// The pipeline's command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Options of the hidden `kpid plugin-worker` (set by the daemon, never by hand).
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// The plugin's name.
    #[arg(long)]
    pub name: String,
    /// The parser's options.
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub options: String,
    /// Address-space limit in bytes (0: none).
    #[arg(long, default_value_t = 0)]
    pub memory_limit: u64,
}

/// Options of the daemon.
#[derive(Debug, Args, Default, Clone)]
pub struct RunArgs {
    /// A log file or glob to follow (repeatable).
    #[arg(long = "log", value_name = "PATH")]
    pub logs: Vec<String>,
    /// Configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to bind [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Port [default: 8050; 0 picks a free one].
    #[arg(long)]
    pub port: Option<u16>,
    /// Most frequent WebSocket push, e.g. 1s, 250ms [default: 1s].
    #[arg(long, value_parser = crate::config::parse_duration)]
    pub interval: Option<std::time::Duration>,
    /// Where offsets and counter totals are kept [default: $XDG_STATE_HOME/kpid or ~/.local/state/kpid].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep no state (no checkpoint, no resume, no history).
    #[arg(long, conflicts_with = "state_dir")]
    pub no_state: bool,
    /// Where history (SQLite) is kept [default: the state directory's history/].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep no history (only the in-memory live window).
    #[arg(long, conflicts_with = "data_dir")]
    pub no_history: bool,
    /// Read files present at startup from the beginning (default: from the end).
    #[arg(long)]
    pub from_start: bool,
    /// Read every file to its end once, print the Prometheus exposition and exit.
    #[arg(long)]
    pub one_shot: bool,
    /// Longest line kept, in bytes [default: 65536].
    #[arg(long)]
    pub max_line_bytes: Option<usize>,
    /// Unix socket for instrumented apps [default: $KPID_SOCKET, else $XDG_RUNTIME_DIR/kpid/kpid.sock, else ./run/kpid.sock].
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Open no socket for instrumented apps.
    #[arg(long, conflicts_with = "socket")]
    pub no_socket: bool,
    /// Address of the OpenTelemetry (OTLP/HTTP) receiver [default: 127.0.0.1:4318].
    #[arg(long, value_name = "ADDR")]
    pub otlp: Option<String>,
    /// Receive no OpenTelemetry (OTLP/HTTP).
    #[arg(long, conflicts_with = "otlp")]
    pub no_otlp: bool,
    /// Directory to load parser plugins from (must be writable by its owner only).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Parser for `--log` files: auto, json, logfmt, plain [default: auto].
    #[arg(long, default_value = "auto")]
    pub parser: String,
    /// Push every KPI to this Prometheus remote-write receiver, e.g.
    /// http://prometheus:9090/api/v1/write (repeatable; see `[remote_write]` for the rest).
    #[arg(long = "remote-write", value_name = "URL")]
    pub remote_write: Vec<String>,
    /// Bound beyond loopback (--host), serve every read without the API token. Anyone who
    /// can reach the port then sees every KPI, file path and app name.
    #[arg(long)]
    pub insecure: bool,
}

/// Options of `kpid demo`.
#[derive(Debug, Args, Clone)]
pub struct DemoArgs {
    /// Port of the dashboard.
    #[arg(long, default_value_t = 8050)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Folder for the simulated pipeline's log.
    #[arg(long, default_value = "logs")]
    pub dir: PathBuf,
    /// Most frequent WebSocket push.
    #[arg(long, value_parser = crate::config::parse_duration, default_value = "1s")]
    pub interval: std::time::Duration,
    /// Also send the demo's alert notifications to this webhook (Alertmanager v4 payload,
    /// `http://` only).
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
}

/// Options of `kpid parse`.
#[derive(Debug, Clone, Default, Args)]
pub struct ParseArgs {
    /// Configuration file: its rules make the samples; its sources name parsers.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Parser: a built-in (auto, json, logfmt, regex, plain) or a plugin's name
    /// [default: the config source's parser, else auto].
    #[arg(long)]
    pub parser: Option<String>,
    /// Options string for a plugin parser.
    #[arg(long)]
    pub options: Option<String>,
    /// Pattern for the regex parser.
    #[arg(long)]
    pub pattern: Option<String>,
    /// Source name the samples are labelled with, or the config source to take the parser
    /// from [default: the config's first source, else `stdin`].
    #[arg(long)]
    pub source: Option<String>,
    /// Plugin directory [default: the config's `plugin_dir`].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Print only the summary.
    #[arg(long)]
    pub summary: bool,
    /// File to read [default: stdin].
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// Options of `kpid plugins`.
#[derive(Debug, Clone, Default, Args)]
pub struct PluginsArgs {
    /// Plugin directory [default: the config's `plugin_dir`].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Configuration file naming the plugin directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

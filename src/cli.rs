//! Command-line arguments.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

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
    /// Run a simulated inference pipeline and kpid on its log, with the dashboard.
    Demo(DemoArgs),
    /// Print the record and KPI samples each line of stdin (or FILE) yields, then a summary.
    Parse(crate::plugin_host::cli::ParseArgs),
    /// List parser plugins with their ABI version, path and status.
    Plugins(crate::plugin_host::cli::PluginsArgs),
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
    /// Keep no state (no checkpoint, no resume).
    #[arg(long, conflicts_with = "state_dir")]
    pub no_state: bool,
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
    /// Directory to load parser plugins from (must be writable by its owner only).
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Parser for `--log` files: auto, json, logfmt, plain [default: auto].
    #[arg(long, default_value = "auto")]
    pub parser: String,
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
}

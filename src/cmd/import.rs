//! `kpid import FILE...`: reads old logs into history at their own times, then exits. Each
//! line's KPIs land in the bucket of the line's timestamp (event time), so a report of
//! yesterday can be made from yesterday's log. History's checkpoint is resumed and committed
//! as by the daemon: a file imported twice, or imported and then followed, counts once.

use super::RunArgs;
use crate::config::{same_file_key, SourceConfig};
use crate::daemon::{self, Mode};
use anyhow::{bail, Context};
use clap::Args;
use std::path::PathBuf;

/// Options of `kpid import`.
#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// Log files (or glob patterns) to read from their start.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Config file: rules, parsers, `[history]`; its `[[source]]` for a file of the same
    /// path gives that file its parser.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Read every FILE as this `[[source]]` of the config (its name, parser, pattern,
    /// timestamp): `kpid import --source web access.log.1`.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// State directory (history goes to its `history/`, as the daemon's).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// History directory [default: STATE_DIR/history].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Parser of files the config does not name.
    #[arg(long, default_value = "auto")]
    pub parser: String,
}

/// Imports, then prints what was read and written.
pub async fn run(a: &ImportArgs) -> anyhow::Result<()> {
    let run = RunArgs {
        config: a.config.clone(),
        state_dir: a.state_dir.clone(),
        data_dir: a.data_dir.clone(),
        one_shot: true,
        no_socket: true,
        no_otlp: true,
        parser: a.parser.clone(),
        ..RunArgs::default()
    };
    let mut cfg = super::config_from(&run)?;
    let template = match &a.source {
        Some(name) => Some(
            cfg.sources
                .iter()
                .find(|s| s.label() == name.as_str())
                .cloned()
                .with_context(|| {
                    format!("--source {name}: the config has no [[source]] of that name")
                })?,
        ),
        None => None,
    };
    let configured = std::mem::take(&mut cfg.sources);
    for f in &a.files {
        let key = same_file_key(f);
        let src = match &template {
            Some(t) => SourceConfig {
                path: f.clone(),
                name: (a.files.len() == 1).then(|| t.label().into_owned()),
                ..t.clone()
            },
            None => match configured.iter().find(|s| same_file_key(&s.path) == key) {
                Some(s) => s.clone(),
                None => SourceConfig {
                    name: None,
                    path: f.clone(),
                    parser: a.parser.clone(),
                    pattern: None,
                    options: String::new(),
                    timestamp: None,
                    timezone: None,
                    fields: Default::default(),
                    start: None,
                },
            },
        };
        if cfg.sources.iter().any(|s| same_file_key(&s.path) == key) {
            continue;
        }
        cfg.sources.push(src);
    }
    cfg.resolve()?;
    if !cfg.history.enabled {
        bail!("import writes into history, which the config turns off ([history] enabled = false)");
    }
    let mode = Mode {
        one_shot: true,
        no_socket: true,
        import: true,
        ..Mode::default()
    };
    let (running, _) = daemon::start(&cfg, mode, Vec::new(), std::future::pending()).await?;
    let s = tokio::task::spawn_blocking(move || running.finish_import()).await??;
    let mut out = String::new();
    let (mut lines, mut errors) = (0, 0);
    for f in &s.files {
        lines += f.lines;
        errors += f.parse_errors;
        out += &format!(
            "{}: {} lines, {} unparsed{}\n",
            f.path,
            f.lines,
            f.parse_errors,
            f.last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    let et = s.event_time;
    out += &format!(
        "imported {lines} lines ({errors} unparsed) into {}: {} points; lines without a usable time took the import's time: {} (no format match {}, future {}, before 2000 {})\n",
        s.path.display(),
        s.points,
        et.unmatched_lines + et.future_records + et.implausible_records,
        et.unmatched_lines,
        et.future_records,
        et.implausible_records,
    );
    let d = s.drops;
    if d.total() > 0 {
        out += &format!(
            "refused or folded: {} label sets folded, {} series refused, {} kind conflicts, {} invalid values, {} buckets history never received\n",
            d.label_sets_folded, d.series_refused, d.kind_conflicts, d.invalid_values, d.history_unshipped
        );
    }
    print!("{out}");
    if s.dropped + d.history_unshipped > 0 {
        bail!(
            "history lost {} points or events during the import{}",
            s.dropped + d.history_unshipped,
            s.error.map(|e| format!(": {e}")).unwrap_or_default()
        );
    }
    Ok(())
}

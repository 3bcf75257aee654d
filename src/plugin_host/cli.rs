//! `kpid parse`, the test bench for a parser or a rule, and `kpid plugins`.
//!
//! `kpid parse` reads lines (stdin or a file), prints the record each yields and the KPI
//! samples the rules would produce from it, then a summary of lines and errors per parser.

use super::PluginHost;
use crate::config::{Config, SourceConfig};
use crate::engine::rules::Rules;
use crate::kpi::Obs;
use anyhow::Context;
use kpid_parsers::{Parser, ParserOptions, Record, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Options of `kpid parse`.
#[derive(Debug, Clone, Default, clap::Args)]
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
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PluginsArgs {
    /// Plugin directory [default: the config's `plugin_dir`].
    #[arg(long, value_name = "DIR")]
    pub plugin_dir: Option<PathBuf>,
    /// Configuration file naming the plugin directory.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The plugin directory, as the daemon picks it: `--plugin-dir`, else the config's
/// `plugin_dir`, else none.
fn plugin_dir(flag: Option<&Path>, cfg: Option<&Config>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| cfg.and_then(|c| c.plugin_dir.clone()))
}

fn host_for(dir: Option<PathBuf>) -> PluginHost {
    match dir {
        Some(d) => PluginHost::load_dir(&d),
        None => PluginHost::empty(),
    }
}

/// Builds the parser called `name`: a built-in, else a plugin of `host`.
pub fn make_parser(
    host: &PluginHost,
    name: &str,
    options: &str,
    pattern: Option<String>,
) -> anyhow::Result<Box<dyn Parser>> {
    match kpid_parsers::builtin(name, &ParserOptions { pattern }) {
        Ok(p) => Ok(p),
        Err(kpid_parsers::BuildError::Unknown(_)) => match host.make(name, options) {
            Some(made) => Ok(made?),
            None => {
                let loaded: Vec<String> = host
                    .list()
                    .into_iter()
                    .filter(|p| p.status == "loaded")
                    .map(|p| p.name)
                    .collect();
                let dir = host
                    .dir()
                    .map_or("none".into(), |d| d.display().to_string());
                anyhow::bail!(
                    "unknown parser `{name}`: not built in (auto, json, logfmt, regex, plain) and no loaded plugin has that name (plugin directory: {dir}; plugins: {})",
                    if loaded.is_empty() { "none".into() } else { loaded.join(", ") }
                )
            }
        },
        Err(e) => Err(e.into()),
    }
}

/// `kpid parse`: reads the file or stdin, line by line.
pub fn run_parse(args: &ParseArgs) -> anyhow::Result<()> {
    let input: Box<dyn BufRead> = match &args.file {
        Some(f) => Box::new(BufReader::with_capacity(
            1 << 20,
            File::open(f).with_context(|| format!("cannot read {}", f.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let stdout = std::io::stdout();
    match parse_to(args, input, BufWriter::new(stdout.lock())) {
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            Ok(())
        }
        r => r,
    }
}

fn source_config<'c>(cfg: &'c Config, args: &ParseArgs) -> Option<&'c SourceConfig> {
    match &args.source {
        Some(name) => cfg
            .sources
            .iter()
            .find(|s| crate::daemon::source_name(s) == *name),
        None => cfg.sources.first(),
    }
}

/// `kpid parse` over `input`, writing to `out`.
pub fn parse_to(
    args: &ParseArgs,
    mut input: impl BufRead,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let cfg = match &args.config {
        Some(path) => Config::load(path)?,
        // An empty file, so that the file's defaults apply (automatic gauges on).
        None => Config::parse(Path::new("<no config>"), "")?,
    };
    let rules = Rules::new(&cfg, &crate::kpi::Limits::default())?;
    let host = host_for(plugin_dir(args.plugin_dir.as_deref(), Some(&cfg)));
    let src = source_config(&cfg, args);
    let source = match (&args.source, src) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => crate::daemon::source_name(s),
        (None, None) => match &args.file {
            Some(f) => f
                .file_stem()
                .map_or("file".into(), |s| s.to_string_lossy().into_owned()),
            None => "stdin".to_string(),
        },
    };
    let name = args
        .parser
        .clone()
        .or_else(|| src.map(|s| s.parser.clone()))
        .unwrap_or_else(|| "auto".into());
    let options = args
        .options
        .clone()
        .or_else(|| src.map(|s| s.options.clone()))
        .unwrap_or_default();
    let pattern = args
        .pattern
        .clone()
        .or_else(|| src.and_then(|s| s.pattern.as_ref().map(|p| p.get_ref().clone())));
    let mut parser = make_parser(&host, &name, &options, pattern)?;

    let (mut lines, mut errors) = (0u64, 0u64);
    let mut spent = Duration::ZERO;
    let mut rec: Record<'static> = Record::new();
    let mut buf = Vec::new();
    for i in 0.. {
        buf.clear();
        if input
            .read_until(b'\n', &mut buf)
            .context("cannot read the input")?
            == 0
        {
            break;
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut r = rec.recycle();
        lines += 1;
        let start = Instant::now();
        let parsed = parser.parse(line, &mut r);
        spent += start.elapsed();
        match parsed {
            Ok(()) => {
                if !args.summary {
                    writeln!(out, "{}: {}", i + 1, show_record(&r))?;
                    for s in rules.dry_run(&source, &r) {
                        let (verb, v) = match s.obs {
                            Obs::Add(v) => ("add", v),
                            Obs::Set(v) => ("set", v),
                            Obs::Observe(v) => ("observe", v),
                        };
                        writeln!(out, "    {} {verb} {v}", s.id)?;
                    }
                }
            }
            Err(e) => {
                errors += 1;
                if !args.summary {
                    writeln!(out, "{}: error: {e}", i + 1)?;
                    writeln!(
                        out,
                        "    log_parse_errors_total{{source=\"{source}\"}} add 1"
                    )?;
                }
            }
        }
        rec = r.recycle();
    }
    drop(parser);
    let ns = spent.as_nanos() as f64 / lines.max(1) as f64;
    writeln!(
        out,
        "summary: parser {name} (source {source}): {lines} lines, {errors} errors, {ns:.0} ns/line"
    )?;
    let list = host.list();
    for p in list
        .iter()
        .filter(|p| p.name == name && p.status == "loaded")
    {
        writeln!(
            out,
            "plugin {} {} ({})",
            p.name,
            p.version,
            p.path.display()
        )?;
    }
    out.flush()?;
    Ok(())
}

fn text(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    if !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\')
    {
        s.into_owned()
    } else {
        format!("{s:?}")
    }
}

/// One line of `key=value` pairs: time, level, target, message, then the fields.
pub fn show_record(r: &Record<'_>) -> String {
    let mut parts = Vec::new();
    if let Some(t) = r.timestamp {
        parts.push(format!("@time={t}"));
    }
    if let Some(l) = r.level {
        parts.push(format!("@level={}", l.as_str()));
    }
    if let Some(t) = &r.target {
        parts.push(format!("@target={}", text(t)));
    }
    if let Some(m) = &r.message {
        parts.push(format!("@message={}", text(m)));
    }
    for f in &r.fields {
        let v = match &f.value {
            Value::Int(i) => i.to_string(),
            Value::Float(x) => format!("{x:?}"),
            Value::Bool(b) => b.to_string(),
            Value::Duration(d) => format!("{d}s"),
            Value::Str(s) => text(s),
        };
        parts.push(format!("{}={v}", text(&f.key)));
    }
    if parts.is_empty() {
        "(empty record)".into()
    } else {
        parts.join(" ")
    }
}

/// `kpid plugins`: lists every plugin file with its ABI version, path and status.
pub fn run_plugins(args: &PluginsArgs) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    list_to(args, stdout.lock())
}

/// `kpid plugins`, writing to `out`.
pub fn list_to(args: &PluginsArgs, mut out: impl Write) -> anyhow::Result<()> {
    let cfg = args.config.as_deref().map(Config::load).transpose()?;
    let Some(dir) = plugin_dir(args.plugin_dir.as_deref(), cfg.as_ref()) else {
        anyhow::bail!(
            "no plugin directory: pass --plugin-dir DIR, or --config FILE with plugin_dir set"
        );
    };
    let host = PluginHost::load_dir(&dir);
    if let Some(problem) = host.problem() {
        anyhow::bail!(problem);
    }
    let list = host.list();
    writeln!(
        out,
        "plugin directory {} (kpid plugin ABI {})",
        dir.display(),
        kpid_plugin::abi::ABI_VERSION
    )?;
    if list.is_empty() {
        writeln!(out, "no plugins (*.so files)")?;
    }
    for p in &list {
        let abi = p.abi.map_or("-".into(), |a| a.to_string());
        let version = if p.version.is_empty() {
            "-"
        } else {
            &p.version
        };
        writeln!(
            out,
            "{:<16} {:<10} abi {:<3} {}  {}",
            p.name,
            version,
            abi,
            p.path.display(),
            p.status
        )?;
    }
    Ok(())
}

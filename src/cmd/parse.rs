//! `kpid parse`, the test bench for a parser or a rule: reads lines (stdin or a file), prints
//! the record each yields, the event time it would take (its own time, RFC 3339, as its
//! source's `timestamp` setting reads it, or `arrival` and why) and the KPI samples the rules
//! would produce from it, then a summary of lines and errors and the parser's cost per line.
//! With the `auto` parser it also shows the format it recognised, the lines it joined to
//! multi-line records, and what it inferred each field to be (`field latency_ms:
//! distribution (latency-like) -> latency_seconds`).

use super::ParseArgs;
use crate::config::{Config, SourceConfig};
use crate::engine::rules::Rules;
use crate::kpi::Obs;
use crate::plugin_host::factory::{host_for, make_parser, plugin_dir};
use anyhow::Context;
use kpid_parsers::{BatchInfo, ParseError, Record, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes of whole lines handed to the parser at a time.
const CHUNK: usize = 128 << 10;

/// `kpid parse`: reads the file or stdin, line by line.
pub fn run(args: &ParseArgs) -> anyhow::Result<()> {
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
        Some(name) => cfg.sources.iter().find(|s| s.label() == name.as_str()),
        None => cfg.sources.first(),
    }
}

/// `kpid parse` over `input`, writing to `out`.
pub fn parse_to(
    args: &ParseArgs,
    mut input: impl BufRead,
    mut out: impl Write,
) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(path) => Config::load(path)?,
        // An empty file, so that the file's defaults apply (automatic gauges on).
        None => Config::parse(Path::new("<no config>"), "")?,
    };
    cfg.resolve()?;
    let mut rules = Rules::new(&cfg, &crate::kpi::Limits::default())?;
    let host = host_for(
        plugin_dir(args.plugin_dir.as_deref(), Some(&cfg)),
        Some(&cfg),
    );
    let src = source_config(&cfg, args);
    let source = match (&args.source, src) {
        (Some(s), _) => s.clone(),
        (None, Some(s)) => s.label().into_owned(),
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
    let times = match src {
        Some(s) => s.time_spec()?,
        None => kpid_parsers::TimeSpec::default(),
    };
    let skew = cfg.store.future_skew.0.as_secs_f64();

    let (mut lines, mut errors, mut joined) = (0u64, 0u64, 0u64);
    let mut spent = Duration::ZERO;
    let mut rec: Record<'static> = Record::new();
    // Lines go to the parser in batches of about CHUNK bytes, as the daemon's tailer reads
    // them (a plugin in a worker process gets each batch in one request).
    let mut chunk = Vec::new();
    let (mut i, mut offset) = (0u64, 0u64);
    loop {
        chunk.clear();
        while chunk.len() < CHUNK {
            if input
                .read_until(b'\n', &mut chunk)
                .context("cannot read the input")?
                == 0
            {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let batch: Vec<&[u8]> = crate::engine::stage::lines(&chunk).collect();
        let info = BatchInfo {
            source: &source,
            data: &chunk,
            offset: Some(offset),
        };
        let start = Instant::now();
        parser.prepare(&info, &batch);
        spent += start.elapsed();
        offset += chunk.len() as u64;
        for line in batch {
            i += 1;
            let mut r = rec.recycle();
            lines += 1;
            let start = Instant::now();
            let parsed = parser.parse(line, &mut r);
            spent += start.elapsed();
            match parsed {
                Ok(()) => {
                    if !args.summary {
                        writeln!(out, "{i}: {}", show_record(&r))?;
                        writeln!(out, "    time {}", show_time(&times, line, &r, skew))?;
                        let samples = rules.dry_run_line(&source, &r, line);
                        for s in rules.take_inferences(&source) {
                            writeln!(out, "    {s}")?;
                        }
                        for s in samples {
                            let (verb, v) = match s.obs {
                                Obs::Add(v) => ("add", v),
                                Obs::Set(v) => ("set", v),
                                Obs::Observe(v) => ("observe", v),
                            };
                            writeln!(out, "    {} {verb} {v}", s.id)?;
                        }
                    }
                }
                Err(ParseError::Continuation) => {
                    joined += 1;
                    if !args.summary {
                        writeln!(out, "{i}: joined to the record before")?;
                    }
                }
                Err(e) => {
                    errors += 1;
                    if !args.summary {
                        writeln!(out, "{i}: error: {e}")?;
                        writeln!(
                            out,
                            "    log_parse_errors_total{{source=\"{source}\"}} add 1"
                        )?;
                    }
                }
            }
            rec = r.recycle();
        }
    }
    let format = parser.format();
    drop(parser);
    let ns = spent.as_nanos() as f64 / lines.max(1) as f64;
    writeln!(
        out,
        "summary: parser {name} (source {source}): {lines} lines, {errors} errors, {joined} joined, {ns:.0} ns/line"
    )?;
    if let Some(f) = format {
        writeln!(
            out,
            "format: {} ({} switches, {} lines joined, {} past a record's cap)",
            if f.format.is_empty() {
                "none"
            } else {
                f.format
            },
            f.switches,
            f.joined,
            f.overflows
        )?;
    }
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

/// The event time the daemon would give the line: its own, or why it takes arrival time.
fn show_time(spec: &kpid_parsers::TimeSpec, line: &[u8], r: &Record<'_>, skew: f64) -> String {
    use kpid_parsers::EventTime;
    match spec.event_time(line, r) {
        EventTime::Found(t) if t > crate::kpi::now() + skew => {
            format!("arrival ({} is ahead of the clock)", crate::kpi::rfc3339(t))
        }
        EventTime::Found(t) if t >= crate::engine::clock::EARLIEST => crate::kpi::rfc3339(t),
        EventTime::Found(t) => format!("arrival ({} is before 2000)", crate::kpi::rfc3339(t)),
        EventTime::Absent => "arrival (no timestamp)".into(),
        EventTime::Unmatched => "arrival (the source's `timestamp` format did not match)".into(),
    }
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

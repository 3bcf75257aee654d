//! The tables of the config file: `[server]`, `[store]`, `[tail]`, `[[source]]`, `[[rule]]`.

use super::Dur;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to bind (default 127.0.0.1).
    pub host: String,
    /// Port (default 8050).
    pub port: u16,
    /// Most frequent WebSocket push (default 1 s).
    pub interval: Dur,
    /// Names besides `localhost`, `127.0.0.1`, `[::1]` and the bound address that a request's
    /// `Host` (and a page's `Origin`) may use, e.g. `["kpid.lan"]`.
    pub allowed_hosts: Vec<String>,
    /// The API token (default: generated at first start into `<state-dir>/token`, or for
    /// this run only without a state directory). Required for every call that changes
    /// state, and for everything when the server is bound beyond loopback.
    pub token: Option<String>,
    /// Bound beyond loopback, serve reads without the token (default false: refused).
    pub insecure: bool,
    /// Most open HTTP connections, WebSockets included (default 2048; less when the
    /// open-file limit is low: the tailer and the socket keep a reserve).
    pub max_connections: usize,
    /// Most open HTTP connections from one address (default 1024).
    pub max_connections_per_peer: usize,
    /// Time a client has to send a request's headers, from the connection's start or the
    /// end of the previous response; an idle keep-alive connection is closed after it too
    /// (default 10s; 408 when part of a request had come).
    pub header_timeout: Dur,
    /// A connection that neither reads nor writes anything for this long is closed
    /// (default 60s; WebSocket clients get a heartbeat every 5 s).
    pub idle_timeout: Dur,
    /// Largest request head, bytes (default 16384, at least 8192; 431 above).
    pub max_header_bytes: usize,
    /// Longest request target (path and query), bytes (default 8192; 414 above).
    pub max_uri_bytes: usize,
    /// Largest request body, bytes (default 65536; 413 above).
    pub max_body_bytes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            port: 8050,
            interval: Dur(Duration::from_secs(1)),
            allowed_hosts: Vec::new(),
            token: None,
            insecure: false,
            max_connections: 2048,
            max_connections_per_peer: 1024,
            header_timeout: Dur(Duration::from_secs(10)),
            idle_timeout: Dur(Duration::from_secs(60)),
            max_header_bytes: 16 << 10,
            max_uri_bytes: 8 << 10,
            max_body_bytes: 64 << 10,
        }
    }
}

/// `[apps]`: limits of the socket instrumented apps send to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppsConfig {
    /// Most connected apps (default 1024; less when the open-file limit is low).
    pub max_connections: usize,
    /// Bytes all connections' read buffers may hold together (default 16 MiB).
    pub memory_budget: usize,
    /// Time a frame may take to arrive once begun (default 10s).
    pub frame_timeout: Dur,
}

impl Default for AppsConfig {
    fn default() -> Self {
        AppsConfig {
            max_connections: 1024,
            memory_budget: 16 << 20,
            frame_timeout: Dur(Duration::from_secs(10)),
        }
    }
}

/// `[sample]`: the machine beside the pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SampleSettings {
    /// Time between samples (default 1s).
    pub interval: Dur,
    /// Sample the host: CPU, memory, disks, network, pressure, cgroup (default true).
    pub host: bool,
    /// Processes to follow by pid.
    pub pids: Vec<u32>,
    /// Processes to follow whose name or command line matches one of these regexes.
    pub processes: Vec<String>,
    /// Sample NVIDIA GPUs through NVML (default true; without a GPU, health says why).
    pub gpu: bool,
    /// The NVML library to open (default: the system's `libnvidia-ml.so.1`).
    pub nvml_library: Option<std::path::PathBuf>,
}

impl Default for SampleSettings {
    fn default() -> Self {
        SampleSettings {
            interval: Dur(Duration::from_secs(1)),
            host: true,
            pids: Vec::new(),
            processes: Vec::new(),
            gpu: true,
            nvml_library: None,
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Live window kept in memory (default 1h).
    pub window: Dur,
    /// Bucket width (default 1s; whole seconds).
    pub bucket: Dur,
    /// Most series (default 10000).
    pub max_series: usize,
    /// Most label sets per KPI name before folding into `other` (default 200).
    pub max_label_sets: usize,
    /// How far behind a series' newest event time a line still updates the live window
    /// (default 5m); older lines go to history only (counted).
    pub lateness: Dur,
    /// A line stamped further ahead of the clock than this takes its arrival time instead
    /// (default 60s; counted).
    pub future_skew: Dur,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            window: Dur(Duration::from_secs(3600)),
            bucket: Dur(Duration::from_secs(1)),
            max_series: 10_000,
            max_label_sets: 200,
            lateness: Dur(Duration::from_secs(300)),
            future_skew: Dur(Duration::from_secs(60)),
        }
    }
}

impl StoreConfig {
    /// The store's limits: bucket width in whole seconds (at least 1), buckets per window.
    /// Durations are at most [`super::duration::MAX_DURATION`], so the products the store
    /// computes (bucket × buckets) fit an `i64`.
    pub fn limits(&self) -> crate::kpi::Limits {
        let bucket = self.bucket.0.as_secs().max(1);
        crate::kpi::Limits {
            max_series: self.max_series,
            max_label_sets: self.max_label_sets,
            bucket_secs: bucket as i64,
            window_buckets: (self.window.0.as_secs() / bucket).max(1) as usize,
            lateness_secs: self.lateness.0.as_secs() as i64,
        }
    }
}

/// `[tail]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TailSettings {
    /// Longest line kept (default 64 KiB); longer ones are discarded and counted.
    pub max_line_bytes: usize,
    /// How long a last line without newline is held (default 1s).
    pub partial_flush: Dur,
    /// Stat poll backstop (default 250ms).
    pub poll_interval: Dur,
    /// Read files present at startup from their beginning (default: from their end).
    pub from_start: bool,
    /// How often offsets and counter totals are checkpointed (default 1s).
    pub checkpoint_interval: Dur,
    /// How long a record of a source with a `start` pattern waits for its next line before
    /// it is taken as complete (default 1s).
    pub record_timeout: Dur,
}

impl Default for TailSettings {
    fn default() -> Self {
        TailSettings {
            max_line_bytes: 64 * 1024,
            partial_flush: Dur(Duration::from_secs(1)),
            poll_interval: Dur(Duration::from_millis(250)),
            from_start: false,
            checkpoint_interval: Dur(Duration::from_secs(1)),
            record_timeout: Dur(Duration::from_secs(1)),
        }
    }
}

/// `[[source]]`: a file or glob to tail and the parser for its lines.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Name (the `source` label); default: the file stem.
    pub name: Option<String>,
    /// Path or glob.
    pub path: String,
    /// Parser: `auto` (default), `json`, `logfmt`, `regex`, `plain`, or a plugin's name.
    #[serde(default = "auto")]
    pub parser: String,
    /// Pattern for the `regex` parser.
    pub pattern: Option<Spanned<String>>,
    /// Records span lines: each starts at a line this regex matches and takes the lines up
    /// to the next such line (or 1 s without a new line); the parser and the rules read the
    /// whole record, its lines joined by `\n` (docs/rules.md). Built-in parsers only.
    pub start: Option<Spanned<String>>,
    /// Options string passed to a plugin parser.
    #[serde(default)]
    pub options: String,
    /// Where the lines' event time is read: `auto` (default), `rfc3339`, `clf`, `syslog`,
    /// `unix`, `unix_ms`, `none`, or a strftime pattern (`%Y-%m-%d %H:%M:%S%.f`); see
    /// the README's *Event time* and [`kpid_parsers::TimeSpec`].
    pub timestamp: Option<Spanned<String>>,
    /// UTC offset of times written without a zone (`+02:00`; default UTC).
    pub timezone: Option<Spanned<String>>,
    /// How fields become KPIs with no rule, overriding what kpid infers from their names
    /// and values: `fields = { batch = "ignore", tokens_per_s = "gauge" }`.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, FieldKind>,
}

/// What a field of a source's records becomes with no rule (`[[source]] fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldKind {
    /// No KPI (ids, sequence numbers).
    Ignore,
    /// The last value.
    Gauge,
    /// Every value, for percentiles (latencies).
    Distribution,
    /// A running total: its increases are counted (a drop to a lower value is a reset).
    Counter,
    /// A boolean: the fraction of records where it is true, over the last minute.
    Ratio,
    /// A text field: a label of the source's other automatic KPIs.
    Label,
}

fn auto() -> String {
    "auto".into()
}

impl SourceConfig {
    /// The source's event-time setting (checked when the config is parsed).
    pub fn time_spec(&self) -> Result<kpid_parsers::TimeSpec, kpid_parsers::BuildError> {
        kpid_parsers::TimeSpec::new(
            self.timestamp.as_ref().map_or("auto", |t| t.get_ref()),
            self.timezone.as_ref().map(|z| z.get_ref().as_str()),
        )
    }

    /// The `source` label of this source: its name (every source has one once the config is
    /// [`Config::resolve`]d), else the file stem of its path (for a glob, its directory).
    pub fn label(&self) -> std::borrow::Cow<'_, str> {
        if let Some(n) = &self.name {
            return n.as_str().into();
        }
        let stem = Path::new(&self.path)
            .file_stem()
            .and_then(|x| x.to_str())
            .unwrap_or("log");
        if stem.contains(['*', '?', '[']) {
            Path::new(&self.path)
                .parent()
                .and_then(|p| p.file_name())
                .and_then(|x| x.to_str())
                .unwrap_or("logs")
                .to_owned()
                .into()
        } else {
            stem.to_owned().into()
        }
    }
}

/// Kind of an explicit rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// Adds 1 per matching record, or the field's value.
    Counter,
    /// Sets the field's value.
    Gauge,
    /// Observes the field's value.
    Distribution,
    /// The fraction of the records it sees (its `source`, `over`) that pass its `match`
    /// and `filter`, over the last `window`; or one KPI over another (`numerator`,
    /// `denominator`).
    Ratio,
    /// Records the time of the records it passes under their `key` (a session's start),
    /// for the rules that read the time `since` it.
    Start,
}

/// What records a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleInput {
    /// Parsed log lines (the default).
    #[default]
    Line,
    /// Span closes from apps: fields `span` (name), `duration` (seconds), `error`, `parent`
    /// and the span's own fields.
    Span,
    /// Events from apps: their fields, `span` (the span they happened in).
    Event,
    /// Metric samples from apps: `name`, `value` and their labels as fields.
    Metric,
}

/// `[[rule]]`: an explicit KPI.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// KPI name.
    pub name: Spanned<String>,
    /// Kind.
    pub kind: RuleKind,
    /// Records it reads: `line` (default), `span`, `event` or `metric`.
    #[serde(default)]
    pub input: RuleInput,
    /// Field read (required for gauges and distributions).
    pub field: Option<String>,
    /// Multiplier applied to the field (e.g. 0.001 for ms → s).
    #[serde(default = "one")]
    pub scale: f64,
    /// Unit shown on the dashboard.
    #[serde(default)]
    pub unit: String,
    /// Help text.
    #[serde(default)]
    pub help: String,
    /// Fields whose values become labels (`source` and `level` are always available).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Only records matching this filter count, e.g. `status >= 500 and method == "GET"`.
    pub filter: Option<Spanned<String>>,
    /// Only records from this source (for app records: this app).
    pub source: Option<String>,
    /// Fixed histogram bucket bounds (distributions; exposed as a Prometheus histogram).
    pub buckets: Option<Spanned<Vec<f64>>>,
    /// Only lines this regex matches (anywhere in the line, as written); its named captures
    /// are fields the rule reads, before the record's own (docs/rules.md).
    #[serde(rename = "match")]
    pub pattern: Option<Spanned<String>>,
    /// The value to add, set or observe, computed from fields: `bytes_out - bytes_body`
    /// (instead of `field`).
    pub value: Option<Spanned<String>>,
    /// Labels besides `labels`, by name: a constant, a renamed field, a value map, a case.
    #[serde(default)]
    pub label: std::collections::BTreeMap<String, Spanned<LabelConfig>>,
    /// A gauge adds the value to its last one instead of setting it.
    #[serde(default)]
    pub add: bool,
    /// Export the series (0) from the start, before the first match; its labels must be
    /// constants (or `source` with the rule's `source` set).
    #[serde(default)]
    pub declare: bool,
    /// Ratio rules: the records counted in the denominator (default: all it sees).
    pub over: Option<Spanned<String>>,
    /// Ratio rules: the window the fraction is over (default 1m, at least 60 s).
    pub window: Option<super::Dur>,
    /// Ratio rules of one KPI over another: the counter rule(s) of this name, whose sum
    /// over the window is the numerator.
    pub numerator: Option<Spanned<String>>,
    /// Ratio rules of one KPI over another: the counter rule(s) of this name, whose sum
    /// over the window is the denominator.
    pub denominator: Option<Spanned<String>>,
    /// Session rules: the field whose text keys a session (`kind = "start"`), or that an
    /// end rule (`since`) reads to find its start.
    pub key: Option<Spanned<String>>,
    /// End rules: the `start` rule whose time under the record's key the value is the time
    /// since; the key is forgotten once the record's rules have run.
    pub since: Option<Spanned<String>>,
    /// Start rules: most keys open at once (default 10000); past it the oldest is evicted.
    pub max_open: Option<usize>,
    /// Start rules: a start older than this is forgotten (mtail's `del ... after`).
    pub expire: Option<super::Dur>,
}

/// `[rule.label] NAME = { ... }`: where a label's value comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelConfig {
    /// The field (or capture) whose text it is (default: the label's own name).
    pub field: Option<String>,
    /// A constant value instead of a field.
    pub value: Option<String>,
    /// Values replaced: `{ i = "incoming", o = "outgoing" }`.
    #[serde(default)]
    pub map: std::collections::BTreeMap<String, String>,
    /// The value of a field text the `map` does not name (default: the text as it is).
    pub default: Option<String>,
    /// `lower` or `upper`: the value's ASCII case, after the map.
    pub case: Option<LabelCase>,
}

/// `case` of a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelCase {
    /// ASCII lower case.
    Lower,
    /// ASCII upper case.
    Upper,
}

fn one() -> f64 {
    1.0
}

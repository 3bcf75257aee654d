//! The built-in rules: the zero-config KPIs of every record kind, written as rules of the
//! same engine as the user's `[[rule]]`s.

use super::label::Label;
use super::{RecordKind, Rule};
use crate::engine::filter::{Arith, Filter};
use crate::kpi::{Kind, SeriesSpec};
use std::sync::Arc;

/// Spans closed, per app and span name (what the spans table and the flow view call "calls").
pub(crate) const SPAN_TOTAL: &str = "span_total";
/// Span durations, a distribution in seconds.
pub(crate) const SPAN_DURATION: &str = "span_duration_seconds";
/// Spans closed in error.
pub(crate) const SPAN_ERRORS: &str = "span_errors_total";

/// What a built-in span KPI is to the spans table: `calls`, `duration` or `errors`.
pub fn span_role(name: &str) -> Option<&'static str> {
    match name {
        SPAN_TOTAL => Some("calls"),
        SPAN_DURATION => Some("duration"),
        SPAN_ERRORS => Some("errors"),
        _ => None,
    }
}

fn rule(
    name: &str,
    kind: Kind,
    input: RecordKind,
    field: Option<&str>,
    unit: &str,
    help: &str,
    labels: &Arc<[Label]>,
) -> Rule {
    Rule {
        name: name.into(),
        kind,
        input,
        value: field.map(Arith::field),
        scale: 1.0,
        offset: 0.0,
        unit: unit.into(),
        help: help.into(),
        labels: labels.clone(),
        filter: None,
        source: None,
        buckets: None,
        pattern: None,
        add: false,
        declare: false,
        ratio: None,
        feeds: Vec::new(),
        session: None,
    }
}

/// The built-in rules of app records: spans, events, drop reports.
pub(super) fn rules() -> Vec<Rule> {
    use Kind::{Counter, Distribution};
    use RecordKind::{Drops, Event, Span};
    let names = |l: [&str; 2]| -> Arc<[Label]> { l.iter().map(|s| Label::named(s)).collect() };
    let (span, level) = (&names(["app", "span"]), &names(["app", "level"]));
    // The pipeline's flow: which spans close inside which (the dashboard draws it).
    let edge: Arc<[Label]> = ["app", "parent", "span"].map(Label::named).into();
    let mut children = rule(
        "span_children_total",
        Counter,
        Span,
        None,
        "",
        "spans closed inside a parent span, by parent: the stages of the pipeline's flow",
        &edge,
    );
    children.filter = Some(Filter::parse("parent =~ \".\"").expect("a valid filter"));
    vec![
        children,
        rule(SPAN_TOTAL, Counter, Span, None, "", "spans closed", span),
        rule(
            SPAN_DURATION,
            Distribution,
            Span,
            Some("duration"),
            "s",
            "time from span open to close",
            span,
        ),
        rule(
            SPAN_ERRORS,
            Counter,
            Span,
            Some("error"),
            "",
            "spans closed in error (error field or ERROR event inside)",
            span,
        ),
        rule(
            "events_total",
            Counter,
            Event,
            None,
            "",
            "events reported by apps, per level",
            level,
        ),
        rule(
            "app_dropped_total",
            Counter,
            Drops,
            Some("dropped"),
            "",
            "records an app dropped (queue full or kpid absent), as it reported",
            level,
        ),
    ]
}

/// `log_lines_total{source,level}`, given those two labels.
pub(super) fn lines<'a>(labels: &'a [(&'a str, &'a str)]) -> SeriesSpec<'a> {
    SeriesSpec {
        name: "log_lines_total",
        labels,
        kind: Kind::Counter,
        unit: "lines",
        help: "log lines read, by source and level",
        buckets: None,
    }
}

/// `log_parse_errors_total{source}`, given that label.
pub(super) fn parse_errors<'a>(labels: &'a [(&'a str, &'a str)]) -> SeriesSpec<'a> {
    SeriesSpec {
        name: "log_parse_errors_total",
        labels,
        kind: Kind::Counter,
        unit: "lines",
        help: "lines the parser rejected, by source",
        buckets: None,
    }
}

/// `log_joined_lines_total{source}`, given that label.
pub(super) fn joined<'a>(labels: &'a [(&'a str, &'a str)]) -> SeriesSpec<'a> {
    SeriesSpec {
        name: "log_joined_lines_total",
        labels,
        kind: Kind::Counter,
        unit: "lines",
        help: "lines joined to the record before them (tracebacks, stack traces, indented lines)",
        buckets: None,
    }
}

/// `log_format_switches_total{source}`, given that label.
pub(super) fn switches<'a>(labels: &'a [(&'a str, &'a str)]) -> SeriesSpec<'a> {
    SeriesSpec {
        name: "log_format_switches_total",
        labels,
        kind: Kind::Counter,
        unit: "",
        help: "times the lines of a source changed format (auto parser)",
        buckets: None,
    }
}

/// `log_join_overflows_total{source}`, given that label.
pub(super) fn overflows<'a>(labels: &'a [(&'a str, &'a str)]) -> SeriesSpec<'a> {
    SeriesSpec {
        name: "log_join_overflows_total",
        labels,
        kind: Kind::Counter,
        unit: "lines",
        help: "continuation lines past a multi-line record's cap, made records of their own",
        buckets: None,
    }
}

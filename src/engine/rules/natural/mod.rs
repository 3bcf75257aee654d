//! The natural KPIs of a line, with no rule: what its fields say (see `fields`) and, for an
//! HTTP request (a record with a text `method` and a numeric `status`), the request KPIs.
//!
//! - `http_requests_total{source,method,status_class}` (`status_class` is `2xx`...),
//!   `http_request_duration_seconds{source}` (a distribution, from the record's first
//!   latency-like field: `request_time` of access logs), `http_response_bytes_total{source}`
//!   (from `bytes`, `bytes_sent`, `body_bytes_sent` or `size`), and `http_5xx_ratio{source}`,
//!   the fraction of requests answered 5xx over the last minute.
//! - Each other field as `fields` infers it, with the record's label fields as labels: at
//!   most [`MAX_LABEL_KEYS`] label fields per source and [`MAX_LABEL_VALUES`] values each
//!   (more values fold into `other`, counted in `auto_label_values_folded_total{source}`);
//!   fields left out (text, ids, sequences, past the budgets) are counted once each in
//!   `auto_fields_left_out_total{source,reason}`.
//!
//! Flags (bare words after logfmt pairs, `Bool(true)` with no text as written) feed nothing.
//! A source keeps at most [`MAX_FIELDS`] inferred field names; past it, new names are left
//! out (reason `field_budget`).

mod emit;
mod http;
mod labels;

pub(super) use emit::{Out, Window};

use super::cache::RefCache;
use super::fields::{infer, Inferred, SEQUENCE_RUN};
use crate::config::FieldKind;
use crate::kpi::{Kind, Obs};
use emit::{emit, text, Owned};
use kpid_parsers::{Record, Value};
use labels::{label_pairs, LabelField};
use rustc_hash::FxHashMap;

/// Most label fields per source.
pub(super) const MAX_LABEL_KEYS: usize = 3;
/// Most values per label field and source; more fold into `other`.
pub(super) const MAX_LABEL_VALUES: usize = 20;
/// Most field names a source's inference keeps.
pub(super) const MAX_FIELDS: usize = 256;
/// Fields an HTTP request's KPIs read (not charted on their own).
pub(super) const HTTP_FIELDS: [&[u8]; 8] = [
    b"method",
    b"status",
    b"path",
    b"protocol",
    b"client",
    b"referer",
    b"user_agent",
    b"url",
];
pub(super) const BYTES_FIELDS: [&[u8]; 4] = [b"bytes", b"bytes_sent", b"body_bytes_sent", b"size"];

/// What a line's fields need to know about where they come from.
pub(super) struct Ctx<'a> {
    pub source: &'a str,
    pub cap: usize,
    pub consumed: &'a [Vec<u8>],
    pub overrides: Option<&'a FxHashMap<Vec<u8>, FieldKind>>,
    pub now: f64,
}
/// The natural-KPI state of one source.
#[derive(Debug, Default)]
pub(super) struct FieldState {
    inferred: FxHashMap<Box<[u8]>, Inferred>,
    labels: Vec<LabelField>,
    series: RefCache,
    last: FxHashMap<Box<[u8]>, (f64, u32)>,
    ratios: FxHashMap<Box<[u8]>, Window>,
    requests: RefCache,
    one: RefCache,
    window: Window,
    key: Vec<u8>,
    label_key: Vec<u8>,
    /// Inferences made since `kpid parse` last took them (only kept for a dry run).
    pub fresh: Vec<String>,
}

impl FieldState {
    /// Counts a field left out, once per source and field.
    fn left_out(&mut self, out: &mut Out<'_>, ctx: &Ctx<'_>, reason: &'static str) {
        let labels = vec![
            ("reason".to_owned(), reason.to_owned()),
            ("source".into(), ctx.source.into()),
        ];
        emit(
            out,
            &mut self.one,
            64,
            reason.as_bytes(),
            Obs::Add(1.0),
            ctx.now,
            || {
                Owned {
            name: "auto_fields_left_out_total".into(),
            labels,
            kind: Kind::Counter,
            unit: "",
            help: "fields of lines no automatic KPI reads: text, ids, sequences, labels over their budget (each field once); fields past the field-name budget (each occurrence)".into(),
        }
            },
        );
    }

    /// The inference of `key`, made on first sight.
    fn inferred(
        &mut self,
        out: &mut Out<'_>,
        ctx: &Ctx<'_>,
        key: &[u8],
        v: &Value<'_>,
    ) -> Option<FieldKind> {
        if let Some(i) = self.inferred.get(key) {
            return Some(i.kind);
        }
        if self.inferred.len() >= MAX_FIELDS {
            // Past the budget nothing is remembered, so each occurrence is counted.
            self.left_out(out, ctx, "field_budget");
            return None;
        }
        let i = infer(key, v, ctx.overrides.and_then(|o| o.get(key).copied()));
        if matches!(out, Out::Dry(_)) {
            let feeds = match i.kind {
                FieldKind::Ignore | FieldKind::Label => String::new(),
                _ => format!(" -> {}", i.exposed.name),
            };
            self.fresh.push(format!(
                "field {}: {} ({}){feeds}",
                text(key),
                i.kind.as_str(),
                i.why
            ));
        }
        let kind = i.kind;
        self.inferred.insert(key.into(), i);
        if kind == FieldKind::Ignore {
            let reason = if ctx.overrides.is_some_and(|o| o.contains_key(key)) {
                "config"
            } else if matches!(v, Value::Str(_)) {
                "text"
            } else {
                "id"
            };
            self.left_out(out, ctx, reason);
        }
        Some(kind)
    }

    fn demote(
        &mut self,
        out: &mut Out<'_>,
        ctx: &Ctx<'_>,
        key: &[u8],
        why: &'static str,
        reason: &'static str,
    ) {
        if let Some(i) = self.inferred.get_mut(key) {
            i.kind = FieldKind::Ignore;
            i.why = why;
            if matches!(out, Out::Dry(_)) {
                self.fresh
                    .push(format!("field {}: ignore ({why})", text(key)));
            }
        }
        self.left_out(out, ctx, reason);
    }

    /// Applies the natural KPIs of one line.
    pub(super) fn apply(&mut self, out: &mut Out<'_>, ctx: &Ctx<'_>, rec: &Record<'_>) {
        let http = http::request_of(rec);
        self.labels(out, ctx, rec, http.is_some());
        let mut duration_done = false;
        for f in &rec.fields {
            // A bare word after logfmt pairs is a flag (always true), not a ratio's input.
            let flag = matches!(f.value, Value::Bool(_)) && f.raw.is_empty();
            if flag || ctx.consumed.iter().any(|c| *c == *f.key) {
                continue;
            }
            if http.is_some() {
                if HTTP_FIELDS.contains(&&*f.key) {
                    continue;
                }
                if BYTES_FIELDS.contains(&&*f.key) {
                    if let Some(v) = f.value.as_f64() {
                        self.single(out, ctx, &emit::BYTES, Obs::Add(v));
                    }
                    continue;
                }
            }
            let Some(kind) = self.inferred(out, ctx, &f.key, &f.value) else {
                continue;
            };
            let Some(v) = f.value.as_f64() else {
                continue;
            };
            let i = &self.inferred[&*f.key];
            let (value, unit_s) = (i.exposed.apply(v), i.exposed.unit == "s");
            if http.is_some() && kind == FieldKind::Distribution && unit_s && !duration_done {
                duration_done = true;
                self.single(out, ctx, &emit::DURATION, Obs::Observe(value));
                continue;
            }
            let obs = match kind {
                FieldKind::Gauge => {
                    if matches!(f.value, Value::Int(_)) && self.sequence(&f.key, v) {
                        self.demote(out, ctx, &f.key, "counts up by one: a sequence", "sequence");
                        continue;
                    }
                    Obs::Set(value)
                }
                FieldKind::Distribution => Obs::Observe(value),
                FieldKind::Counter => {
                    let last = self.last.len() < MAX_FIELDS || self.last.contains_key(&*f.key);
                    if !last {
                        continue;
                    }
                    let e = self.last.entry(f.key.as_ref().into()).or_insert((v, 0));
                    let delta = if v >= e.0 { v - e.0 } else { v };
                    e.0 = v;
                    Obs::Add(delta * self.inferred[&*f.key].exposed.scale)
                }
                FieldKind::Ratio => {
                    // One window per series: the field and the line's label values.
                    self.series_key(&f.key);
                    let cap = self.ratios.len() >= ctx.cap.min(MAX_FIELDS * MAX_LABEL_VALUES);
                    if cap && !self.ratios.contains_key(&*self.key) {
                        continue;
                    }
                    let w = self.ratios.entry(self.key.as_slice().into()).or_default();
                    Obs::Set(w.push(ctx.now, v != 0.0))
                }
                FieldKind::Ignore | FieldKind::Label => continue,
            };
            self.series_key(&f.key);
            let i = &self.inferred[&*f.key];
            let (labels, key, store_kind) = (
                &self.labels,
                &f.key,
                match kind {
                    FieldKind::Counter => Kind::Counter,
                    FieldKind::Distribution => Kind::Distribution,
                    _ => Kind::Gauge,
                },
            );
            let make = || Owned {
                name: i.exposed.name.clone(),
                labels: label_pairs(labels, ctx.source, rec),
                kind: store_kind,
                unit: i.exposed.unit,
                help: format!(
                    "field `{}` of parsed lines ({}: {})",
                    text(key),
                    kind.as_str(),
                    i.why
                ),
            };
            emit(
                out,
                &mut self.series,
                ctx.cap,
                &self.key,
                obs,
                ctx.now,
                make,
            );
        }
        if let Some((method, status)) = http {
            self.request(out, ctx, method, status);
        }
    }

    /// `self.key` = the series key of field `key` with the line's label values.
    fn series_key(&mut self, key: &[u8]) {
        self.key.clear();
        self.key.extend_from_slice(key);
        self.key.push(0xfe);
        self.key.extend_from_slice(&self.label_key);
    }

    /// Series cached and field names inferred (bounded by the caps).
    #[cfg(test)]
    pub(super) fn sizes(&self) -> (usize, usize) {
        (self.series.len(), self.inferred.len())
    }

    /// True when `key` has counted up by exactly one for [`SEQUENCE_RUN`] records.
    fn sequence(&mut self, key: &[u8], v: f64) -> bool {
        if self.last.len() >= MAX_FIELDS && !self.last.contains_key(key) {
            return false;
        }
        let e = self.last.entry(key.into()).or_insert((v, 0));
        e.1 = if v == e.0 + 1.0 { e.1 + 1 } else { 0 };
        e.0 = v;
        e.1 >= SEQUENCE_RUN
    }
}

#[cfg(test)]
mod tests;

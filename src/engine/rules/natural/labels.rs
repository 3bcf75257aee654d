//! Label fields: which of a line's text fields label its automatic KPIs, within the
//! source's budgets (at most [`MAX_LABEL_KEYS`] fields, [`MAX_LABEL_VALUES`] values each; more
//! values fold into `other`, counted).

use super::emit::{text, Out};
use super::{Ctx, FieldState, BYTES_FIELDS, HTTP_FIELDS, MAX_LABEL_KEYS, MAX_LABEL_VALUES};
use crate::config::FieldKind;
use crate::kpi::{sanitize_name, Obs};
use kpid_parsers::Record;
use rustc_hash::FxHashSet;

/// A label field's name and the values it may take.
pub(super) type LabelField = (Box<[u8]>, FxHashSet<Box<[u8]>>);

impl FieldState {
    /// Builds `self.label_key` from the label fields of `rec` (an HTTP request's own fields
    /// are not labels).
    pub(super) fn labels(
        &mut self,
        out: &mut Out<'_>,
        ctx: &Ctx<'_>,
        rec: &Record<'_>,
        http: bool,
    ) {
        self.label_key.clear();
        for f in &rec.fields {
            let for_http = HTTP_FIELDS.contains(&&*f.key) || BYTES_FIELDS.contains(&&*f.key);
            if ctx.consumed.iter().any(|c| *c == *f.key) || (http && for_http) {
                continue;
            }
            if self.inferred(out, ctx, &f.key, &f.value) != Some(FieldKind::Label) {
                continue;
            }
            let slot = match self.labels.iter().position(|(k, _)| **k == *f.key) {
                Some(s) => s,
                None if self.labels.len() < MAX_LABEL_KEYS => {
                    self.labels
                        .push((f.key.as_ref().into(), FxHashSet::default()));
                    self.labels.len() - 1
                }
                None => {
                    self.demote(out, ctx, &f.key, "label budget full", "label_budget");
                    continue;
                }
            };
            let start = self.label_key.len();
            self.label_key.push(slot as u8);
            f.text_into(&mut self.label_key);
            let values = &mut self.labels[slot].1;
            let value = &self.label_key[start + 1..];
            if !values.contains(value) {
                if values.len() < MAX_LABEL_VALUES {
                    values.insert(value.into());
                } else {
                    self.label_key.truncate(start + 1);
                    self.label_key.extend_from_slice(b"\0other");
                    self.single(out, ctx, &super::emit::FOLDED, Obs::Add(1.0));
                }
            }
            self.label_key.push(0xff);
        }
    }
}

/// The label fields of `rec` as labels (values past their budget as `other`).
pub(super) fn label_pairs(
    labels: &[LabelField],
    source: &str,
    rec: &Record<'_>,
) -> Vec<(String, String)> {
    let mut v = vec![("source".to_owned(), source.to_owned())];
    for (key, values) in labels {
        let Some(f) = rec.field(key) else { continue };
        let mut t = Vec::new();
        f.text_into(&mut t);
        let mut name = String::new();
        sanitize_name(key, &mut name);
        if name == "source" {
            continue;
        }
        let value = if values.contains(&*t) {
            text(&t)
        } else {
            "other".into()
        };
        v.push((name, value));
    }
    v
}

//! Where a rule's label values come from: a field (or a capture of its `match`), renamed,
//! mapped and case-folded; a constant; the record's source or level.
//!
//! The per-record key of a rule's series holds each field label's raw text only: the map and
//! the case are functions of that text, applied once, when the series is resolved.

use crate::config::{LabelCase, LabelConfig};
use crate::engine::filter::{Key, View};

/// What a label's value is read from.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum From {
    /// The record's source (or app) name.
    Source,
    /// The record's level word (`none` without one).
    Level,
    /// The text of a field, capture or slot, or the file's path.
    Field(Key),
    /// A constant.
    Const(String),
}

/// One label of a rule.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Label {
    pub name: String,
    pub from: From,
    map: Vec<(Vec<u8>, String)>,
    default: Option<String>,
    case: Option<LabelCase>,
}

impl Label {
    /// The label `name`, read from the field of that name (or the source, or the level).
    pub fn named(name: &str) -> Label {
        let from = match name {
            "source" | "app" => From::Source,
            "level" => From::Level,
            _ => From::Field(Key::new(name.as_bytes())),
        };
        Label {
            name: name.to_owned(),
            from,
            map: Vec::new(),
            default: None,
            case: None,
        }
    }

    /// The label `name` of a `[rule.label]` entry; the error names what is wrong.
    pub fn configured(name: &str, c: &LabelConfig) -> Result<Label, String> {
        let from = match (&c.field, &c.value) {
            (Some(_), Some(_)) => return Err("give `field` or `value`, not both".into()),
            (None, Some(v)) if c.map.is_empty() && c.default.is_none() && c.case.is_none() => {
                From::Const(v.clone())
            }
            (None, Some(_)) => {
                return Err("a constant `value` takes no `map`, `default` or `case`".into())
            }
            (Some(f), None) => Label::named(f).from,
            (None, None) => Label::named(name).from,
        };
        Ok(Label {
            name: name.to_owned(),
            from,
            map: c
                .map
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
            default: c.default.clone(),
            case: c.case,
        })
    }

    /// True for a label whose value is known before any record (a constant).
    pub fn is_const(&self) -> bool {
        matches!(self.from, From::Const(_))
    }

    /// Appends what tells this label's values apart to a series key.
    #[inline]
    pub fn key_into(&self, view: &View<'_, '_>, level: u8, key: &mut Vec<u8>) {
        match &self.from {
            From::Source | From::Const(_) => {}
            From::Level => key.push(level),
            From::Field(f) => {
                view.text(f, key);
            }
        }
    }

    /// The label's value for a new series.
    pub fn value(&self, view: &View<'_, '_>) -> String {
        let raw = match &self.from {
            From::Source => return view.source.to_owned(),
            From::Level => return view.rec.level.map_or("none", |l| l.as_str()).to_owned(),
            From::Const(c) => return c.clone(),
            From::Field(f) => {
                let mut text = Vec::new();
                view.text(f, &mut text);
                text
            }
        };
        let mut v = match self.map.iter().find(|(k, _)| *k == raw) {
            Some((_, to)) => to.clone(),
            None => match &self.default {
                Some(d) => d.clone(),
                None => String::from_utf8_lossy(&raw).into_owned(),
            },
        };
        match self.case {
            Some(LabelCase::Lower) => v.make_ascii_lowercase(),
            Some(LabelCase::Upper) => v.make_ascii_uppercase(),
            None => {}
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_parsers::{Record, Value};

    fn cfg(toml: &str) -> LabelConfig {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn renames_maps_and_folds_case() {
        let mut r = Record::new();
        r.push(&b"dir"[..], Value::Str(b"i"[..].into()));
        r.push(&b"verb"[..], Value::Str(b"UPDATE"[..].into()));
        let v = View::new("ftp", &r);
        for (name, c, want) in [
            (
                "direction",
                "field = \"dir\"\nmap = { i = \"incoming\" }",
                "incoming",
            ),
            (
                "direction",
                "field = \"dir\"\nmap = { o = \"outgoing\" }",
                "i",
            ),
            (
                "direction",
                "field = \"dir\"\nmap = { o = \"x\" }\ndefault = \"other\"",
                "other",
            ),
            ("type", "field = \"verb\"\ncase = \"lower\"", "update"),
            ("subtotal", "value = \"resp_body\"", "resp_body"),
            ("dir", "case = \"upper\"", "I"),
            ("src", "field = \"source\"", "ftp"),
        ] {
            let l = Label::configured(name, &cfg(c)).unwrap();
            assert_eq!(l.value(&v), want, "{c}");
        }
    }

    #[test]
    fn refuses_contradictions() {
        let e = Label::configured("x", &cfg("field = \"a\"\nvalue = \"b\"")).unwrap_err();
        assert!(e.contains("not both"), "{e}");
        let e = Label::configured("x", &cfg("value = \"b\"\ncase = \"lower\"")).unwrap_err();
        assert!(e.contains("constant"), "{e}");
    }
}

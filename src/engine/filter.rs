//! Rule filters: `status >= 500 and method == "GET"`, `path =~ "^/api"`, `level == "error"`.
//!
//! Grammar (nom): `filter := cmp ("and" cmp)*`, `cmp := ident op literal`,
//! `op := == | != | >= | <= | > | < | =~ | !~`, `literal := number | "string" | word`.
//! `level` and `source` (or `app`) name the record's slots; other names its fields, else the
//! slot that key fills (`msg`, `message`, `target`, `module`, `logger`, `ts`, `time`, `lvl`...).

use kpid_parsers::{Record, Value};
use nom::branch::alt;
use nom::bytes::complete::{escaped_transform, is_not, tag, take_while1};
use nom::character::complete::{char, multispace0, multispace1};
use nom::combinator::{all_consuming, map, value};
use nom::multi::separated_list1;
use nom::number::complete::double;
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Ge,
    Le,
    Gt,
    Lt,
    Match,
    NoMatch,
}

#[derive(Debug, Clone)]
enum Lit {
    Num(f64),
    Text(String),
    Re(regex::bytes::Regex),
}

#[derive(Debug, Clone)]
struct Cmp {
    key: Vec<u8>,
    op: Op,
    lit: Lit,
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct Filter {
    all: Vec<Cmp>,
}

fn ident(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_alphanumeric() || "_.-@".contains(c)).parse(i)
}

fn op(i: &str) -> IResult<&str, Op> {
    alt((
        value(Op::Eq, tag("==")),
        value(Op::Ne, tag("!=")),
        value(Op::Ge, tag(">=")),
        value(Op::Le, tag("<=")),
        value(Op::Match, tag("=~")),
        value(Op::NoMatch, tag("!~")),
        value(Op::Gt, tag(">")),
        value(Op::Lt, tag("<")),
    ))
    .parse(i)
}

enum RawLit {
    Num(f64),
    Text(String),
}

fn quoted(i: &str) -> IResult<&str, String> {
    alt((
        map(tag("\"\""), |_| String::new()),
        delimited(
            char('"'),
            escaped_transform(
                is_not("\\\""),
                '\\',
                alt((value("\\", tag("\\")), value("\"", tag("\"")))),
            ),
            char('"'),
        ),
    ))
    .parse(i)
}

fn literal(i: &str) -> IResult<&str, RawLit> {
    alt((
        map(quoted, RawLit::Text),
        map(double, RawLit::Num),
        map(ident, |s: &str| RawLit::Text(s.to_owned())),
    ))
    .parse(i)
}

fn cmp(i: &str) -> IResult<&str, (&str, Op, RawLit)> {
    (
        preceded(multispace0, ident),
        preceded(multispace0, op),
        preceded(multispace0, literal),
    )
        .parse(i)
}

impl Filter {
    /// Compiles a filter; the error says what was expected where.
    pub fn parse(src: &str) -> Result<Filter, String> {
        let sep = delimited(multispace1, tag("and"), multispace1);
        let mut p = all_consuming(delimited(
            multispace0,
            separated_list1(sep, cmp),
            multispace0,
        ));
        let (_, raw) = p
            .parse(src)
            .map_err(|e| format!("invalid filter `{src}`: {e} (expected `field op value`, joined by `and`; ops: == != > >= < <= =~ !~)"))?;
        let mut all = Vec::with_capacity(raw.len());
        for (key, op, lit) in raw {
            let lit = match (op, lit) {
                (Op::Match | Op::NoMatch, RawLit::Text(t)) => Lit::Re(
                    regex::bytes::Regex::new(&t)
                        .map_err(|e| format!("invalid regex in filter `{src}`: {e}"))?,
                ),
                (Op::Match | Op::NoMatch, RawLit::Num(n)) => {
                    Lit::Re(regex::bytes::Regex::new(&n.to_string()).map_err(|e| e.to_string())?)
                }
                (_, RawLit::Num(n)) => Lit::Num(n),
                (_, RawLit::Text(t)) => Lit::Text(t),
            };
            all.push(Cmp {
                key: key.as_bytes().to_vec(),
                op,
                lit,
            });
        }
        Ok(Filter { all })
    }

    /// Field names the filter reads.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.all.iter().map(|c| c.key.as_slice())
    }

    /// True when the record passes every comparison. A missing field fails the comparison
    /// (except `!=` and `!~`, which pass).
    pub fn matches(&self, source: &str, rec: &Record<'_>) -> bool {
        self.all.iter().all(|c| c.matches(source, rec))
    }
}

/// The value a filter key reads: `level` and `source` name the slots, other keys a field, else
/// the slot a key like `msg`, `module` or `ts` fills (see [`Record::lookup`]).
fn slot<'r>(key: &[u8], source: &'r str, rec: &'r Record<'_>) -> Option<Value<'r>> {
    use std::borrow::Cow;
    match key {
        b"level" => rec
            .level
            .map(|l| Value::Str(Cow::Borrowed(l.as_str().as_bytes()))),
        b"source" | b"app" => Some(Value::Str(Cow::Borrowed(source.as_bytes()))),
        _ => rec.lookup(key),
    }
}

/// Reads a number from a value, including numeric text.
pub fn number(v: &Value<'_>) -> Option<f64> {
    match v {
        Value::Str(s) => std::str::from_utf8(s).ok()?.trim().parse().ok(),
        v => v.as_f64(),
    }
}

impl Cmp {
    fn matches(&self, source: &str, rec: &Record<'_>) -> bool {
        let Some(v) = slot(&self.key, source, rec) else {
            return matches!(self.op, Op::Ne | Op::NoMatch);
        };
        match &self.lit {
            Lit::Re(re) => {
                let hit = match &v {
                    Value::Str(s) => re.is_match(s),
                    other => re.is_match(
                        number(other)
                            .map(|n| n.to_string())
                            .unwrap_or_default()
                            .as_bytes(),
                    ),
                };
                hit == (self.op == Op::Match)
            }
            Lit::Num(n) => match number(&v) {
                Some(x) => compare(x.partial_cmp(n), self.op),
                None => self.op == Op::Ne,
            },
            Lit::Text(t) => {
                let ord = match &v {
                    Value::Str(s) => s.as_ref().cmp(t.as_bytes()),
                    Value::Bool(b) => (if *b { "true" } else { "false" })
                        .as_bytes()
                        .cmp(t.as_bytes()),
                    _ => return self.op == Op::Ne,
                };
                compare(Some(ord), self.op)
            }
        }
    }
}

fn compare(ord: Option<std::cmp::Ordering>, op: Op) -> bool {
    use std::cmp::Ordering::*;
    match (ord, op) {
        (None, Op::Ne) => true,
        (None, _) => false,
        (Some(o), Op::Eq) => o == Equal,
        (Some(o), Op::Ne) => o != Equal,
        (Some(o), Op::Ge) => o != Less,
        (Some(o), Op::Le) => o != Greater,
        (Some(o), Op::Gt) => o == Greater,
        (Some(o), Op::Lt) => o == Less,
        (Some(_), Op::Match | Op::NoMatch) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_parsers::Level;

    fn rec() -> Record<'static> {
        let mut r = Record::new();
        r.level = Some(Level::Error);
        r.push(&b"status"[..], Value::Int(503));
        r.push(&b"method"[..], Value::Str(b"GET"[..].into()));
        r.push(&b"path"[..], Value::Str(b"/api/v1/x"[..].into()));
        r
    }

    #[test]
    fn comparisons() {
        let r = rec();
        for (f, want) in [
            ("status >= 500", true),
            ("status < 500", false),
            ("method == \"GET\" and status == 503", true),
            ("method == POST", false),
            ("path =~ \"^/api\"", true),
            ("path !~ \"^/api\"", false),
            ("level == error", true),
            ("missing == 1", false),
            ("missing != 1", true),
            ("source == web", true),
        ] {
            assert_eq!(Filter::parse(f).unwrap().matches("web", &r), want, "{f}");
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let e = Filter::parse("status >>= 5").unwrap_err();
        assert!(e.contains("expected `field op value`"), "{e}");
        assert!(Filter::parse("path =~ \"(\"")
            .unwrap_err()
            .contains("invalid regex"));
    }
}

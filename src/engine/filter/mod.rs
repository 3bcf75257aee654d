//! Rule filters and value expressions: `status >= 500 and method == "GET"`,
//! `(path =~ "^/api" or path == "/") and not level == debug`, `bytes_out - bytes_body`.
//!
//! Filter grammar (recursive descent over the tokens of `lex`, at most [`MAX_DEPTH`] nested):
//!
//! ```text
//! filter := and ("or" and)*
//! and    := unary ("and" unary)*
//! unary  := "not" unary | "(" filter ")" | ident op literal
//! op     := == | != | >= | <= | > | < | =~ | !~
//! literal:= number | "string" | word
//! ```
//!
//! `level` and `source` (or `app`) name the record's slots, `_file` the path of the file a
//! line came from; other names read the captures of the rule's `match`, then the record's
//! fields, else the slot that key fills (`msg`, `message`, `target`, `module`, `ts`...).
//!
//! A missing field equals nothing: every comparison with it is false except `!=` and `!~`,
//! which are true (so `not x == 1` and `x != 1` agree). Text compared with a number is
//! missing too. Value expressions are in [`value`]; both refuse bad input with an error that
//! starts with `invalid` and names the byte, never a panic.

mod lex;
pub mod value;
mod view;

pub use value::Arith;
pub use view::{Caps, Key, View};

use kpid_parsers::{Record, Value};
use lex::Tok;

/// Deepest nesting of parentheses and `not`s a filter or expression may have.
pub const MAX_DEPTH: usize = 32;

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
    key: Key,
    op: Op,
    lit: Lit,
}

#[derive(Debug, Clone)]
enum Node {
    Or(Vec<Node>),
    And(Vec<Node>),
    Not(Box<Node>),
    Cmp(Cmp),
}

/// A compiled filter.
#[derive(Debug, Clone)]
pub struct Filter {
    root: Node,
}

/// A token stream being parsed, with the source text for errors.
struct Cursor<'s> {
    src: &'s str,
    toks: Vec<(usize, Tok)>,
    at: usize,
}

impl<'s> Cursor<'s> {
    fn new(src: &'s str) -> Result<Self, String> {
        let toks = lex::tokens(src).map_err(|e| format!("invalid expression `{src}`: {e}"))?;
        Ok(Cursor { src, toks, at: 0 })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|t| &t.1)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).map(|t| t.1.clone());
        self.at += 1;
        t
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == w)
    }

    /// An error at the current token: what was found and what was expected.
    /// Parses the whole text with `top`; `expected` says what may follow a complete one.
    fn all<T>(src: &'s str, top: Level<T>, kind: &str, expected: &str) -> Result<T, String> {
        let mut c = Cursor::new(src)?;
        let root = top(&mut c, 0)?;
        if c.peek().is_some() {
            return Err(c.error(kind, expected));
        }
        Ok(root)
    }

    fn error(&self, kind: &str, expected: &str) -> String {
        let found = match self.toks.get(self.at) {
            Some((at, t)) => format!("{} at byte {at}", t.describe()),
            None => "the end".into(),
        };
        format!(
            "invalid {kind} `{}`: expected {expected}, found {found}",
            self.src
        )
    }
}

/// What parses one level of a grammar.
type Level<T> = fn(&mut Cursor<'_>, usize) -> Result<T, String>;

fn parse_or(c: &mut Cursor<'_>, depth: usize) -> Result<Node, String> {
    joined(c, depth, "or", parse_and, Node::Or)
}

fn parse_and(c: &mut Cursor<'_>, depth: usize) -> Result<Node, String> {
    joined(c, depth, "and", parse_unary, Node::And)
}

/// `next (word next)*`: one node, or `make` of them all.
fn joined(
    c: &mut Cursor<'_>,
    depth: usize,
    word: &str,
    next: Level<Node>,
    make: fn(Vec<Node>) -> Node,
) -> Result<Node, String> {
    let mut all = vec![next(c, depth)?];
    while c.is_word(word) {
        c.next();
        all.push(next(c, depth)?);
    }
    Ok(if all.len() == 1 {
        all.pop().expect("one")
    } else {
        make(all)
    })
}

fn parse_unary(c: &mut Cursor<'_>, depth: usize) -> Result<Node, String> {
    if depth >= MAX_DEPTH {
        return Err(c.error(
            "filter",
            &format!("at most {MAX_DEPTH} nested `(` and `not`"),
        ));
    }
    if c.is_word("not") {
        c.next();
        return Ok(Node::Not(Box::new(parse_unary(c, depth + 1)?)));
    }
    if c.peek() == Some(&Tok::Open) {
        c.next();
        let inner = parse_or(c, depth + 1)?;
        if c.peek() != Some(&Tok::Close) {
            return Err(c.error("filter", "`)`"));
        }
        c.next();
        return Ok(inner);
    }
    let key = match c.peek() {
        Some(Tok::Ident(k)) if !matches!(k.as_str(), "and" | "or") => k.clone(),
        _ => return Err(c.error("filter", "a field name, `not` or `(`")),
    };
    c.next();
    let op = match c.peek() {
        Some(Tok::Cmp(op)) => match *op {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            ">" => Op::Gt,
            "<" => Op::Lt,
            "=~" => Op::Match,
            _ => Op::NoMatch,
        },
        _ => {
            return Err(c.error(
                "filter",
                "an operator (== != > >= < <= =~ !~) after the field name",
            ))
        }
    };
    c.next();
    let lit = match (op, c.peek()) {
        (Op::Match | Op::NoMatch, Some(Tok::Str(t) | Tok::Ident(t))) => {
            let re = regex::bytes::RegexBuilder::new(t)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| format!("invalid regex in filter `{}`: {e}", c.src))?;
            Lit::Re(re)
        }
        (Op::Match | Op::NoMatch, _) => return Err(c.error("filter", "a quoted regex")),
        (_, Some(Tok::Num(n))) => Lit::Num(*n),
        (_, Some(Tok::Str(t) | Tok::Ident(t))) => Lit::Text(t.clone()),
        _ => return Err(c.error("filter", "a number, a \"string\" or a word")),
    };
    c.next();
    Ok(Node::Cmp(Cmp {
        key: Key::new(key.as_bytes()),
        op,
        lit,
    }))
}

impl Filter {
    /// Compiles a filter; the error starts with `invalid` and says what was expected where.
    pub fn parse(src: &str) -> Result<Filter, String> {
        let root = Cursor::all(src, parse_or, "filter", "`and`, `or` or the end")?;
        Ok(Filter { root })
    }

    /// Field names the filter reads.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        let mut out = Vec::new();
        collect_keys(&self.root, &mut out);
        out.into_iter()
    }

    /// True when a record of `source` passes (no captures, no file).
    pub fn matches(&self, source: &str, rec: &Record<'_>) -> bool {
        self.accepts(&View::new(source, rec))
    }

    /// True when the record seen through `view` passes.
    pub fn accepts(&self, view: &View<'_, '_>) -> bool {
        eval(&self.root, view)
    }
}

fn collect_keys<'f>(n: &'f Node, out: &mut Vec<&'f [u8]>) {
    match n {
        Node::Or(all) | Node::And(all) => all.iter().for_each(|n| collect_keys(n, out)),
        Node::Not(n) => collect_keys(n, out),
        Node::Cmp(c) => out.push(c.key.name()),
    }
}

fn eval(n: &Node, v: &View<'_, '_>) -> bool {
    match n {
        Node::Or(all) => all.iter().any(|n| eval(n, v)),
        Node::And(all) => all.iter().all(|n| eval(n, v)),
        Node::Not(n) => !eval(n, v),
        Node::Cmp(c) => c.matches(v),
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
    fn matches(&self, view: &View<'_, '_>) -> bool {
        let Some(v) = view.value(&self.key) else {
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
mod tests;

//! Value expressions: what a rule adds, sets or observes, computed from fields:
//! `bytes_out - bytes_body`, `duration_us / 1000`, `(a + b) * 2`, `-delta`.
//!
//! ```text
//! sum     := product (("+" | "-") product)*
//! product := unary (("*" | "/") unary)*
//! unary   := "-" unary | number | field | "(" sum ")"
//! ```
//!
//! A field that is missing, or not a number, leaves the expression without a value, and so
//! does a division by zero or a result that is not finite: the rule then skips the record.

use super::lex::Tok;
use super::{number, Cursor, Key, Level, View, MAX_DEPTH};

#[derive(Debug, Clone)]
enum Ex {
    Num(f64),
    Field(Key),
    Neg(Box<Ex>),
    Bin(u8, Box<Ex>, Box<Ex>),
}

/// A compiled value expression.
#[derive(Debug, Clone)]
pub struct Arith {
    root: Ex,
}

fn sum(c: &mut Cursor<'_>, depth: usize) -> Result<Ex, String> {
    chain(c, depth, *b"+-", product)
}

fn product(c: &mut Cursor<'_>, depth: usize) -> Result<Ex, String> {
    chain(c, depth, *b"*/", unary)
}

/// `next (op next)*` for the two operators `ops`, left to right.
fn chain(c: &mut Cursor<'_>, depth: usize, ops: [u8; 2], next: Level<Ex>) -> Result<Ex, String> {
    let mut left = next(c, depth)?;
    while let Some(&Tok::Arith(op)) = c.peek() {
        if !ops.contains(&op) {
            break;
        }
        c.next();
        left = Ex::Bin(op, Box::new(left), Box::new(next(c, depth)?));
    }
    Ok(left)
}

fn unary(c: &mut Cursor<'_>, depth: usize) -> Result<Ex, String> {
    if depth >= MAX_DEPTH {
        return Err(c.error(
            "expression",
            &format!("at most {MAX_DEPTH} nested `(` and `-`"),
        ));
    }
    match c.peek() {
        Some(Tok::Arith(b'-')) => {
            c.next();
            Ok(Ex::Neg(Box::new(unary(c, depth + 1)?)))
        }
        Some(Tok::Num(n)) => {
            let n = *n;
            c.next();
            Ok(Ex::Num(n))
        }
        Some(Tok::Ident(f)) => {
            let f = Key::new(f.as_bytes());
            c.next();
            Ok(Ex::Field(f))
        }
        Some(Tok::Open) => {
            c.next();
            let inner = sum(c, depth + 1)?;
            if c.peek() != Some(&Tok::Close) {
                return Err(c.error("expression", "`)` or an operator (+ - * /)"));
            }
            c.next();
            Ok(inner)
        }
        _ => Err(c.error("expression", "a number, a field name, `-` or `(`")),
    }
}

impl Arith {
    /// Compiles an expression; the error starts with `invalid` and says what was expected
    /// where.
    pub fn parse(src: &str) -> Result<Arith, String> {
        let root = Cursor::all(src, sum, "expression", "an operator (+ - * /) or the end")?;
        Ok(Arith { root })
    }

    /// The expression of one field: its value.
    pub fn field(name: &str) -> Arith {
        Arith {
            root: Ex::Field(Key::new(name.as_bytes())),
        }
    }

    /// Field names the expression reads.
    pub fn keys(&self) -> Vec<&[u8]> {
        fn walk<'e>(e: &'e Ex, out: &mut Vec<&'e [u8]>) {
            match e {
                Ex::Num(_) => {}
                Ex::Field(f) => out.push(f.name()),
                Ex::Neg(e) => walk(e, out),
                Ex::Bin(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// The value for the record seen through `view`, when every field it reads is there.
    #[inline]
    pub fn eval(&self, view: &View<'_, '_>) -> Option<f64> {
        let v = eval(&self.root, view)?;
        v.is_finite().then_some(v)
    }
}

fn eval(e: &Ex, view: &View<'_, '_>) -> Option<f64> {
    Some(match e {
        Ex::Num(n) => *n,
        Ex::Field(f) => number(&view.value(f)?)?,
        Ex::Neg(e) => -eval(e, view)?,
        Ex::Bin(op, a, b) => {
            let (a, b) = (eval(a, view)?, eval(b, view)?);
            match op {
                b'+' => a + b,
                b'-' => a - b,
                b'*' => a * b,
                _ if b == 0.0 => return None,
                _ => a / b,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_parsers::{Record, Value};

    #[test]
    fn computes_over_fields() {
        let mut r = Record::new();
        r.push(&b"out"[..], Value::Int(120));
        r.push(&b"body"[..], Value::Int(100));
        r.push(&b"name"[..], Value::Str(b"x"[..].into()));
        let v = View::new("web", &r);
        for (src, want) in [
            ("out - body", Some(20.0)),
            ("out-body", None), // one field name: `out-body`
            ("(out + body) * 2 / 4", Some(110.0)),
            ("-out + 1", Some(-119.0)),
            ("2 * -(body)", Some(-200.0)),
            ("out / 0", None),
            ("missing + 1", None),
            ("name * 2", None),
            ("1e3", Some(1000.0)),
        ] {
            assert_eq!(Arith::parse(src).unwrap().eval(&v), want, "{src}");
        }
    }

    #[test]
    fn each_error_says_what_was_expected() {
        let deep = format!("{}1{}", "(".repeat(40), ")".repeat(40));
        for (src, want) in [
            (
                "",
                "expected a number, a field name, `-` or `(`, found the end",
            ),
            (
                "a +",
                "expected a number, a field name, `-` or `(`, found the end",
            ),
            (
                "(a + b",
                "expected `)` or an operator (+ - * /), found the end",
            ),
            (
                "a b",
                "expected an operator (+ - * /) or the end, found `b` at byte 2",
            ),
            (
                "a == 1",
                "expected an operator (+ - * /) or the end, found `==` at byte 2",
            ),
            ("\"x\"", "found string \"x\" at byte 0"),
            ("a % 2", "unexpected `%` at byte 2"),
            (&deep, "at most 32 nested"),
        ] {
            let e = Arith::parse(src).unwrap_err();
            assert!(e.starts_with("invalid "), "{e}");
            assert!(e.contains(want), "{src}: {e}");
        }
    }
}

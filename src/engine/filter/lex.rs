//! The tokens of filters and value expressions, with the byte offset each starts at.
//!
//! Identifiers are letters, digits and `_ . - @` (field names such as `x-request-id` or
//! `@timestamp`), so subtraction needs spaces around its `-`: `bytes_out - bytes_body`.
//! Numbers are decimal (`12`, `0.5`, `1e3`); strings are double-quoted with `\\` and `\"`
//! escapes. Anything else is an error naming the byte where it is.

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    /// `== != >= <= > < =~ !~`
    Cmp(&'static str),
    /// `+ - * /`
    Arith(u8),
    Open,
    Close,
}

impl Tok {
    /// How the token reads in an error message.
    pub(super) fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Num(n) => format!("number `{n}`"),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Cmp(c) => format!("`{c}`"),
            Tok::Arith(c) => format!("`{}`", *c as char),
            Tok::Open => "`(`".into(),
            Tok::Close => "`)`".into(),
        }
    }
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"_.-@".contains(&c) || c >= 0x80
}

/// Splits `src` into tokens, each with its byte offset.
pub(super) fn tokens(src: &str) -> Result<Vec<(usize, Tok)>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::Open
            }
            b')' => {
                i += 1;
                Tok::Close
            }
            b'=' | b'!' | b'<' | b'>' => {
                let two = b.get(i..i + 2).unwrap_or(&[]);
                let op = match two {
                    b"==" => "==",
                    b"!=" => "!=",
                    b">=" => ">=",
                    b"<=" => "<=",
                    b"=~" => "=~",
                    b"!~" => "!~",
                    _ if c == b'>' => ">",
                    _ if c == b'<' => "<",
                    _ => return Err(format!("unexpected `{}` at byte {i}", c as char)),
                };
                i += op.len();
                Tok::Cmp(op)
            }
            b'+' | b'*' | b'/' => {
                i += 1;
                Tok::Arith(c)
            }
            b'-' if !b
                .get(i + 1)
                .is_some_and(|d| d.is_ascii_digit() || *d == b'.')
                || matches!(
                    out.last(),
                    Some((_, Tok::Ident(_) | Tok::Num(_) | Tok::Close))
                ) =>
            {
                i += 1;
                Tok::Arith(b'-')
            }
            b'"' => {
                let (s, end) = string(src, i)?;
                i = end;
                Tok::Str(s)
            }
            b'0'..=b'9' | b'.' | b'-' => {
                let end = number_end(b, i);
                let text = &src[i..end];
                i = end;
                match text.parse::<f64>() {
                    Ok(n) if n.is_finite() => Tok::Num(n),
                    _ => return Err(format!("invalid number `{text}` at byte {start}")),
                }
            }
            c if ident_char(c) => {
                while i < b.len() && ident_char(b[i]) {
                    i += 1;
                }
                Tok::Ident(src[start..i].to_owned())
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(format!("unexpected `{ch}` at byte {i}"));
            }
        };
        out.push((start, tok));
    }
    Ok(out)
}

/// End of a number starting at `i`: an optional `-`, digits, a fraction, an exponent.
fn number_end(b: &[u8], mut i: usize) -> usize {
    if b[i] == b'-' {
        i += 1;
    }
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            i = j;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    // `2xx`, `10ms`: a word that starts with digits is one token, refused as a number.
    while i < b.len() && ident_char(b[i]) && b[i] != b'-' && b[i] != b'.' {
        i += 1;
    }
    i
}

/// A double-quoted string starting at `at`; returns it unescaped and the offset after it.
fn string(src: &str, at: usize) -> Result<(String, usize), String> {
    let mut out = String::new();
    let mut chars = src[at + 1..].char_indices();
    while let Some((k, ch)) = chars.next() {
        match ch {
            '"' => return Ok((out, at + 1 + k + 1)),
            '\\' => match chars.next() {
                Some((_, e @ ('\\' | '"'))) => out.push(e),
                Some((j, e)) => {
                    return Err(format!(
                        "invalid escape `\\{e}` at byte {} (only \\\\ and \\\" are escapes)",
                        at + 1 + j - 1
                    ))
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(format!("unterminated string starting at byte {at}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_words_operators_and_numbers() {
        let t: Vec<Tok> = tokens("a-b >= -1.5e2 and(x - 2)")
            .unwrap()
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(
            t,
            [
                Tok::Ident("a-b".into()),
                Tok::Cmp(">="),
                Tok::Num(-150.0),
                Tok::Ident("and".into()),
                Tok::Open,
                Tok::Ident("x".into()),
                Tok::Arith(b'-'),
                Tok::Num(2.0),
                Tok::Close,
            ]
        );
    }

    #[test]
    fn errors_name_the_byte() {
        for (src, want) in [
            ("a = 1", "unexpected `=` at byte 2"),
            ("a == \"x", "unterminated string starting at byte 5"),
            ("a == \"\\n\"", "invalid escape `\\n` at byte 6"),
            ("a == 2xx", "invalid number `2xx` at byte 5"),
            ("a == 1 ; b", "unexpected `;` at byte 7"),
        ] {
            let e = tokens(src).unwrap_err();
            assert!(e.starts_with(want), "{src}: {e}");
        }
    }
}

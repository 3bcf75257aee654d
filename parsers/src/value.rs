//! Typing of bare text values (`12`, `1.5`, `true`, `12ms`, `1h2m3s`) shared by the logfmt
//! and regex parsers.

use crate::Value;
use std::borrow::Cow;

/// Drops one trailing `\r` (CRLF line endings).
#[inline]
pub(crate) fn trim_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

/// Types bare text: an integer, a float, a boolean, a duration with units, else a string.
///
/// Integers that overflow `i64` become floats. `inf`/`nan` stay strings. Durations accept
/// Go-style sequences (`1h2m3.5s`) with the units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h` and
/// become seconds.
pub fn typed(s: &[u8]) -> Value<'_> {
    let Some(&first) = s.first() else {
        return Value::Str(Cow::Borrowed(s));
    };
    match first {
        b'0'..=b'9' | b'-' | b'+' | b'.' => {}
        b't' | b'T' if s.eq_ignore_ascii_case(b"true") => return Value::Bool(true),
        b'f' | b'F' if s.eq_ignore_ascii_case(b"false") => return Value::Bool(false),
        _ => return Value::Str(Cow::Borrowed(s)),
    }
    if let Some(i) = parse_int(s) {
        return Value::Int(i);
    }
    let n = number_len(s, true);
    if n == s.len() {
        if let Some(f) = parse_f64(s) {
            return Value::Float(f);
        }
    } else if let Some(d) = parse_duration(s) {
        return Value::Duration(d);
    }
    Value::Str(Cow::Borrowed(s))
}

/// A decimal integer with an optional sign; `None` when not one or out of `i64` range.
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// Length of the longest prefix shaped like a decimal number (`-12.5e3`), 0 if none.
pub(crate) fn number_len(s: &[u8], allow_exp: bool) -> usize {
    let mut i = 0;
    if matches!(s.first(), Some(b'-' | b'+')) {
        i += 1;
    }
    let int_start = i;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < s.len() && s[i] == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
        }
        digits += j - frac_start;
        if digits > 0 {
            i = j;
        }
    }
    if digits == 0 {
        return 0;
    }
    if allow_exp && i < s.len() && (s[i] == b'e' || s[i] == b'E') {
        let mut j = i + 1;
        if j < s.len() && (s[j] == b'-' || s[j] == b'+') {
            j += 1;
        }
        let exp_start = j;
        while j < s.len() && s[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    i
}

/// Parses ASCII number text already checked by [`number_len`].
pub(crate) fn parse_f64(s: &[u8]) -> Option<f64> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// A duration such as `12ms`, `-1.5s` or `1h2m3s`, in seconds.
pub(crate) fn parse_duration(s: &[u8]) -> Option<f64> {
    let (sign, mut rest) = match s.first()? {
        b'-' => (-1.0, &s[1..]),
        b'+' => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    let mut total = 0.0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = number_len(rest, false);
        if n == 0 || matches!(rest[0], b'-' | b'+') {
            return None;
        }
        let (num, after) = rest.split_at(n);
        let (scale, unit_len) = match after {
            [b'n', b's', ..] => (-1e9, 2),
            [b'u', b's', ..] => (-1e6, 2),
            [0xC2, 0xB5, b's', ..] | [0xCE, 0xBC, b's', ..] => (-1e6, 3), // µs, μs
            [b'm', b's', ..] => (-1e3, 2),
            [b's', ..] => (1.0, 1),
            [b'm', ..] => (60.0, 1),
            [b'h', ..] => (3600.0, 1),
            _ => return None,
        };
        let v = parse_f64(num)?;
        // Negative scale: divide (exact for `250ns`), positive: multiply.
        total += if scale < 0.0 { v / -scale } else { v * scale };
        rest = &after[unit_len..];
    }
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(v.as_bytes()))
    }

    #[test]
    fn types_numbers_bools_durations() {
        assert_eq!(typed(b"12"), Value::Int(12));
        assert_eq!(typed(b"-7"), Value::Int(-7));
        assert_eq!(typed(b"95.2"), Value::Float(95.2));
        assert_eq!(typed(b"1e3"), Value::Float(1000.0));
        assert_eq!(typed(b".5"), Value::Float(0.5));
        assert_eq!(typed(b"99999999999999999999"), Value::Float(1e20));
        assert_eq!(typed(b"true"), Value::Bool(true));
        assert_eq!(typed(b"FALSE"), Value::Bool(false));
        assert_eq!(typed(b"12ms"), Value::Duration(0.012));
        assert_eq!(typed(b"300us"), Value::Duration(0.0003));
        assert_eq!(typed("4µs".as_bytes()), Value::Duration(4e-6));
        assert_eq!(typed(b"1.5s"), Value::Duration(1.5));
        assert_eq!(typed(b"2m"), Value::Duration(120.0));
        assert_eq!(typed(b"1h2m3.5s"), Value::Duration(3723.5));
        assert_eq!(typed(b"-250ns"), Value::Duration(-250e-9));
    }

    #[test]
    fn leaves_other_text_as_strings() {
        for t in [
            "", "-", "inf", "NaN", "12abc", "1.2.3", "ms", "12 ms", "1-2", "+", ".",
        ] {
            assert_eq!(typed(t.as_bytes()), s(t), "{t:?}");
        }
        assert_eq!(typed(b"\xff\xfe"), Value::Str(Cow::Borrowed(b"\xff\xfe")));
    }

    #[test]
    fn trims_one_cr() {
        assert_eq!(trim_cr(b"a\r"), b"a");
        assert_eq!(trim_cr(b"a\r\r"), b"a\r");
        assert_eq!(trim_cr(b""), b"");
    }
}

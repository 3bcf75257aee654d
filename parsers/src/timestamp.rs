//! Timestamp grammar (nom): RFC 3339 / ISO 8601 date-times, `YYYY-MM-DD HH:MM:SS[.fff]`,
//! `YYYY/MM/DD HH:MM:SS`, Apache's `10/Oct/2000:13:55:36 -0700`, and epoch numbers.
//!
//! Results are Unix seconds. A date-time without a zone is taken as UTC.

use nom::branch::alt;
use nom::bytes::complete::{tag, take_while1, take_while_m_n};
use nom::character::complete::one_of;
use nom::combinator::{map, opt, value};
use nom::{IResult, Parser as _};

type In<'a> = &'a [u8];

fn num(n: usize) -> impl Fn(In) -> IResult<In, u32> {
    move |i| {
        map(take_while_m_n(n, n, |c: u8| c.is_ascii_digit()), |d: In| {
            d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
        })
        .parse(i)
    }
}

/// Fraction digits after `.` or `,`, as a fraction of a second.
fn fraction(i: In) -> IResult<In, f64> {
    let (i, _) = one_of(".,")(i)?;
    let (i, d) = take_while1(|c: u8| c.is_ascii_digit())(i)?;
    let mut f = 0.0;
    let mut scale = 0.1;
    for &c in d.iter().take(9) {
        f += f64::from(c - b'0') * scale;
        scale /= 10.0;
    }
    Ok((i, f))
}

/// `Z`, `+hh:mm`, `+hhmm` or `+hh`: the offset in seconds east of UTC.
fn zone(i: In) -> IResult<In, i64> {
    alt((
        value(0, one_of("Zz")),
        map(
            (one_of("+-"), num(2), opt((opt(tag(":")), num(2)))),
            |(sign, h, m)| {
                let s = i64::from(h) * 3600 + i64::from(m.map_or(0, |(_, m)| m)) * 60;
                if sign == '-' {
                    -s
                } else {
                    s
                }
            },
        ),
    ))
    .parse(i)
}

/// `hh:mm[:ss][.fff]`: seconds since midnight.
fn clock(i: In) -> IResult<In, f64> {
    let (i, (h, _, m, s, f)) = (
        num(2),
        tag(":"),
        num(2),
        opt((tag(":"), num(2))),
        opt(fraction),
    )
        .parse(i)?;
    let s = s.map_or(0, |(_, s)| s);
    if h > 24 || m > 59 || s > 60 {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok((i, f64::from(h * 3600 + m * 60 + s) + f.unwrap_or(0.0)))
}

fn verify_date(i: In, y: u32, m: u32, d: u32) -> Result<i64, nom::Err<nom::error::Error<In>>> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok(days_from_civil(i64::from(y), m, d))
}

/// ISO 8601 / RFC 3339 date-time with `-` or `/` date separators and `T` or space.
fn iso(i: In) -> IResult<In, f64> {
    let (i, (y, sep, m, _, d)) = (num(4), one_of("-/"), num(2), one_of("-/"), num(2)).parse(i)?;
    let _ = sep;
    let days = verify_date(i, y, m, d)?;
    let (i, _) = one_of("Tt ")(i)?;
    let (i, secs) = clock(i)?;
    let (i, off) = opt(zone).parse(i)?;
    Ok((i, (days * 86400 - off.unwrap_or(0)) as f64 + secs))
}

/// Apache common log format time: `10/Oct/2000:13:55:36 -0700`.
fn clf(i: In) -> IResult<In, f64> {
    let (i, (d, _, mon, _, y, _, secs)) = (
        num(2),
        tag("/"),
        take_while_m_n(3, 3, |c: u8| c.is_ascii_alphabetic()),
        tag("/"),
        num(4),
        tag(":"),
        clock,
    )
        .parse(i)?;
    let m = month(mon)
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)))?;
    let days = verify_date(i, y, m, d)?;
    let (i, off) = opt((tag(" "), zone)).parse(i)?;
    Ok((i, (days * 86400 - off.map_or(0, |(_, o)| o)) as f64 + secs))
}

fn month(m: &[u8]) -> Option<u32> {
    const NAMES: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    NAMES
        .iter()
        .position(|n| n.eq_ignore_ascii_case(m))
        .map(|p| p as u32 + 1)
}

/// Recognises a date-time at the start of `s`: `(unix seconds, bytes consumed)`.
pub(crate) fn parse_prefix(s: &[u8]) -> Option<(f64, usize)> {
    if s.len() < 14 || !s[0].is_ascii_digit() {
        return None;
    }
    match alt((iso, clf)).parse(s) {
        Ok((rest, t)) => Some((t, s.len() - rest.len())),
        Err(_) => None,
    }
}

/// Interprets a whole value as a time: a date-time string, or epoch seconds / milliseconds /
/// microseconds / nanoseconds told apart by magnitude (≥1e11 is millis, ≥1e14 micros,
/// ≥1e17 nanos).
pub(crate) fn parse_full(s: &[u8]) -> Option<f64> {
    if let Some((t, n)) = parse_prefix(s) {
        return (n == s.len()).then_some(t);
    }
    let n = crate::value::number_len(s, true);
    if n == s.len() && n > 0 {
        return crate::value::parse_f64(s).and_then(epoch);
    }
    None
}

/// Epoch number to seconds, guessing the unit from the magnitude.
pub(crate) fn epoch(v: f64) -> Option<f64> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    Some(if v >= 1e17 {
        v / 1e9
    } else if v >= 1e14 {
        v / 1e6
    } else if v >= 1e11 {
        v / 1e3
    } else {
        v
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: f64 = 1_795_428_000.0; // 2026-11-23T10:00:00Z

    fn approx(a: Option<(f64, usize)>, t: f64, n: usize) {
        let (got, len) = a.expect("a timestamp");
        assert!((got - t).abs() < 1e-6, "{got} != {t}");
        assert_eq!(len, n);
    }

    #[test]
    fn rfc3339_and_iso_forms() {
        approx(parse_prefix(b"2026-11-23T10:00:00Z rest"), T0, 20);
        approx(parse_prefix(b"2026-11-23T10:00:00.123Z"), T0 + 0.123, 24);
        approx(parse_prefix(b"2026-11-23T11:00:00+01:00"), T0, 25);
        approx(parse_prefix(b"2026-11-23T05:00:00-0500 x"), T0, 24);
        approx(parse_prefix(b"2026-11-23 10:00:00,5 INFO"), T0 + 0.5, 21);
        approx(parse_prefix(b"2026/11/23 10:00:00 msg"), T0, 19);
        approx(parse_prefix(b"2026-11-23T10:00"), T0, 16);
    }

    #[test]
    fn apache_time() {
        approx(parse_prefix(b"23/Nov/2026:11:00:00 +0100]"), T0, 26);
        assert_eq!(parse_full(b"23/Nov/2026:10:00:00 +0000"), Some(T0));
    }

    #[test]
    fn rejects_non_times() {
        assert_eq!(parse_prefix(b"2026-13-01T00:00:00Z"), None);
        assert_eq!(parse_prefix(b"2026-11-23T25:00:00Z"), None);
        assert_eq!(parse_prefix(b"12345678901234567890"), None);
        assert_eq!(parse_prefix(b"hello world, long enough"), None);
        assert_eq!(parse_full(b"2026-11-23T10:00:00Z trailing"), None);
    }

    #[test]
    fn epoch_units() {
        assert_eq!(parse_full(b"1795428000"), Some(T0));
        assert_eq!(parse_full(b"1795428000123"), Some(T0 + 0.123));
        assert_eq!(epoch(1_795_428_000_000_000.0), Some(T0));
        assert_eq!(epoch(1_795_428_000_000_000_000.0), Some(T0));
        assert_eq!(epoch(-1.0), None);
    }
}

//! Timestamp grammar (nom): RFC 3339 / ISO 8601 date-times, `YYYY-MM-DD HH:MM:SS[.fff]`,
//! `YYYY/MM/DD HH:MM:SS`, Apache's `10/Oct/2000:13:55:36 -0700`, syslog's RFC 3164
//! `Oct 11 22:14:15` (RFC 5424 lines carry RFC 3339 times), and epoch numbers.
//!
//! Results are Unix seconds. A date-time without a zone is taken as UTC here; the `*_zoned`
//! forms say whether a zone was written, so that a source's `timezone` can apply to the
//! others ([`crate::TimeSpec`]). An RFC 3164 time has no year: it is the current year, or the
//! previous one when that would put it more than a day in the future (a December line read
//! in January).

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
pub(crate) fn fraction(i: In) -> IResult<In, f64> {
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
pub(crate) fn zone(i: In) -> IResult<In, i64> {
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
pub(crate) fn clock(i: In) -> IResult<In, f64> {
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

pub(crate) fn verify_date(
    i: In,
    y: u32,
    m: u32,
    d: u32,
) -> Result<i64, nom::Err<nom::error::Error<In>>> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        )));
    }
    Ok(days_from_civil(i64::from(y), m, d))
}

/// A time (Unix seconds as if UTC, less the written offset) and whether a zone was written.
pub(crate) type Zoned = (f64, bool);

/// ISO 8601 / RFC 3339 date-time with `-` or `/` date separators and `T` or space.
pub(crate) fn iso(i: In) -> IResult<In, Zoned> {
    let (i, (y, sep, m, _, d)) = (num(4), one_of("-/"), num(2), one_of("-/"), num(2)).parse(i)?;
    let _ = sep;
    let days = verify_date(i, y, m, d)?;
    let (i, _) = one_of("Tt ")(i)?;
    let (i, secs) = clock(i)?;
    let (i, off) = opt(zone).parse(i)?;
    Ok((
        i,
        (
            (days * 86400 - off.unwrap_or(0)) as f64 + secs,
            off.is_some(),
        ),
    ))
}

/// Apache common log format time: `10/Oct/2000:13:55:36 -0700`.
pub(crate) fn clf(i: In) -> IResult<In, Zoned> {
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
    let t = (days * 86400 - off.map_or(0, |(_, o)| o)) as f64 + secs;
    Ok((i, (t, off.is_some())))
}

/// RFC 3164 (BSD syslog) time: `Oct 11 22:14:15`, the day space-padded (`Oct  1`); no year
/// and no zone (see the module docs for the year).
pub(crate) fn syslog(i: In) -> IResult<In, Zoned> {
    let (i, (mon, _, _, d, _, secs)) = (
        take_while_m_n(3, 3, |c: u8| c.is_ascii_alphabetic()),
        tag(" "),
        opt(tag(" ")),
        take_while_m_n(1, 2, |c: u8| c.is_ascii_digit()),
        tag(" "),
        clock,
    )
        .parse(i)?;
    let d = d.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    let m = month(mon)
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)))?;
    verify_date(i, 2000, m, d)?;
    Ok((i, (in_recent_year(m, d, secs), false)))
}

/// Unix seconds of month `m`, day `d` at `secs` past midnight UTC in the current year, or the
/// previous one when the current would be more than a day ahead of now.
pub(crate) fn in_recent_year(m: u32, d: u32, secs: f64) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let year = civil_year((now / 86400.0).floor() as i64);
    let at = |y: i64| (days_from_civil(y, m, d) * 86400) as f64 + secs;
    let t = at(year);
    if t > now + 86400.0 {
        at(year - 1)
    } else {
        t
    }
}

/// The year of a day counted from 1970-01-01.
fn civil_year(days: i64) -> i64 {
    civil_from_days(days).0
}

/// The proleptic Gregorian date (year, month, day) of a day counted from 1970-01-01
/// (H. Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub(crate) fn month(m: &[u8]) -> Option<u32> {
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
    parse_prefix_zoned(s).map(|((t, _), n)| (t, n))
}

/// [`parse_prefix`], saying whether a zone was written.
pub(crate) fn parse_prefix_zoned(s: &[u8]) -> Option<(Zoned, usize)> {
    if s.len() < 14 {
        return None;
    }
    // Each grammar is tried only where its separators are: most lines that start with a
    // digit (an address, a number) are turned away here.
    let r = if s[0].is_ascii_digit() && matches!(s[4], b'-' | b'/') {
        iso(s)
    } else if s[0].is_ascii_digit() && s[2] == b'/' {
        clf(s)
    } else if s[0].is_ascii_uppercase() && s[3] == b' ' {
        syslog(s)
    } else {
        return None;
    };
    match r {
        Ok((rest, t)) => Some((t, s.len() - rest.len())),
        Err(_) => None,
    }
}

/// Interprets a whole value as a time: a date-time string, or epoch seconds / milliseconds /
/// microseconds / nanoseconds told apart by magnitude (≥1e11 is millis, ≥1e14 micros,
/// ≥1e17 nanos).
pub(crate) fn parse_full(s: &[u8]) -> Option<f64> {
    parse_full_zoned(s).map(|(t, _)| t)
}

/// [`parse_full`], saying whether a zone was written (an epoch number counts as zoned).
pub(crate) fn parse_full_zoned(s: &[u8]) -> Option<Zoned> {
    if let Some((t, n)) = parse_prefix_zoned(s) {
        return (n == s.len()).then_some(t);
    }
    let n = crate::value::number_len(s, true);
    if n == s.len() && n > 0 {
        return crate::value::parse_f64(s)
            .and_then(epoch)
            .map(|t| (t, true));
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
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
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
    fn syslog_rfc3164_takes_a_recent_year() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let y = civil_year((now / 86400.0) as i64);
        let (t, n) = parse_prefix(b"Oct 11 22:14:15 host app[1]: hi").unwrap();
        assert_eq!(n, 15);
        let this = (days_from_civil(y, 10, 11) * 86400 + 80055) as f64;
        let expect = if this > now + 86400.0 {
            (days_from_civil(y - 1, 10, 11) * 86400 + 80055) as f64
        } else {
            this
        };
        assert_eq!(t, expect);
        assert!(t <= now + 86400.0, "never more than a day ahead");
        let (t1, n1) = parse_prefix(b"Jan  2 03:04:05.250 x").unwrap();
        assert_eq!(n1, 19);
        assert!(t1 <= now + 86400.0 && t1 > now - 366.0 * 86400.0);
        assert_eq!((t1 - 0.25).rem_euclid(86400.0), 11045.0);
        assert_eq!(parse_prefix(b"Foo 11 22:14:15 host"), None);
        assert_eq!(parse_prefix(b"Oct 32 22:14:15 host"), None);
        assert_eq!(
            parse_prefix_zoned(b"Oct 11 22:14:15 h").map(|z| z.0 .1),
            Some(false)
        );
        assert_eq!(civil_year(0), 1970);
        assert_eq!(civil_year(20_788), 2026);
        assert_eq!(civil_year(20_453), 2025, "2025-12-31");
    }

    #[test]
    fn zones_are_reported() {
        assert_eq!(parse_full_zoned(b"2026-11-23T10:00:00Z"), Some((T0, true)));
        assert_eq!(parse_full_zoned(b"2026-11-23 10:00:00"), Some((T0, false)));
        assert_eq!(parse_full_zoned(b"1795428000"), Some((T0, true)));
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
